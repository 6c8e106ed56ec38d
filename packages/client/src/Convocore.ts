/**
 * The `Convocore` service: Get Single Conversation, one id or a stream of many, over the resilient layer
 * (./ResilientHttpClient.ts), or over an in-memory map for other packages' tests (`layerMemory`).
 */
import {
  AgentId,
  type Attempt,
  type Conversation,
  ConversationId,
  type ConvocoreError,
  conversationEnvelopeDecoder,
  conversationPath,
  InvalidInput,
  NotFound,
  type Region
} from "@convocore-effect/schema"
import { Effect, Either, Layer, ParseResult, Schema, Stream } from "effect"
import { ConvocoreConfig } from "./ConvocoreConfig.js"
import {
  type CallOptions,
  type DecodeFailure,
  ResilientHttpClient,
  type Traced
} from "./ResilientHttpClient.js"

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

/** How the service gets one validated conversation; the real and in-memory layers differ only here. */
export type Fetcher = (
  agentId: AgentId,
  convoId: ConversationId,
  options: CallOptions | undefined
) => Effect.Effect<Traced<Conversation>>

const decodeAgentId = Schema.decodeUnknownEither(AgentId)
const decodeConversationId = Schema.decodeUnknownEither(ConversationId)

const firstIssue = (error: ParseResult.ParseError) => ParseResult.ArrayFormatter.formatErrorSync(error)[0]

const invalidInput = (field: string, error: ParseResult.ParseError) =>
  new InvalidInput({ field, message: firstIssue(error)?.message ?? `${field} is invalid` })

/** The success envelope, decoded; a 200 that carries no conversation is not a valid answer to this call. */
export const decodeConversationBody = (body: unknown): Either.Either<Conversation, DecodeFailure> => {
  const decoded = conversationEnvelopeDecoder.decodeUnknownEither(body)
  if (Either.isLeft(decoded)) {
    const issue = firstIssue(decoded.left)
    const path = issue === undefined ? undefined : issue.path.map(String).join(".")
    return Either.left({
      path,
      message: `The response does not match the schema${path ? ` at ${path}` : ""}: ${issue?.message ?? decoded.left.message}`
    })
  }
  const envelope = decoded.right
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
}

/** Builds the service's methods from a fetcher; ids are validated here, before any fetcher sees them. */
export const makeWith = (fetch: Fetcher, defaultConcurrency: number) => {
  // Ids are checked before any request; the call span (below) is annotated with how the call ended.
  const validateAndFetch = Effect.fnUntraced(function* (ref: ConversationRef, options?: CallOptions) {
    const refuse = (error: InvalidInput): Traced<Conversation> => ({
      result: Either.left(error),
      attempts: []
    })
    const agentId = decodeAgentId(ref.agentId)
    if (Either.isLeft(agentId)) return refuse(invalidInput("agentId", agentId.left))
    const convoId = decodeConversationId(ref.convoId)
    if (Either.isLeft(convoId)) return refuse(invalidInput("convoId", convoId.left))
    const traced = yield* fetch(agentId.right, convoId.right, options)
    const last = traced.attempts.at(-1)
    yield* Effect.annotateCurrentSpan({
      "convocore.attempts": traced.attempts.filter((a) => a.outcome !== "circuit-open").length,
      "convocore.outcome": Either.isRight(traced.result) ? "ok" : traced.result.left._tag,
      ...(last === undefined ? {} : { "convocore.region": last.region })
    })
    return traced
  })

  // A span per call, as `Effect.fn` would make, but without its two captured stack traces per call
  // (a measurable share of a call's CPU); the attempt spans below it carry the region and status.
  const getConversationWithTrail = (
    ref: ConversationRef,
    options?: CallOptions
  ): Effect.Effect<Traced<Conversation>> =>
    Effect.withSpan(validateAndFetch(ref, options), "Convocore.getConversation", { captureStackTrace: false })

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
  ): Stream.Stream<ConversationResult, E, R> =>
    Stream.mapEffect(
      convoIds,
      (convoId) =>
        Effect.map(getConversationWithTrail({ agentId, convoId }, options), (traced) => ({
          agentId,
          convoId,
          ...traced
        })),
      { concurrency: options?.concurrency ?? defaultConcurrency, unordered: options?.order === "completion" }
    )

  return { getConversation, getConversationWithTrail, getConversations } as const
}

/** Documents for `layerMemory`: agent id -> conversation id -> document. */
export type MemoryDocuments =
  | ReadonlyMap<string, ReadonlyMap<string, Conversation>>
  | { readonly [agentId: string]: { readonly [convoId: string]: Conversation } }

export class Convocore extends Effect.Service<Convocore>()("@convocore-effect/client/Convocore", {
  effect: Effect.gen(function* () {
    const resilient = yield* ResilientHttpClient
    const { concurrency } = yield* ConvocoreConfig
    return makeWith(
      (agentId, convoId, options) =>
        resilient.execute({
          path: conversationPath(agentId, convoId),
          decode: decodeConversationBody,
          agentId,
          options
        }),
      concurrency
    )
  }),
  dependencies: [ResilientHttpClient.Default]
}) {
  /**
   * The service over an in-memory map, no sockets: for other packages' tests. Ids are validated as for
   * real; a missing document is a `NotFound` (status 404, code `NOT_FOUND`) from `region`.
   */
  static readonly layerMemory = (
    documents: MemoryDocuments,
    options?: { readonly region?: Region.Region; readonly concurrency?: number }
  ): Layer.Layer<Convocore> => {
    const region = options?.region ?? "eu"
    const lookup = (agentId: string, convoId: string): Conversation | undefined =>
      isMap(documents) ? documents.get(agentId)?.get(convoId) : lookupRecord(documents, agentId, convoId)
    const fetch: Fetcher = (agentId, convoId, callOptions) =>
      Effect.sync(() => {
        const target = callOptions?.region ?? region
        const document = lookup(agentId, convoId)
        const attempt: Attempt = {
          region: target,
          attempt: 1,
          outcome: document === undefined ? "not-found" : "ok",
          status: document === undefined ? 404 : 200,
          ...(document === undefined ? { code: "NOT_FOUND" } : {}),
          ms: 0
        }
        return {
          result:
            document === undefined
              ? Either.left(
                  new NotFound({
                    region: target,
                    attempt: 1,
                    status: 404,
                    code: "NOT_FOUND",
                    message: "Conversation not found",
                    issues: []
                  })
                )
              : Either.right(document),
          attempts: [attempt]
        }
      })
    return Layer.succeed(Convocore, Convocore.make(makeWith(fetch, options?.concurrency ?? 8)))
  }
}

const isMap = (
  documents: MemoryDocuments
): documents is ReadonlyMap<string, ReadonlyMap<string, Conversation>> => documents instanceof Map

// Own keys only: an id such as `constructor` must not find something on the prototype.
const lookupRecord = (
  documents: { readonly [agentId: string]: { readonly [convoId: string]: Conversation } },
  agentId: string,
  convoId: string
): Conversation | undefined => {
  const agent = Object.hasOwn(documents, agentId) ? documents[agentId] : undefined
  return agent !== undefined && Object.hasOwn(agent, convoId) ? agent[convoId] : undefined
}
