import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Option, TestClock } from "effect"
import * as AttemptTimer from "../src/AttemptTimer.js"

describe("AttemptTimer", () => {
  it.scoped("each limit strikes at its own time, an earlier one included; finished work is returned", () =>
    Effect.gen(function* () {
      const timer = yield* AttemptTimer.make
      let interrupted = 0
      const hang = Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted++)))
      const timed = (ms: number) =>
        Effect.fork(Effect.zip(timer.timeoutOption(hang, ms), Clock.currentTimeMillis))
      const slow = yield* timed(10_000)
      yield* TestClock.adjust("1 second")
      // Registered while the timer fiber waits for 10 s: it must wake earlier for this one.
      const fast = yield* timed(1_000)
      const done = yield* Effect.fork(timer.timeoutOption(Effect.as(Effect.sleep("500 millis"), "ok"), 5_000))
      yield* TestClock.adjust("20 seconds")
      assert.deepStrictEqual(yield* Fiber.join(fast), [Option.none(), 2_000])
      assert.deepStrictEqual(yield* Fiber.join(slow), [Option.none(), 10_000])
      assert.deepStrictEqual(yield* Fiber.join(done), Option.some("ok"))
      assert.strictEqual(interrupted, 2)
    })
  )

  it.scoped("interrupting the caller interrupts the timed work", () =>
    Effect.gen(function* () {
      const timer = yield* AttemptTimer.make
      let interrupted = false
      const fiber = yield* Effect.fork(
        timer.timeoutOption(
          Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => (interrupted = true)))),
          10_000
        )
      )
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      assert.isTrue(interrupted)
    })
  )
})
