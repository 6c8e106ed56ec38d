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
  type Received,
  ResilientHttpClient,
  type Target,
  UndiciTransport
} from "@convocore-effect/client"
import type { ConvocoreError } from "@convocore-effect/schema"
import type { HttpClient } from "@effect/platform"
import { Clock, Context, Effect, Either, FiberRef, Layer, type Redacted } from "effect"
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
      const breaker = yield* CircuitBreaker
      const metrics = yield* GatewayMetrics
      const targets: ReadonlyArray<Target> = settings.endpoints._tag === "Single" ? ["custom"] : ["eu", "na"]

      const getConversation = (
        agentId: string,
        convoId: string,
        token: Redacted.Redacted<string> | undefined
      ) =>
        Effect.gen(function* () {
          const requestId = yield* FiberRef.get(currentRequestId)
          const traced = yield* convocore.getEnvelopeWithTrail(
            { agentId, convoId },
            {
              credentials: token,
              headers: requestId === undefined ? undefined : { "x-request-id": requestId }
            }
          )
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
    return Upstream.layerFromClient.pipe(Layer.provide([convocore, breaker, config]))
  }

  /** The production stack: over undici, through the client's transport. */
  static readonly layer = (settings: ConvocoreSettings) => Upstream.layerWith(settings, UndiciTransport.layer)
}

export const breakerGauge = (health: RegionHealth): RegionGauge => ({
  target: health.target,
  state: health.breaker === "closed" ? 0 : health.breaker === "half-open" ? 1 : 2
})
