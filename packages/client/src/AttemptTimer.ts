/**
 * Per-attempt timeouts, cheaply. `Effect.timeout` forks two fibers per use (the effect and a sleep) and
 * arms a timer; at thousands of calls a second that is a large share of the client's cost. Here one timer
 * fiber per layer sleeps until the earliest pending expiry, and an attempt costs one fork and a map entry.
 * Expiries are rarely earlier than the one being waited for (every attempt has the same timeout), so the
 * timer fiber seldom wakes. All time is the `Clock` service's: `TestClock` drives it in tests.
 */
import { Deferred, Effect, Exit, Fiber, Option } from "effect"

interface Entry {
  readonly at: number
  readonly fiber: Fiber.RuntimeFiber<unknown, unknown>
  timedOut: boolean
}

export interface AttemptTimer {
  /** Runs `self` with a limit of `ms`: `None` when the limit struck first (and `self` was interrupted). */
  readonly timeoutOption: <A>(self: Effect.Effect<A>, ms: number) => Effect.Effect<Option.Option<A>>
}

/** Starts the timer fiber in the current scope. */
export const make = Effect.gen(function* () {
  const clock = yield* Effect.clock
  const entries = new Map<number, Entry>()
  let nextId = 0
  let wakeAt = Number.POSITIVE_INFINITY
  let reschedule = yield* Deferred.make<void>()

  const loop = Effect.gen(function* () {
    const self = yield* Effect.fiberId
    while (true) {
      const now = clock.unsafeCurrentTimeMillis()
      let earliest = Number.POSITIVE_INFINITY
      for (const [id, entry] of entries) {
        if (entry.at <= now) {
          entry.timedOut = true
          entries.delete(id)
          entry.fiber.unsafeInterruptAsFork(self)
        } else if (entry.at < earliest) {
          earliest = entry.at
        }
      }
      wakeAt = earliest
      const signal = reschedule
      yield* earliest === Number.POSITIVE_INFINITY
        ? Deferred.await(signal)
        : Effect.raceFirst(Effect.sleep(earliest - now), Deferred.await(signal))
      // A signal once completed stays completed: the next round needs a fresh one.
      if (signal === reschedule && (yield* Deferred.isDone(signal))) reschedule = yield* Deferred.make<void>()
    }
  })
  yield* Effect.forkScoped(Effect.interruptible(loop))

  const timeoutOption = <A>(self: Effect.Effect<A>, ms: number): Effect.Effect<Option.Option<A>> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.fork(restore(self)), (fiber) => {
        const id = nextId++
        const entry: Entry = { at: clock.unsafeCurrentTimeMillis() + ms, fiber, timedOut: false }
        entries.set(id, entry)
        if (entry.at < wakeAt) {
          wakeAt = entry.at
          Deferred.unsafeDone(reschedule, Exit.void)
        }
        return restore(Fiber.await(fiber)).pipe(
          Effect.onInterrupt(() => {
            entries.delete(id)
            return Fiber.interrupt(fiber)
          }),
          Effect.flatMap((exit): Effect.Effect<Option.Option<A>> => {
            entries.delete(id)
            if (entry.timedOut && Exit.isInterrupted(exit)) return Effect.succeed(Option.none())
            return Effect.map(exit, Option.some)
          })
        )
      })
    )

  return { timeoutOption } satisfies AttemptTimer
})
