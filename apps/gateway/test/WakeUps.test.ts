import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { WakeUps } from "../src/WakeUps.js"

describe("WakeUps", () => {
  it.effect("a wake-up sent while the effect runs reaches it, and wakes every waiter on that id only", () =>
    Effect.gen(function* () {
      const wakeUps = new WakeUps()
      // Woken before it starts waiting: the signal is registered first, so nothing is lost.
      const early = yield* wakeUps.waitingOn("k", (woken) =>
        Effect.zipRight(
          Effect.sync(() => wakeUps.wake("k")),
          Effect.as(woken, "woken")
        )
      )
      assert.strictEqual(early, "woken")
      const a = yield* Effect.fork(wakeUps.waitingOn("k", (woken) => Effect.as(woken, "a")))
      const b = yield* Effect.fork(wakeUps.waitingOn("k", (woken) => Effect.as(woken, "b")))
      const other = yield* Effect.fork(wakeUps.waitingOn("other", (woken) => Effect.as(woken, "other")))
      yield* Effect.yieldNow()
      wakeUps.wake("k")
      assert.deepStrictEqual([yield* Fiber.join(a), yield* Fiber.join(b)], ["a", "b"])
      assert.isNull(other.unsafePoll())
      wakeUps.wakeAll()
      assert.strictEqual(yield* Fiber.join(other), "other")
    })
  )
})
