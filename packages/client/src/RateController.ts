/**
 * The adaptive rate controller: one per layer, shared by every call through it (list pages and gets
 * alike), with a rate per region, since each region limits on its own. Before each attempt a call takes a
 * permit; each answer moves the rate (./AdaptiveRate.ts, the algorithm and why it was chosen).
 *
 * Unthrottled until the first 429 unless `maxRate` (`CONVOCORE_MAX_RATE`) sets a ceiling. While a region is
 * paced, waiting requests queue in order and one at a time waits for its send time, on Effect's `Clock`
 * (so `TestClock` drives it). A permit never waits past the call's deadline: the call is told at once and
 * stops as out of time. `Retry-After` is not the controller's: the outcome table waits it (or a backoff)
 * for the request that got the 429, which then goes without a second wait; the others are paced.
 */
import { Clock, Duration, Effect, Option } from "effect"
import * as AdaptiveRate from "./AdaptiveRate.js"
import { ConvocoreConfig } from "./ConvocoreConfig.js"
import * as Spans from "./Spans.js"
import type { Target } from "./Trail.js"

/** What a region's controller has done: for a run's summary, and for a gateway to share. */
export interface RateStats {
  /** The rate requests are paced at, per second; undefined: unthrottled. */
  readonly rate: number | undefined
  readonly sent: number
  /** Answers that were 429s (or said `TOO_MANY_REQUESTS`). */
  readonly throttled: number
  /** Answers that were not. */
  readonly accepted: number
}

/** A region's stats from its state under the ceiling. */
export const statsOf = (state: AdaptiveRate.RateState, maxRate: number | undefined): RateStats => {
  const rate = AdaptiveRate.effective(state, maxRate)
  return {
    rate: rate === Number.POSITIVE_INFINITY ? undefined : rate,
    sent: state.sent,
    throttled: state.throttled,
    accepted: state.accepted
  }
}

/** Every region's sums; `rate` is the slowest paced region's. */
export const totalOf = (all: ReadonlyArray<RateStats>): RateStats => {
  const rates = all.flatMap((s) => (s.rate === undefined ? [] : [s.rate]))
  return {
    rate: rates.length === 0 ? undefined : Math.min(...rates),
    sent: all.reduce((sum, s) => sum + s.sent, 0),
    throttled: all.reduce((sum, s) => sum + s.throttled, 0),
    accepted: all.reduce((sum, s) => sum + s.accepted, 0)
  }
}

/** The controller over plain state, synchronous except for the waits; the service wraps it. */
export const makeController = (maxRate: number | undefined) => {
  const states = new Map<Target, AdaptiveRate.RateState>()
  const queues = new Map<Target, { readonly lock: Effect.Semaphore; waiting: number }>()
  const get = (target: Target) => states.get(target) ?? AdaptiveRate.initial
  const queueOf = (target: Target) => {
    let queue = queues.get(target)
    if (queue === undefined) {
      queue = { lock: Effect.unsafeMakeSemaphore(1), waiting: 0 }
      queues.set(target, queue)
    }
    return queue
  }

  /** The head of the queue: waits for its send time, asking again after each wait (the rate may move). */
  const paced = (target: Target, deadlineAt: number): Effect.Effect<boolean> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const at = AdaptiveRate.sendAt(get(target), maxRate, now)
      if (at >= deadlineAt) return Effect.succeed(false)
      if (at <= now) {
        states.set(target, AdaptiveRate.sent(get(target), now))
        return Effect.succeed(true)
      }
      // Clocks read whole milliseconds: a wait of a fraction would wake to the same reading, forever.
      return Effect.zipRight(Effect.sleep(Duration.millis(Math.ceil(at - now))), paced(target, deadlineAt))
    })

  /**
   * Waits for a permit to send to `target`: true when the request may go now, false (at once, or when
   * the deadline comes while queued) when its send time would be at or past `deadlineAt`. A request
   * that is the retry of a 429 from `target` (`retryOf429`) has waited what the outcome table asks
   * (its backoff, or the upstream's `Retry-After`) and goes at once: it is counted, never made to wait twice.
   */
  const permit = (target: Target, deadlineAt: number, retryOf429 = false): Effect.Effect<boolean> =>
    Effect.clockWith((clock) => {
      const now = clock.unsafeCurrentTimeMillis()
      const queue = queueOf(target)
      const state = get(target)
      // The unthrottled path, every call's until the first 429: no queue, no fiber, no timer.
      if (retryOf429 || (queue.waiting === 0 && AdaptiveRate.sendAt(state, maxRate, now) <= now)) {
        states.set(target, AdaptiveRate.sent(state, now))
        return Effect.succeed(true)
      }
      if (now >= deadlineAt) return Effect.succeed(false)
      queue.waiting++
      const queued = queue.lock
        .withPermits(1)(paced(target, deadlineAt))
        .pipe(
          Effect.timeoutTo({
            duration: Duration.millis(deadlineAt - now),
            onTimeout: () => false,
            onSuccess: (admitted) => admitted
          }),
          Effect.ensuring(Effect.sync(() => queue.waiting--))
        )
      // A wait the rate imposes is a span of its own when a tracer listens.
      return Spans.whenTraced(
        "Convocore.rateWait",
        { attributes: { "convocore.region": target }, captureStackTrace: false },
        (span) =>
          span === undefined
            ? queued
            : Effect.tap(queued, (admitted) => {
                span.attribute("convocore.rate", statsOf(get(target), maxRate).rate ?? "unthrottled")
                span.attribute("convocore.admitted", admitted)
              })
      )
    })

  const record = (target: Target, answer: AdaptiveRate.Answer, now: number): void => {
    states.set(target, AdaptiveRate.record(get(target), answer, now))
  }

  const stats = (target: Target): RateStats => statsOf(get(target), maxRate)
  const total = (): RateStats => totalOf([...states.values()].map((state) => statsOf(state, maxRate)))
  /** A region's whole state, plain JSON: for a fleet to share (issue 13). */
  const snapshot = (target: Target): Option.Option<AdaptiveRate.RateState> =>
    Option.fromNullable(states.get(target))

  return { permit, record, stats, total, snapshot } as const
}

export class RateController extends Effect.Service<RateController>()(
  "@convocore-effect/client/RateController",
  {
    effect: Effect.map(ConvocoreConfig, ({ maxRate }) => makeController(maxRate))
  }
) {}
