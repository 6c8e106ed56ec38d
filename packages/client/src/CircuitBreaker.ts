/**
 * A per-region circuit breaker, one per layer, shared by every call through it: when a region keeps
 * failing, calls stop paying for it and start at the healthy one.
 *
 * It steers routing; it never refuses a call on its own. A region opens after `failureThreshold`
 * consecutive failures and stays open for a cool-down (30 s, doubling after each failed probe, 5 min cap).
 * When the cool-down is over, the next call that asks gets the single probe (`half-open`); the others keep
 * avoiding the region until the probe's outcome closes it (success) or reopens it (failure). If every
 * region a call may use is open, the call tries its preferred one anyway: trying beats failing unasked.
 */

import { Clock, Effect } from "effect"
import { type BreakerSettings, ConvocoreConfig } from "./ConvocoreConfig.js"
import type { Target } from "./Trail.js"

export type BreakerState =
  | { readonly _tag: "Closed"; readonly failures: number }
  | { readonly _tag: "Open"; readonly until: number; readonly cooldownMs: number }
  | { readonly _tag: "HalfOpen"; readonly cooldownMs: number }

/** What `acquire` grants: the region is usable (`closed`), this call holds its probe, or it is `open`. */
export type Admission = "closed" | "probe" | "open"

/** How an attempt went, as the breaker counts it. Rate limits and invalid bodies say nothing of health. */
export type Verdict = "success" | "failure" | "neutral"

const closed: BreakerState = { _tag: "Closed", failures: 0 }

/**
 * The state machine, synchronous: each transition is one step of JavaScript, so concurrent calls cannot
 * interleave inside it, and the hot path (a closed region) costs a map lookup. The service wraps it in
 * Effects that read the `Clock`.
 */
export const makeBreakerStates = (settings: BreakerSettings) => {
  const states = new Map<Target, BreakerState>()
  const get = (target: Target): BreakerState => states.get(target) ?? closed

  /** Asks to use a region; may hand this call the probe, which it must then `record`. */
  const acquire = (target: Target, now: number): Admission => {
    const state = get(target)
    switch (state._tag) {
      case "Closed":
        return "closed"
      case "HalfOpen":
        return "open"
      case "Open":
        if (now < state.until) return "open"
        states.set(target, { _tag: "HalfOpen", cooldownMs: state.cooldownMs })
        return "probe"
    }
  }

  /** Whether a region would admit a call now, without taking its probe. */
  const isAvailable = (target: Target, now: number): boolean => {
    const state = get(target)
    return state._tag === "Closed" || (state._tag === "Open" && now >= state.until)
  }

  /** Counts an attempt's verdict; true when this opened (or reopened) the region. */
  const record = (target: Target, verdict: Verdict, now: number): boolean => {
    const state = get(target)
    if (verdict === "success") {
      if (state !== closed) states.set(target, closed)
      return false
    }
    if (verdict === "neutral") {
      // A probe that proved nothing (interrupted, rate limited) hands the probe to the next caller.
      if (state._tag === "HalfOpen")
        states.set(target, { _tag: "Open", until: now, cooldownMs: state.cooldownMs })
      return false
    }
    switch (state._tag) {
      case "Closed": {
        const failures = state.failures + 1
        const opened = failures >= settings.failureThreshold
        states.set(
          target,
          opened
            ? { _tag: "Open", until: now + settings.cooldownMs, cooldownMs: settings.cooldownMs }
            : { _tag: "Closed", failures }
        )
        return opened
      }
      case "HalfOpen": {
        const cooldownMs = Math.min(state.cooldownMs * 2, settings.cooldownMaxMs)
        states.set(target, { _tag: "Open", until: now + cooldownMs, cooldownMs })
        return true
      }
      case "Open":
        // A call that tried an open region because nothing else was left: the region stays open.
        states.set(target, {
          _tag: "Open",
          until: Math.max(state.until, now + state.cooldownMs),
          cooldownMs: state.cooldownMs
        })
        return false
    }
  }

  return { acquire, isAvailable, record, get } as const
}

export const logOpened = (target: Target) =>
  Effect.logWarning("Convocore region circuit opened").pipe(Effect.annotateLogs({ region: target }))

export class CircuitBreaker extends Effect.Service<CircuitBreaker>()(
  "@convocore-effect/client/CircuitBreaker",
  {
    effect: Effect.gen(function* () {
      const { breaker: settings } = yield* ConvocoreConfig
      const unsafe = makeBreakerStates(settings)
      return {
        /** The synchronous state machine, for the resilient client's hot path. */
        unsafe,
        acquire: (target: Target): Effect.Effect<Admission> =>
          Effect.map(Clock.currentTimeMillis, (now) => unsafe.acquire(target, now)),
        isAvailable: (target: Target): Effect.Effect<boolean> =>
          Effect.map(Clock.currentTimeMillis, (now) => unsafe.isAvailable(target, now)),
        record: (target: Target, verdict: Verdict): Effect.Effect<void> =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            unsafe.record(target, verdict, now) ? logOpened(target) : Effect.void
          ),
        state: (target: Target): Effect.Effect<BreakerState> => Effect.sync(() => unsafe.get(target))
      } as const
    })
  }
) {}
