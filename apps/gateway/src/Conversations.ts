/**
 * The conversation route: its read (key, TTL, upstream call) served by ./CachedReads.ts, and the purge of
 * its cached copy. Written with `handleRaw`, since the body is bytes from the wire (not a re-encoding) and
 * the headers say how the answer was made (./Answers.ts). The list route (./ListPages.ts) is served by the
 * same `makeCachedReads`, with its own key, TTL and upstream call.
 */
import { HttpApiBuilder, HttpServerRequest } from "@effect/platform"
import { Effect } from "effect"
import { type CachedRead, makeCachedReads } from "./CachedReads.js"
import { Caller, type CallerInfo, GatewayApi } from "./GatewayApi.js"
import { cacheKey, ResponseCache } from "./ResponseCache.js"
import { Upstream } from "./Upstream.js"

/** The conversation route's read for a caller: what the `HttpApi` route and ./FastPath.ts serve. */
export const conversationRead = (
  cache: ResponseCache["Type"],
  upstream: Upstream["Type"],
  caller: CallerInfo,
  path: { readonly agentId: string; readonly convoId: string },
  cacheControl: string | undefined
): CachedRead => ({
  key: cacheKey(caller.tenant, path.agentId, path.convoId),
  ttlMs: cache.ttlMs,
  stores: true,
  call: upstream.getConversation(path.agentId, path.convoId, caller.upstreamToken),
  cacheControl
})

export const ConversationsLive = HttpApiBuilder.group(GatewayApi, "conversations", (handlers) =>
  Effect.gen(function* () {
    const cache = yield* ResponseCache
    const reads = yield* makeCachedReads
    const upstream = yield* Upstream

    const served = handlers.handleRaw("getConversation", ({ path }) =>
      Effect.flatMap(Caller, (caller) =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          reads.serve(conversationRead(cache, upstream, caller, path, request.headers["cache-control"]))
        )
      )
    )
    return served.handle("purgeConversation", ({ path }) =>
      Effect.flatMap(Caller, (caller) =>
        Effect.map(cache.purge(cacheKey(caller.tenant, path.agentId, path.convoId)), (purged) => ({ purged }))
      )
    )
  })
)
