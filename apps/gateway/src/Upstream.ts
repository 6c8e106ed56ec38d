/**
 * Convocore behind the gateway: the client's resilient layer (retry, EU/NA failover, circuit breaker,
 * deadline) over undici, with two additions the gateway needs and the client does not offer per call:
 *
 * - the caller's bearer token (forward mode): the transport below the client replaces the client's
 *   configured key with the token of the call in progress, read from a fiber-local `CallContext`;
 * - the exact bytes: the transport keeps each response's body as received, so the gateway answers the
 *   document (and upstream error bodies) byte for byte, not a re-encoding of the decoded value.
 *
 * The client still validates every 200 (a schema mismatch is an `InvalidResponse`, never cached).
 */
import {
  CircuitBreaker,
  ConvocoreConfig,
  type ConvocoreSettings,
  ResilientHttpClient,
  UndiciTransport
} from "@convocore-effect/client"
import {
  AgentId,
  type Attempt,
  ConversationId,
  type ConvocoreError,
  conversationEnvelopeDecoder,
  conversationPath,
  InvalidInput,
  type Target
} from "@convocore-effect/schema"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Clock, Context, Effect, Either, FiberRef, Layer, ParseResult, type Redacted, Schema } from "effect"
import { GatewayMetrics, type RegionGauge } from "./GatewayMetrics.js"
import { currentRequestId } from "./Lifecycle.js"

/** One upstream response as it came off the wire. */
export interface Captured {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
}

interface CallContext {
  /** Forward mode: the caller's token, sent instead of the configured key. */
  readonly token: Redacted.Redacted<string> | undefined
  /** The gateway's request id, passed on so that upstream logs can be joined with the gateway's. */
  readonly requestId: string | undefined
  readonly responses: Array<Captured>
}

const callContext = FiberRef.unsafeMake<CallContext | undefined>(undefined)

/**
 * Wraps a transport: sets the call's token and keeps each response's bytes. Responses (ours and the
 * platform's) memoize their body, so the client's own read gets the same buffer, read once. A body that cannot be
 * read fails the attempt as a receive error, which is what the client would have seen reading it itself.
 */
export const capturingTransport = (transport: HttpClient.HttpClient): HttpClient.HttpClient =>
  transport.pipe(
    HttpClient.mapRequestEffect((request) =>
      Effect.map(FiberRef.get(callContext), (context) => {
        if (context === undefined) return request
        const withId =
          context.requestId === undefined
            ? request
            : HttpClientRequest.setHeader(request, "x-request-id", context.requestId)
        return context.token === undefined ? withId : HttpClientRequest.bearerToken(withId, context.token)
      })
    ),
    HttpClient.transformResponse((effect) =>
      Effect.flatMap(effect, (response) =>
        Effect.flatMap(FiberRef.get(callContext), (context) =>
          context === undefined
            ? Effect.succeed(response)
            : Effect.as(
                Effect.map(response.arrayBuffer, (buffer) => {
                  context.responses.push({
                    status: response.status,
                    headers: response.headers,
                    body: new Uint8Array(buffer)
                  })
                }),
                response
              )
        )
      )
    )
  )

export type UpstreamResult =
  | {
      readonly _tag: "Document"
      readonly body: Uint8Array
      readonly contentType: string
      readonly region: Target
      readonly upstreamRequestId: string | undefined
      readonly attempts: ReadonlyArray<Attempt>
    }
  | {
      readonly _tag: "Failure"
      readonly error: ConvocoreError
      /** The upstream's own error response, when the failure is one it answered (401, 403, 404, 400...). */
      readonly response: Captured | undefined
      readonly attempts: ReadonlyArray<Attempt>
    }

export type BreakerView = "closed" | "half-open" | "open"

export interface RegionHealth {
  readonly target: Target
  readonly breaker: BreakerView
  /** While open: how long until the breaker lets a probe through (0: the next call is the probe). */
  readonly retryInMs: number | undefined
}

/**
 * Whether calls can be served: some region's breaker is closed, or open with its cool-down over (the next
 * call probes it). Counting the second case keeps a gateway whose readiness takes it out of a load
 * balancer from staying out forever: without traffic there would be no probe to close a breaker.
 */
export const isReady = (regions: ReadonlyArray<RegionHealth>): boolean =>
  regions.some(
    (region) => region.breaker === "closed" || (region.breaker === "open" && region.retryInMs === 0)
  )

const decodeAgentId = Schema.decodeUnknownEither(AgentId)
const decodeConversationId = Schema.decodeUnknownEither(ConversationId)

const firstIssueMessage = (error: ParseResult.ParseError) =>
  ParseResult.ArrayFormatter.formatErrorSync(error)[0]?.message ?? error.message

/** The envelope, validated by the tolerant schema; `{success, message}` with no `data` is a valid answer. */
const validateEnvelope = (body: unknown) =>
  Either.mapLeft(conversationEnvelopeDecoder.decodeUnknownEither(body), (error) => {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
    const path = issue === undefined || issue.path.length === 0 ? undefined : issue.path.map(String).join(".")
    return {
      path,
      message: `The response does not match the schema${path === undefined ? "" : ` at ${path}`}: ${issue?.message ?? error.message}`
    }
  })

const requestIdOf = (headers: Readonly<Record<string, string>>) =>
  headers["x-request-id"] ?? headers["request-id"]

export class Upstream extends Context.Tag("@convocore-effect/gateway/Upstream")<
  Upstream,
  {
    /** One conversation; `token` (forward mode) replaces the configured key for this call. */
    readonly getConversation: (
      agentId: string,
      convoId: string,
      token: Redacted.Redacted<string> | undefined
    ) => Effect.Effect<UpstreamResult>
    /** The regions calls may use and the state of their breakers. */
    readonly health: Effect.Effect<ReadonlyArray<RegionHealth>>
  }
>() {
  /** Over a given transport; the client's configuration must be provided. */
  static readonly layerWithoutTransport = Layer.effect(
    Upstream,
    Effect.gen(function* () {
      const settings = yield* ConvocoreConfig
      const resilient = yield* ResilientHttpClient
      const breaker = yield* CircuitBreaker
      const metrics = yield* GatewayMetrics
      const targets: ReadonlyArray<Target> = settings.endpoints._tag === "Single" ? ["custom"] : ["eu", "na"]

      const getConversation = (
        agentId: string,
        convoId: string,
        token: Redacted.Redacted<string> | undefined
      ) =>
        Effect.gen(function* () {
          const invalid = (field: string, error: ParseResult.ParseError): UpstreamResult => ({
            _tag: "Failure",
            error: new InvalidInput({ field, message: firstIssueMessage(error) }),
            response: undefined,
            attempts: []
          })
          const agent = decodeAgentId(agentId)
          if (Either.isLeft(agent)) return invalid("agentId", agent.left)
          const convo = decodeConversationId(convoId)
          if (Either.isLeft(convo)) return invalid("convoId", convo.left)
          const context: CallContext = {
            token,
            requestId: yield* FiberRef.get(currentRequestId),
            responses: []
          }
          const traced = yield* resilient
            .execute({
              path: conversationPath(agent.right, convo.right),
              decode: validateEnvelope,
              agentId
            })
            .pipe(Effect.locally(callContext, context))
          for (const attempt of traced.attempts) {
            if (attempt.outcome !== "circuit-open") metrics.attempt(attempt.region, attempt.outcome)
          }
          if (Either.isRight(traced.result)) {
            const ok = [...traced.attempts].reverse().find((attempt) => attempt.outcome === "ok")
            const response = [...context.responses].reverse().find((r) => r.status >= 200 && r.status < 300)
            if (response === undefined) {
              return yield* Effect.dieMessage("The upstream answered 200 but the transport kept no body")
            }
            return {
              _tag: "Document",
              body: response.body,
              contentType: response.headers["content-type"] ?? "application/json",
              region: ok?.region ?? "custom",
              upstreamRequestId: requestIdOf(response.headers),
              attempts: traced.attempts
            } satisfies UpstreamResult
          }
          const error = traced.result.left
          const status = "status" in error ? error.status : undefined
          const response =
            status === undefined
              ? undefined
              : [...context.responses].reverse().find((r) => r.status === status)
          return { _tag: "Failure", error, response, attempts: traced.attempts } satisfies UpstreamResult
        })

      const health = Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.forEach(targets, (target) =>
          Effect.map(breaker.state(target), (state): RegionHealth => {
            switch (state._tag) {
              case "Closed":
                return { target, breaker: "closed", retryInMs: undefined }
              case "HalfOpen":
                return { target, breaker: "half-open", retryInMs: undefined }
              case "Open":
                return { target, breaker: "open", retryInMs: Math.max(0, state.until - now) }
            }
          })
        )
      )

      return { getConversation, health }
    })
  )

  /**
   * The stack over a given transport (a test double, say): the capturing transport over it, the client's
   * resilient layer and its circuit breaker, configured by `settings`.
   */
  static readonly layerWith = <E>(
    settings: ConvocoreSettings,
    transport: Layer.Layer<HttpClient.HttpClient, E>
  ) => {
    const config = Layer.succeed(ConvocoreConfig, settings)
    const capturing = Layer.effect(
      HttpClient.HttpClient,
      Effect.map(HttpClient.HttpClient, capturingTransport)
    ).pipe(Layer.provide(transport))
    const breaker = CircuitBreaker.Default.pipe(Layer.provide(config))
    const resilient = ResilientHttpClient.DefaultWithoutDependencies.pipe(
      Layer.provide([breaker, capturing, config])
    )
    return Upstream.layerWithoutTransport.pipe(Layer.provide([resilient, breaker, config]))
  }

  /** The production stack: over undici, through the client's lean transport. */
  static readonly layer = (settings: ConvocoreSettings) => Upstream.layerWith(settings, UndiciTransport.layer)
}

export const breakerGauge = (health: RegionHealth): RegionGauge => ({
  target: health.target,
  state: health.breaker === "closed" ? 0 : health.breaker === "half-open" ? 1 : 2
})
