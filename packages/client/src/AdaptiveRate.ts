/**
 * The adaptive request rate of one upstream region, as pure functions of (state, event, now): `sendAt`
 * paces requests at the current rate, `record` moves the rate with each answer. The state is
 * plain JSON, so a gateway fleet can keep it in a shared store (issue 13). ./RateController.ts wraps it.
 *
 * The algorithm is AWS SDK v3's adaptive retry mode (CUBIC: multiplicative decrease by beta 0.7 on a 429,
 * a cubic climb back to the rate that was refused and past it), with three changes, each for a measured
 * reason (docs/design.md, "The rate controller"): the climb reaches the refused rate in `recoverMs`
 * whatever its size (AWS's fixed constant takes 4 s at 100/s and 9 s at 1,000/s); a 429 to a request sent
 * before the last decrease does not decrease again (one decrease per round, as TCP does, not 0.7^16 when 16
 * requests in flight are refused together); and a first 429 before any measure starts from a guess (what
 * was sent so far, per second) that doubles every `doublingMs` of clean answers (TCP's slow start),
 * where AWS starts from its measure of nothing and climbs from 0.5/s for seconds.
 * Pacing has no burst: one permit every 1/rate s, since an upstream's burst is not ours to spend twice.
 */

export const beta = 0.7
export const recoverMs = 2000
export const doublingMs = 500
/** The slowest rate a 429 can bring: a request every two seconds still learns when the limit lifts. */
export const minRate = 0.5
const bucketMs = 500
const smoothing = 0.8

export interface RateState {
  /** Requests per second; undefined: unthrottled (no 429 yet). The ceiling applies on top (`effective`). */
  readonly rate: number | undefined
  readonly lastSentAt: number | undefined
  /** The rate the upstream last refused (CUBIC's W_max), and when. */
  readonly refusedRate: number
  readonly decreasedAt: number
  /** The rate is a guess, not a measure: it doubles while answers are clean. */
  readonly probing: boolean
  /** Accepted answers per second, smoothed over half-second buckets (undefined before the first bucket). */
  readonly measured: number | undefined
  readonly bucketAt: number | undefined
  readonly bucketCount: number
  /** `sent` when the bucket began. */
  readonly bucketSentFrom: number
  /** The upstream said its quota is spent (`ratelimit-remaining: 0`) until this time. */
  readonly pausedUntil: number
  readonly sent: number
  readonly throttled: number
  readonly accepted: number
}

export const initial: RateState = {
  rate: undefined,
  lastSentAt: undefined,
  refusedRate: 0,
  decreasedAt: 0,
  probing: false,
  measured: undefined,
  bucketAt: undefined,
  bucketCount: 0,
  bucketSentFrom: 0,
  pausedUntil: 0,
  sent: 0,
  throttled: 0,
  accepted: 0
}

/** The rate permits are paced at: the adaptive rate under the ceiling. */
export const effective = (state: RateState, maxRate: number | undefined): number =>
  Math.min(state.rate ?? Number.POSITIVE_INFINITY, maxRate ?? Number.POSITIVE_INFINITY)

/**
 * When the next request may go: one interval after the last one at the current rate, not before `now`,
 * nor while the upstream's quota is spent. The controller lets one waiting request at a time ask (the
 * others queue behind it), and asks again after the wait, so a rate that changed meanwhile applies.
 */
export const sendAt = (state: RateState, maxRate: number | undefined, now: number): number => {
  const rate = effective(state, maxRate)
  const paced =
    rate === Number.POSITIVE_INFINITY || state.lastSentAt === undefined ? now : state.lastSentAt + 1000 / rate
  return Math.max(now, state.pausedUntil, paced)
}

type Changes = { -readonly [K in keyof RateState]?: RateState[K] }

/**
 * `state` with `changes` applied, built field by field. Every call makes two of these; a spread of a
 * state (`{ ...state, sent }`) took about 30 times as long on Node 20, whose V8 misses its fast path for
 * these objects (bench/README.md, client throughput).
 */
const update = (state: RateState, changes: Changes): RateState => ({
  rate: "rate" in changes ? changes.rate : state.rate,
  lastSentAt: "lastSentAt" in changes ? changes.lastSentAt : state.lastSentAt,
  refusedRate: changes.refusedRate ?? state.refusedRate,
  decreasedAt: changes.decreasedAt ?? state.decreasedAt,
  probing: changes.probing ?? state.probing,
  measured: "measured" in changes ? changes.measured : state.measured,
  bucketAt: "bucketAt" in changes ? changes.bucketAt : state.bucketAt,
  bucketCount: changes.bucketCount ?? state.bucketCount,
  bucketSentFrom: changes.bucketSentFrom ?? state.bucketSentFrom,
  pausedUntil: changes.pausedUntil ?? state.pausedUntil,
  sent: changes.sent ?? state.sent,
  throttled: changes.throttled ?? state.throttled,
  accepted: changes.accepted ?? state.accepted
})

/** Counts a request sent at `now`. */
export const sent = (state: RateState, now: number): RateState =>
  update(state, { lastSentAt: now, sent: state.sent + 1 })

/** What an answer says about the rate. */
export interface Answer {
  /** A 429 (or a `TOO_MANY_REQUESTS` code). */
  readonly throttled: boolean
  /** When the request was sent: a 429 to a request sent before the last decrease was already acted on. */
  readonly sentAt: number
  /** Rate-limit headers saying the quota is spent until this time (`RetryPolicy.quotaResetAt`). */
  readonly spentUntil?: number | undefined
}

/** The accepted-answers bucket's changes after one more answer: counted, or closed and measured when it is over. */
const measure = (state: RateState, throttled: boolean, now: number): Changes => {
  const count = state.bucketCount + (throttled ? 0 : 1)
  const { bucketAt, measured } = state
  if (bucketAt === undefined) return { bucketAt: now, bucketCount: count }
  if (now - bucketAt < bucketMs) return { bucketCount: count }
  const next: Changes = { bucketAt: now, bucketCount: throttled ? 0 : 1, bucketSentFrom: state.sent }
  // A bucket that spans a pause measures the pause, not the upstream: start over, keep the measure.
  if (now - bucketAt >= 2 * bucketMs) return next
  const sample = (state.bucketCount * 1000) / (now - bucketAt)
  next.measured = measured === undefined ? sample : smoothing * sample + (1 - smoothing) * measured
  return next
}

/** The rate `ms` after a decrease: slow start while probing, else the cubic climb through `refusedRate`. */
export const climb = (state: RateState, ms: number): number => {
  const start = state.refusedRate * beta
  if (state.probing) return start * 2 ** (ms / doublingMs)
  const scale = (state.refusedRate * (1 - beta)) / recoverMs ** 3
  return state.refusedRate + scale * (ms - recoverMs) ** 3
}

/** Moves the rate with one answer received at `now`. */
export const record = (before: RateState, answer: Answer, now: number): RateState => {
  // An accepted answer's state is built in one object (a refusal's in two): this runs once per call.
  const changes: Changes = measure(before, answer.throttled, now)
  if (answer.spentUntil !== undefined && answer.spentUntil > now)
    changes.pausedUntil = Math.max(before.pausedUntil, answer.spentUntil)
  if (!answer.throttled) {
    changes.accepted = before.accepted + 1
    if (before.rate === undefined) return update(before, changes)
    // Never more than twice what the upstream was seen to accept: an idle client must not bank a rate
    // it never tried, then spend it all at once. Slow start doubles faster than a smoothed measure
    // follows, and is already a probe: it runs uncapped, as the unthrottled start does.
    const measured = "measured" in changes ? changes.measured : before.measured
    const cap = measured === undefined || before.probing ? Number.POSITIVE_INFINITY : 2 * measured
    changes.rate = Math.max(minRate, Math.min(climb(before, now - before.decreasedAt), cap))
    return update(before, changes)
  }
  changes.throttled = before.throttled + 1
  const state = update(before, changes)
  if (state.rate !== undefined && answer.sentAt < state.decreasedAt) return state
  // What the upstream was seen to accept is the best estimate of its limit. Before a first measure, the
  // requests sent in this (first) bucket, as a per-second guess to probe up from: answers arrive in any
  // order, so the accepted ones may not be counted yet.
  // In slow start the smoothed measure trails a rate that doubles, and the rate was clean one doubling
  // ago: the refused rate is at least half the current one (TCP's slow start threshold).
  const seen =
    state.measured === undefined
      ? Math.max(minRate, state.sent - state.bucketSentFrom)
      : state.probing && state.rate !== undefined
        ? Math.max(state.measured, state.rate / 2)
        : state.measured
  const refusedRate = Math.min(state.rate ?? Number.POSITIVE_INFINITY, seen)
  return update(state, {
    refusedRate,
    rate: Math.max(minRate, refusedRate * beta),
    decreasedAt: now,
    probing: state.measured === undefined
  })
}
