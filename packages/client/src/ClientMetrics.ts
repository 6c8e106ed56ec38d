/**
 * The client's metrics, as Effect `Metric`s: what a counter tells better than a span (attempts by region
 * and outcome, 429s, each region's breaker state, attempt durations). They are recorded only when the
 * application turns them on (`ClientMetrics.layer`, or `Telemetry.layer`, which does it for you): an
 * application that exports nothing pays one fiber-ref read per attempt and allocates nothing.
 */
import { FiberRef, Layer, Metric, MetricBoundaries, MetricLabel } from "effect"
import { globalValue } from "effect/GlobalValue"
import type { BreakerState } from "./CircuitBreaker.js"
import type { AttemptOutcome, Target } from "./Trail.js"

/** Whether the client records its metrics in the fibers that see this value. */
export const enabled: FiberRef.FiberRef<boolean> = globalValue(
  "@convocore-effect/client/ClientMetrics/enabled",
  () => FiberRef.unsafeMake(false)
)

/** Turns the client's metrics on for whatever this layer is provided to. */
export const layer: Layer.Layer<never> = Layer.locallyScoped(enabled, true)

export const attempts = Metric.counter("convocore.client.attempts", {
  description: "Attempts by region and outcome (ok, not-found, connect-failed, server-error, timeout, ...)",
  incremental: true
})

export const rateLimited = Metric.counter("convocore.client.rate_limited", {
  description: "Attempts answered 429 (or a rate-limit code), by region",
  incremental: true
})

export const attemptDuration = Metric.histogram(
  "convocore.client.attempt.duration",
  MetricBoundaries.exponential({ start: 5, factor: 2, count: 13 }),
  "Time of one attempt in milliseconds, by region"
)

export const breakerState = Metric.gauge("convocore.client.breaker.state", {
  description: "Circuit breaker state per region: 0 closed, 1 half-open (probing), 2 open"
})

export const requestRate = Metric.gauge("convocore.client.rate", {
  description: "The rate controller's current rate per region, requests per second (absent while unthrottled)"
})

/** Records a region's current rate; the caller checks `enabled` first. */
export const recordRate = (target: Target, rate: number | undefined): void => {
  if (rate !== undefined) requestRate.unsafeUpdate(rate, [MetricLabel.make("region", target)])
}

export const breakerValue = (state: BreakerState): number =>
  state._tag === "Closed" ? 0 : state._tag === "HalfOpen" ? 1 : 2

/** Records one settled attempt; the caller checks `enabled` first. */
export const recordAttempt = (
  target: Target,
  outcome: AttemptOutcome,
  ms: number,
  breaker: BreakerState
): void => {
  const region = MetricLabel.make("region", target)
  attempts.unsafeUpdate(1, [region, MetricLabel.make("outcome", outcome)])
  if (outcome === "rate-limited") rateLimited.unsafeUpdate(1, [region])
  attemptDuration.unsafeUpdate(ms, [region])
  breakerState.unsafeUpdate(breakerValue(breaker), [region])
}
