/**
 * The list route, `GET /v3/agents/{agentId}/convos`: one cursor page of an agent's conversations, served
 * as the conversation route serves a conversation (./CachedReads.ts: cache layers, coalescing,
 * Cache-Status, caller directives, stale-if-error, errors passed through) but kept only for
 * `GATEWAY_LIST_CACHE_TTL`, since a list changes with every new conversation.
 *
 * A page is cached per tenant, agent and canonical query: the parameters the API takes (`cursor`, `limit`,
 * `page`) are read as the API reads them (limit clamped to 1..20, default 20; page 1 the default) and
 * written in one order, so `?limit=5&cursor=c` and `?cursor=c&limit=5&page=1` are one entry. Any other
 * parameter is refused with 400 rather than keyed or dropped: keyed, callers could fill the cache with
 * copies of one page; dropped, the gateway would silently answer another question.
 */
import { invalidInput } from "@convocore-effect/client"
import {
  AgentId,
  clampListLimit,
  InvalidInput,
  ListCursor,
  type ListLimit,
  type ListQuery,
  listPath,
  maxListLimit
} from "@convocore-effect/schema"
import { HttpApiBuilder, HttpServerRequest } from "@effect/platform"
import { Effect, Either, Schema } from "effect"
import { failureResponse } from "./Answers.js"
import { makeCachedReads } from "./CachedReads.js"
import { Caller, GatewayApi } from "./GatewayApi.js"
import { GatewayConfig } from "./GatewayConfig.js"
import { listCacheKey } from "./ResponseCache.js"
import { Upstream } from "./Upstream.js"

const decodeAgent = Schema.decodeUnknownEither(AgentId)
const decodeCursor = Schema.decodeUnknownEither(ListCursor)

const refused = (field: string, message: string) => Either.left(new InvalidInput({ field, message }))

/** The page a query asks for, in the form the client sends it (`listPath`), or the parameter refused. */
export const listQueryOf = (search: string): Either.Either<ListQuery, InvalidInput> => {
  let cursor: ListCursor | undefined
  let limit: ListLimit | undefined
  const seen = new Set<string>()
  for (const [name, value] of new URLSearchParams(search)) {
    if (seen.has(name)) return refused(name, `${name} is given more than once`)
    seen.add(name)
    switch (name) {
      case "cursor": {
        const decoded = decodeCursor(value)
        if (Either.isLeft(decoded)) return Either.left(invalidInput("cursor", decoded.left))
        cursor = decoded.right
        break
      }
      case "limit": {
        const requested = value.trim() === "" ? Number.NaN : Number(value)
        if (!Number.isFinite(requested)) return refused("limit", "limit must be a number (1 to 20 rows)")
        limit = clampListLimit(requested)
        break
      }
      case "page":
        // The API's default; later pages are asked for by cursor (it refuses `page` > 1 without one).
        if (Number(value) !== 1) return refused("page", "page can only be 1: ask for later pages by cursor")
        break
      default:
        return refused(
          "query",
          `${name.length > 40 ? `${name.slice(0, 40)}...` : name} is not a parameter of this route (cursor, limit, page)`
        )
    }
  }
  return Either.right({ cursor, limit: limit ?? clampListLimit(maxListLimit) })
}

export const ListPagesLive = HttpApiBuilder.group(GatewayApi, "listing", (handlers) =>
  Effect.gen(function* () {
    const { cache: settings } = yield* GatewayConfig
    const reads = yield* makeCachedReads
    const upstream = yield* Upstream

    return handlers.handleRaw("listConversations", ({ path }) =>
      Effect.gen(function* () {
        const caller = yield* Caller
        const request = yield* HttpServerRequest.HttpServerRequest
        const queryAt = request.url.indexOf("?")
        const agent = decodeAgent(path.agentId)
        const query = Either.flatMap(
          Either.mapLeft(agent, (error) => invalidInput("agentId", error)),
          (agentId) =>
            Either.map(listQueryOf(queryAt === -1 ? "" : request.url.slice(queryAt)), (query) => ({
              agentId,
              query
            }))
        )
        if (Either.isLeft(query)) return failureResponse(query.left, undefined, {})
        const { agentId, query: page } = query.right
        return yield* reads.serve({
          key: listCacheKey(caller.tenant, listPath(agentId, page)),
          ttlMs: settings.listTtlMs,
          stores: settings.listTtlMs > 0,
          call: upstream.listPage(agentId, page, caller.upstreamToken),
          cacheControl: request.headers["cache-control"]
        })
      })
    )
  })
)
