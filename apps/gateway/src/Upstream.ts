/**
 * Convocore behind the gateway: the client's `Convocore` service (retry, EU/NA failover, circuit
 * breaker, deadline) over undici. Each call carries the caller's token (forward mode) and the gateway's
 * request id, and the client hands back the answer as received, so the gateway answers with the
 * upstream's exact bytes. Ids are validated once, by the client.
 */
import {
  type Attempt,
  CircuitBreaker,
  Convocore,
  ConvocoreConfig,
  type ConvocoreSettings,
  decodePage,
  type Received,
  ResilientHttpClient,
  type Target,
  type Traced,
  UndiciTransport
} from "@convocore-effect/client"
import {
  type AgentId,
  type ConvocoreError,
  type ListQuery,
  listPath,
  TransportError
} from "@convocore-effect/schema"
import { HttpClient, HttpClientRequest, type HttpMethod } from "@effect/platform"
import { Clock, Context, Effect, Either, FiberRef, Layer, type Redacted, type Stream } from "effect"
import { GatewayMetrics, type RegionGauge } from "./GatewayMetrics.js"
import { currentRequestId } from "./Lifecycle.js"

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
      /** The upstream's own answer, when the failure is one it gave (401, 403, 404, 400...). */
      readonly response: Received | undefined
      readonly attempts: ReadonlyArray<Attempt>
    }

/** A request for any other route of the API, passed on as it came. */
export interface Forwarded {
  readonly method: HttpMethod.HttpMethod
  /** The path below `/v3` with its query string, as the caller sent them. */
  readonly pathAndQuery: string
  /** The caller's headers that describe its body (`content-type`, `content-length`). */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Stream.Stream<Uint8Array, unknown> | undefined
  /** Forward mode: the caller's token; own-key mode: undefined (the gateway's key goes). */
  readonly token: Redacted.Redacted<string> | undefined
}

/** The upstream's answer to a forwarded request, or why none came. */
export type ForwardResult =
  | {
      readonly _tag: "Answer"
      readonly status: number
      readonly headers: Readonly<Record<string, string>>
      readonly body: Uint8Array | Stream.Stream<Uint8Array, unknown>
      readonly region: Target
    }
  | { readonly _tag: "Failure"; readonly error: ConvocoreError }

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
    /** One page of an agent's conversation list, validated as the client's listing validates it. */
    readonly listPage: (
      agentId: AgentId,
      query: ListQuery,
      token: Redacted.Redacted<string> | undefined
    ) => Effect.Effect<UpstreamResult>
    /**
     * Any other route, passed on: a GET through the client's resilient call (retry, failover), any other
     * method once, to the configured region, its body streamed both ways.
     */
    readonly forward: (request: Forwarded) => Effect.Effect<ForwardResult>
    /** The regions calls may use and the state of their breakers. */
    readonly health: Effect.Effect<ReadonlyArray<RegionHealth>>
  }
>() {
  /** Over the client's services, which must be provided. */
  static readonly layerFromClient = Layer.effect(
    Upstream,
    Effect.gen(function* () {
      const settings = yield* ConvocoreConfig
      const convocore = yield* Convocore
      const resilient = yield* ResilientHttpClient
      const transport = yield* HttpClient.HttpClient
      const breaker = yield* CircuitBreaker
      const metrics = yield* GatewayMetrics
      const targets: ReadonlyArray<Target> = settings.endpoints._tag === "Single" ? ["custom"] : ["eu", "na"]

      /** A validated call's outcome as the cache keeps it: the upstream's exact bytes, or the failure. */
      const resultOf = (traced: Traced<unknown>) =>
        Effect.gen(function* () {
          for (const attempt of traced.attempts) {
            if (attempt.outcome !== "circuit-open") metrics.attempt(attempt.region, attempt.outcome)
          }
          const response = traced.response
          if (Either.isRight(traced.result) && response !== undefined) {
            return {
              _tag: "Document",
              body: response.body,
              contentType: response.headers["content-type"] ?? "application/json",
              region: response.region,
              upstreamRequestId: requestIdOf(response.headers),
              attempts: traced.attempts
            } satisfies UpstreamResult
          }
          if (Either.isRight(traced.result)) {
            return yield* Effect.dieMessage("The client answered a success without the response it read")
          }
          return {
            _tag: "Failure",
            error: traced.result.left,
            response,
            attempts: traced.attempts
          } satisfies UpstreamResult
        })

      const callOptions = (token: Redacted.Redacted<string> | undefined) =>
        Effect.map(FiberRef.get(currentRequestId), (requestId) => ({
          credentials: token,
          headers: requestId === undefined ? undefined : { "x-request-id": requestId }
        }))

      const getConversation = (
        agentId: string,
        convoId: string,
        token: Redacted.Redacted<string> | undefined
      ) =>
        Effect.flatMap(callOptions(token), (options) =>
          Effect.flatMap(convocore.getEnvelopeWithTrail({ agentId, convoId }, options), resultOf)
        )

      // Checked with the client listing's own page decoder, so a page the listing would refuse is refused here.
      const listPage = (agentId: AgentId, query: ListQuery, token: Redacted.Redacted<string> | undefined) =>
        Effect.flatMap(callOptions(token), (options) =>
          Effect.flatMap(
            resilient.execute({
              path: listPath(agentId, query),
              decode: decodePage(query.cursor),
              agentId,
              options
            }),
            resultOf
          )
        )

      const requestIdHeader = Effect.map(FiberRef.get(currentRequestId), (requestId) =>
        requestId === undefined ? {} : { "x-request-id": requestId }
      )
      /** The region a call that must not be repeated goes to: the configured one (or the one base URL). */
      const writeTarget: Target = settings.endpoints._tag === "Single" ? "custom" : settings.region
      const writeBase =
        settings.endpoints._tag === "Single"
          ? settings.endpoints.url
          : settings.endpoints.urls[settings.region]

      const forwardRead = (request: Forwarded) =>
        Effect.gen(function* () {
          const traced = yield* resilient.execute({
            path: request.pathAndQuery,
            // Any JSON answer is passed on as it came; the caller reads it.
            decode: Either.right,
            options: { credentials: request.token, headers: yield* requestIdHeader }
          })
          const response = traced.response
          if (response !== undefined)
            return {
              _tag: "Answer",
              status: response.status,
              headers: response.headers,
              body: response.body,
              region: response.region
            } satisfies ForwardResult
          if (Either.isRight(traced.result))
            return yield* Effect.dieMessage("The client answered a success without the response it read")
          return { _tag: "Failure", error: traced.result.left } satisfies ForwardResult
        })

      const forwardWrite = (request: Forwarded) =>
        Effect.gen(function* () {
          const token = request.token ?? settings.apiKey
          let outgoing = HttpClientRequest.make(request.method)(`${writeBase}${request.pathAndQuery}`).pipe(
            HttpClientRequest.setHeaders({ ...(yield* requestIdHeader), accept: "application/json" }),
            (r) => (token === undefined ? r : HttpClientRequest.bearerToken(r, token))
          )
          if (request.body !== undefined) {
            const length = request.headers["content-length"]
            outgoing = HttpClientRequest.bodyStream(outgoing, request.body, {
              ...(request.headers["content-type"] === undefined
                ? {}
                : { contentType: request.headers["content-type"] }),
              ...(length !== undefined && /^\d+$/.test(length) ? { contentLength: Number(length) } : {})
            })
          }
          return yield* transport.execute(outgoing).pipe(
            Effect.map(
              (response): ForwardResult => ({
                _tag: "Answer",
                status: response.status,
                headers: response.headers,
                body: response.stream,
                region: writeTarget
              })
            ),
            Effect.catchAll((error) =>
              Effect.succeed<ForwardResult>({
                _tag: "Failure",
                error: new TransportError({
                  region: writeTarget,
                  attempt: 1,
                  phase: error._tag === "RequestError" ? "send" : "receive",
                  message: `${request.method} to ${writeTarget} failed: ${error.message}`
                })
              })
            )
          )
        })

      const forward = (request: Forwarded) =>
        request.method === "GET" || request.method === "HEAD" ? forwardRead(request) : forwardWrite(request)

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

      return { getConversation, listPage, forward, health }
    })
  )

  /** The stack over a given transport (a test double, say), configured by `settings`. */
  static readonly layerWith = <E>(
    settings: ConvocoreSettings,
    transport: Layer.Layer<HttpClient.HttpClient, E>
  ) => {
    const config = Layer.succeed(ConvocoreConfig, settings)
    const breaker = CircuitBreaker.Default.pipe(Layer.provide(config))
    const resilient = ResilientHttpClient.DefaultWithoutDependencies.pipe(
      Layer.provide([breaker, transport, config])
    )
    const convocore = Convocore.DefaultWithoutDependencies.pipe(Layer.provide([resilient, config]))
    return Upstream.layerFromClient.pipe(Layer.provide([convocore, resilient, breaker, config, transport]))
  }

  /** The production stack: over undici, through the client's transport. */
  static readonly layer = (settings: ConvocoreSettings) => Upstream.layerWith(settings, UndiciTransport.layer)
}

export const breakerGauge = (health: RegionHealth): RegionGauge => ({
  target: health.target,
  state: health.breaker === "closed" ? 0 : health.breaker === "half-open" ? 1 : 2
})
