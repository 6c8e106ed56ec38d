/**
 * The `Convocore` service: Get Single Conversation, one id or a stream of many, and an agent's
 * conversations listed page by page (./ConversationListing.ts), over the resilient layer
 * (./ResilientHttpClient.ts), or over an in-memory map for other packages' tests (./MemoryUpstream.ts).
 */
import {
  AgentId,
  type Conversation,
  type ConversationEnvelope,
  ConversationId,
  type ConvocoreError,
  conversationEnvelopeDecoder,
  conversationPath,
  type InvalidInput,
  listPath,
  type Region
} from "@convocore-effect/schema"
import { Effect, Either, Layer, Schema, Stream, type Tracer } from "effect"
import { type Decode, decodeFailure, invalidInput } from "./AttemptResult.js"
import { mapEffectUnordered } from "./CompletionOrder.js"
import { makeListing, type PageFetcher } from "./ConversationListing.js"
import { ConvocoreConfig } from "./ConvocoreConfig.js"
import { type MemoryDocuments, memoryFetchers } from "./MemoryUpstream.js"
import { type CallOptions, ResilientHttpClient, type Traced } from "./ResilientHttpClient.js"
import * as Spans from "./Spans.js"

export interface ConversationRef {
  readonly agentId: string
  readonly convoId: string
}

/** One id's result in a stream: never a stream failure, whatever happened to the id. */
export interface ConversationResult extends Traced<Conversation> {
  readonly agentId: string
  readonly convoId: string
}

export interface StreamOptions extends CallOptions {
  /** Requests in flight at once; defaults to the configured concurrency (8). */
  readonly concurrency?: number | undefined
  /**
   * `input` (default): results come in the order of the ids, a slow id holding back at most `concurrency`
   * finished ones; `completion`: each result as soon as it is ready.
   */
  readonly order?: "input" | "completion" | undefined
}

/**
 * How the service gets one conversation's answer, its ids already valid; the real and in-memory layers
 * differ only here.
 */
export type Fetcher = <A>(
  agentId: AgentId,
  convoId: ConversationId,
  decode: Decode<A>,
  options: CallOptions | undefined
) => Effect.Effect<Traced<A>>

const decodeAgentId = Schema.decodeUnknownEither(AgentId)
const decodeConversationId = Schema.decodeUnknownEither(ConversationId)

/** The envelope, validated by the tolerant schema; `{success, message}` with no `data` is a valid answer. */
export const decodeEnvelopeBody: Decode<ConversationEnvelope> = (body) =>
  Either.mapLeft(conversationEnvelopeDecoder.decodeUnknownEither(body), decodeFailure)

/** The conversation of a success envelope; a 200 that carries none is not a valid answer to a get. */
export const decodeConversationBody: Decode<Conversation> = (body) =>
  Either.flatMap(decodeEnvelopeBody(body), (envelope) => {
    if (envelope.success === false) {
      return Either.left({
        path: "success",
        message: `The upstream answered 200 with success false: ${envelope.message}`
      })
    }
    if (envelope.data === undefined || envelope.data === null) {
      return Either.left({ path: "data", message: "The response envelope carries no conversation (no data)" })
    }
    return Either.right(envelope.data)
  })

const refuse = (error: InvalidInput): Traced<never> => ({
  result: Either.left(error),
  attempts: [],
  response: undefined
})

/** Builds the service's methods from fetchers; ids are validated here, before any fetcher sees them. */
export const makeWith = (fetch: Fetcher, fetchPage: PageFetcher, defaultConcurrency: number) => {
  const validateAndFetch = <A>(
    ref: ConversationRef,
    decode: Decode<A>,
    options: CallOptions | undefined,
    span: Tracer.Span | undefined
  ): Effect.Effect<Traced<A>> => {
    const agentId = decodeAgentId(ref.agentId)
    if (Either.isLeft(agentId)) return Effect.succeed(refuse(invalidInput("agentId", agentId.left)))
    const convoId = decodeConversationId(ref.convoId)
    if (Either.isLeft(convoId)) return Effect.succeed(refuse(invalidInput("convoId", convoId.left)))
    const fetched = fetch(agentId.right, convoId.right, decode, options)
    return span === undefined
      ? fetched
      : Effect.tap(fetched, (traced) => {
          const last = traced.attempts.at(-1)
          span.attribute(
            "convocore.attempts",
            traced.attempts.filter((a) => a.outcome !== "circuit-open").length
          )
          span.attribute("convocore.outcome", Either.isRight(traced.result) ? "ok" : traced.result.left._tag)
          if (last !== undefined) span.attribute("convocore.region", last.region)
        })
  }

  // A span per call when a tracer listens (./Spans.ts), as `Effect.fn` would make, but without its two
  // captured stack traces per call; the attempt spans below it carry the region and status.
  const traced =
    <A>(name: string, decode: Decode<A>) =>
    (ref: ConversationRef, options?: CallOptions): Effect.Effect<Traced<A>> =>
      Spans.whenTraced(name, { captureStackTrace: false }, (span) =>
        validateAndFetch(ref, decode, options, span)
      )

  /** One conversation with its attempt trail and the answer as received. */
  const getConversationWithTrail = traced("Convocore.getConversation", decodeConversationBody)

  /**
   * The whole envelope as the upstream answered it (`data` may be absent), with its trail and bytes: for
   * proxies and tools that pass the answer on rather than read the document.
   */
  const getEnvelopeWithTrail = traced("Convocore.getConversationEnvelope", decodeEnvelopeBody)

  /** One conversation, or one error of the typed union. */
  const getConversation = (
    ref: ConversationRef,
    options?: CallOptions
  ): Effect.Effect<Conversation, ConvocoreError> =>
    Effect.flatMap(getConversationWithTrail(ref, options), (traced) => traced.result)

  /** Many conversations of one agent, `concurrency` at a time, one result per id (see `StreamOptions.order`). */
  const getConversations = <E, R>(
    agentId: string,
    convoIds: Stream.Stream<string, E, R>,
    options?: StreamOptions
  ): Stream.Stream<ConversationResult, E, R> => {
    const concurrency = options?.concurrency ?? defaultConcurrency
    const get = (convoId: string) =>
      Effect.map(getConversationWithTrail({ agentId, convoId }, options), (traced) => ({
        agentId,
        convoId,
        ...traced
      }))
    return options?.order === "completion"
      ? mapEffectUnordered(convoIds, get, concurrency)
      : Stream.mapEffect(convoIds, get, { concurrency })
  }

  return {
    getConversation,
    getConversationWithTrail,
    getEnvelopeWithTrail,
    getConversations,
    ...makeListing(fetchPage)
  } as const
}

export type { MemoryDocuments } from "./MemoryUpstream.js"

export class Convocore extends Effect.Service<Convocore>()("@convocore-effect/client/Convocore", {
  effect: Effect.gen(function* () {
    const resilient = yield* ResilientHttpClient
    const { concurrency } = yield* ConvocoreConfig
    const fetch: Fetcher = (agentId, convoId, decode, options) =>
      resilient.execute({ path: conversationPath(agentId, convoId), decode, agentId, options })
    const fetchPage: PageFetcher = (agentId, query, decode, options) =>
      resilient.execute({ path: listPath(agentId, query), decode, agentId, options })
    return makeWith(fetch, fetchPage, concurrency)
  }),
  dependencies: [ResilientHttpClient.Default]
}) {
  /**
   * The service over an in-memory map, no sockets: for other packages' tests. Ids are validated as for
   * real; a missing document is a `NotFound` (status 404, code `NOT_FOUND`) from `region`; an agent's
   * documents are listed in the map's order, in pages as the API gives them.
   */
  static readonly layerMemory = (
    documents: MemoryDocuments,
    options?: { readonly region?: Region.Region; readonly concurrency?: number }
  ): Layer.Layer<Convocore> => {
    const { fetch, fetchPage } = memoryFetchers(documents, options?.region ?? "eu")
    return Layer.succeed(Convocore, Convocore.make(makeWith(fetch, fetchPage, options?.concurrency ?? 8)))
  }
}
