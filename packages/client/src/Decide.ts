/**
 * The outcome table (docs/design.md, "The outcome table") as one pure function: given what the call has
 * done so far and how its last attempt failed, `decide` says what to do next: attempt a region now, wait
 * and then attempt one, or stop. The driver (./ResilientHttpClient.ts) runs attempts and applies steps;
 * everything it needs from the world (the time, a random number, which regions' breakers admit calls)
 * comes in as arguments, so tests drive this function row by row.
 */
import type { RegionPolicy } from "./ConvocoreConfig.js"
import { backoffMs, type FailureKind } from "./RetryPolicy.js"
import type { AttemptOutcome, Target } from "./Trail.js"

/** What a call may do, fixed when it starts. */
export interface CallPlan {
  readonly policy: RegionPolicy
  /** The first-choice region: the only one whose 404 proves absence (besides both, under `auto`). */
  readonly preferred: Target
  /** The regions the call may use, the preferred first. */
  readonly allowed: ReadonlyArray<Target>
  readonly maxAttempts: number
  /** Clock time past which nothing is started or waited for. */
  readonly deadlineAt: number
  readonly retryAfterCapMs: number
  readonly backoffBaseMs: number
  readonly backoffMaxMs: number
}

/** What the call has done so far. */
export interface CallState {
  /** Attempts started, hedges included. */
  readonly attempts: number
  /** Regions attempted, in the order first tried. */
  readonly tried: ReadonlyArray<Target>
  /** Retryable failures in a row in `streakAt`. */
  readonly streak: number
  readonly streakAt: Target | undefined
  /** Backoff waits taken: the exponent of the next one. */
  readonly retries: number
  /** Regions that answered 404. */
  readonly notFoundIn: ReadonlyArray<Target>
  /** Whether every failed attempt so far was an invalid response. */
  readonly onlyInvalid: boolean
  /**
   * Attempts answered 429: they spend no attempt of the budget (the deadline bounds them), so a rate
   * limit is never an id's failure while the deadline allows a wait; except with a budget of one attempt,
   * which asks for no retry at all.
   */
  readonly throttled: number
}

/** How the last attempt failed, as far as steering goes. */
export interface Failure {
  readonly target: Target
  readonly outcome: AttemptOutcome
  readonly kind: FailureKind
  readonly retryAfterMs?: number | undefined
}

/** What the world looks like now. */
export interface Now {
  readonly now: number
  /** In [0, 1): the jitter of a backoff. */
  readonly random: number
  /** Whether a region's breaker would admit a call now. */
  readonly isAvailable: (target: Target) => boolean
}

/**
 * The next step:
 * - `Attempt`: wait `waitMs` (0: at once), then attempt `target`; `skipped` is a region passed over
 *   because its circuit is open (the trail shows it);
 * - `Stop`: end the call with the last attempt's error (`last`), or with every region's failure
 *   (`all-regions`: the trail is the error).
 */
export type Step = AttemptStep | { readonly _tag: "Stop"; readonly error: "last" | "all-regions" }

export interface AttemptStep {
  readonly _tag: "Attempt"
  readonly target: Target
  readonly waitMs: number
  readonly skipped?: Target
}

export interface Decision {
  readonly state: CallState
  readonly step: Step
}

export const initialState: CallState = {
  attempts: 0,
  tried: [],
  streak: 0,
  streakAt: undefined,
  retries: 0,
  notFoundIn: [],
  onlyInvalid: true,
  throttled: 0
}

/** Records that an attempt to `target` started. */
export const started = (state: CallState, target: Target): CallState => ({
  ...state,
  attempts: state.attempts + 1,
  tried: state.tried.includes(target) ? state.tried : [...state.tried, target]
})

export const alternative = (plan: CallPlan, target: Target): Target | undefined =>
  plan.allowed.find((t) => t !== target)

/** The region to use when `wanted` is asked for: one whose circuit is open is avoided if it can be. */
const route = (plan: CallPlan, wanted: Target, world: Now): { target: Target; skipped?: Target } => {
  if (world.isAvailable(wanted)) return { target: wanted }
  const instead = alternative(plan, wanted)
  return instead !== undefined && world.isAvailable(instead)
    ? { target: instead, skipped: wanted }
    : { target: wanted }
}

/** The call's first step. */
export const start = (plan: CallPlan, world: Now): AttemptStep => ({
  _tag: "Attempt",
  waitMs: 0,
  ...route(plan, plan.preferred, world)
})

const stop = (state: CallState, error: "last" | "all-regions"): Decision => ({
  state,
  step: { _tag: "Stop", error }
})

/** Out of attempts or time: one region's error speaks for itself; several regions' failures are the trail. */
export const exhausted = (state: CallState): Decision =>
  stop(state, state.onlyInvalid || state.tried.length < 2 ? "last" : "all-regions")

/** What to do after `failure`, the last attempt's (the driver has already counted it with `started`). */
export const decide = (plan: CallPlan, before: CallState, failure: Failure, world: Now): Decision => {
  const at = failure.target
  const other = alternative(plan, at)
  let state: CallState = {
    ...before,
    onlyInvalid: before.onlyInvalid && failure.outcome === "invalid-response",
    throttled: before.throttled + (failure.outcome === "rate-limited" ? 1 : 0)
  }

  if (failure.kind === "final") return stop(state, "last")
  if (failure.kind === "not-found") {
    state = {
      ...state,
      notFoundIn: state.notFoundIn.includes(at) ? state.notFoundIn : [...state.notFoundIn, at]
    }
    if (at !== plan.preferred) {
      // Data lives in one region: the region the call fell back to cannot say the first choice lacks it,
      // unless `auto` already heard the first choice's own 404.
      const bothSaid = plan.policy === "auto" && state.notFoundIn.includes(plan.preferred)
      return stop(state, bothSaid ? "last" : "all-regions")
    }
    if (
      plan.policy === "auto" &&
      other !== undefined &&
      !state.tried.includes(other) &&
      state.attempts < plan.maxAttempts
    ) {
      return {
        state: { ...state, streak: 0, streakAt: undefined },
        step: { _tag: "Attempt", target: other, waitMs: 0 }
      }
    }
    return stop(state, "last")
  }
  // A budget of one attempt asks for no retry of any kind (a proxy passing 429s on to its own callers).
  const spent = plan.maxAttempts === 1 ? state.attempts : state.attempts - state.throttled
  if (spent >= plan.maxAttempts) return exhausted(state)

  let wanted: Target = at
  let hint: number | undefined
  if (failure.kind === "retryable") {
    const streak = state.streakAt === at ? state.streak + 1 : 1
    state = { ...state, streak, streakAt: at }
    hint = failure.retryAfterMs
    if (hint !== undefined && (hint > plan.retryAfterCapMs || world.now + hint >= plan.deadlineAt)) {
      // A wait the call cannot afford: another healthy region may answer now, else stop at once.
      if (other === undefined || !world.isAvailable(other)) return stop(state, "last")
      wanted = other
      hint = undefined
    } else if (streak >= 2 && other !== undefined) {
      wanted = other
      hint = undefined
    }
  } else {
    // Nothing was sent (connect), or this region's answer was lost or unusable: the other region next.
    wanted = other ?? at
  }

  const next = route(plan, wanted, world)
  if (next.target !== at) state = { ...state, streak: 0, streakAt: undefined }
  // A region this call has not tried yet is asked at once; going back to one waits its backoff.
  let waitMs = 0
  if (state.tried.includes(next.target)) {
    waitMs = Math.max(
      backoffMs(state.retries, plan.backoffBaseMs, plan.backoffMaxMs, world.random),
      next.target === at ? (hint ?? 0) : 0
    )
    state = { ...state, retries: state.retries + 1 }
  }
  if (world.now + waitMs >= plan.deadlineAt) return exhausted(state)
  return { state, step: { _tag: "Attempt", waitMs, ...next } }
}
