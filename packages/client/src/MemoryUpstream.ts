/**
 * The upstream over an in-memory map, no sockets: the fetchers behind `Convocore.layerMemory`, for other
 * packages' tests. Answers are built as the API words them and read through the caller's decoder, so a
 * test sees what the real layers would give: documents by id, an agent's documents as list pages.
 */
import {
  BadRequest,
  type Conversation,
  type ConvocoreError,
  InvalidResponse,
  NotFound,
  type Region
} from "@convocore-effect/schema"
import { Effect, Either } from "effect"
import type { Decode, Received } from "./AttemptResult.js"
import type { PageFetcher } from "./ConversationListing.js"
import type { Fetcher } from "./Convocore.js"
import type { Attempt } from "./Trail.js"

/** Documents for `layerMemory`: agent id -> conversation id -> document. */
export type MemoryDocuments =
  | ReadonlyMap<string, ReadonlyMap<string, Conversation>>
  | { readonly [agentId: string]: { readonly [convoId: string]: Conversation } }

const isMap = (
  documents: MemoryDocuments
): documents is ReadonlyMap<string, ReadonlyMap<string, Conversation>> => documents instanceof Map

// Own keys only: an id such as `constructor` must not find something on the prototype.
const agentDocuments = (
  documents: MemoryDocuments,
  agentId: string
): ReadonlyMap<string, Conversation> | undefined => {
  if (isMap(documents)) return documents.get(agentId)
  const agent = Object.hasOwn(documents, agentId) ? documents[agentId] : undefined
  return agent === undefined ? undefined : new Map(Object.entries(agent))
}

const encoder = new TextEncoder()

/** One answer, as one attempt: a 200's body through `decode`, an error status as its error. */
const answer = <A>(
  region: Region.Region,
  status: number,
  body: Record<string, unknown>,
  decode: Decode<A>
) => {
  const response: Received = {
    region,
    status,
    headers: { "content-type": "application/json" },
    body: encoder.encode(JSON.stringify(body))
  }
  const code = typeof body.code === "string" ? body.code : undefined
  const fields = {
    region,
    attempt: 1,
    status,
    message: String(body.message),
    issues: [],
    ...(code === undefined ? {} : { code })
  }
  const result: Either.Either<A, ConvocoreError> =
    status === 404
      ? Either.left(new NotFound(fields))
      : status === 400
        ? Either.left(new BadRequest(fields))
        : Either.mapLeft(
            decode(body),
            (failure) =>
              new InvalidResponse({
                region,
                attempt: 1,
                status,
                reason: "schema",
                message: failure.message,
                ...(failure.path === undefined ? {} : { path: failure.path })
              })
          )
  const outcome = status === 404 ? "not-found" : status === 400 ? "bad-request" : "ok"
  const attempt: Attempt = {
    region,
    attempt: 1,
    outcome,
    status,
    ...(code === undefined ? {} : { code }),
    ms: 0
  }
  return { result, attempts: [attempt], response }
}

const notFound = (message: string) => ({ message, code: "NOT_FOUND" })

export const memoryFetchers = (documents: MemoryDocuments, defaultRegion: Region.Region) => {
  const fetch: Fetcher = (agentId, convoId, decode, options) =>
    Effect.sync(() => {
      const document = agentDocuments(documents, agentId)?.get(convoId)
      const region = options?.region ?? defaultRegion
      return document === undefined
        ? answer(region, 404, notFound("Conversation not found"), decode)
        : answer(region, 200, { success: true, message: "Conversation retrieved", data: document }, decode)
    })

  /** Pages of an agent's documents in the map's order; a cursor is the offset of its page's first row. */
  const fetchPage: PageFetcher = (agentId, query, decode, options) =>
    Effect.sync(() => {
      const region = options?.region ?? defaultRegion
      const agent = agentDocuments(documents, agentId)
      if (agent === undefined) return answer(region, 404, notFound("Agent not found"), decode)
      const rows = [...agent.values()]
      const from = query.cursor === undefined ? 0 : Number(query.cursor.replace(/^offset:/, ""))
      if (!Number.isInteger(from) || from < 0 || from >= Math.max(rows.length, 1)) {
        return answer(region, 400, { message: "Invalid cursor", code: "BAD_REQUEST" }, decode)
      }
      const limit = query.limit ?? 20
      const hasMore = from + limit < rows.length
      const page = {
        success: true,
        message: "Conversations retrieved successfully",
        data: rows.slice(from, from + limit),
        hasMore,
        nextCursor: hasMore ? `offset:${from + limit}` : null,
        limit,
        cached: false
      }
      return answer(region, 200, page, decode)
    })

  return { fetch, fetchPage } as const
}
