import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { type AttemptLimit, offer, offeredIn } from "../src/AttemptLimit.js"

/** What a transport running in the current fiber would be offered. */
const seen = Effect.withFiberRuntime<AttemptLimit | undefined>((fiber) => Effect.succeed(offeredIn(fiber)))

const limitOf = (ms: number): AttemptLimit => ({ ms, readsWholeBody: true, honoured: false })

describe("AttemptLimit", () => {
  it.effect("offers the limit to the fiber running the attempt, and only while it runs", () =>
    Effect.gen(function* () {
      const first = limitOf(100)
      const second = limitOf(200)
      assert.isUndefined(yield* seen)
      assert.strictEqual(yield* offer(first, seen), first)
      assert.isUndefined(yield* seen, "nothing is offered once the attempt is over")
      // The fiber's second attempt reuses its slot and sees its own limit.
      assert.strictEqual(yield* offer(second, seen), second)
      assert.isUndefined(yield* seen)
    })
  )

  it.effect("a fiber forked during an attempt is offered nothing: the limit is the attempt's alone", () =>
    Effect.gen(function* () {
      const limit = limitOf(100)
      const inChild = yield* offer(limit, Effect.flatMap(Effect.fork(seen), Fiber.join))
      assert.isUndefined(inChild)
    })
  )

  it.effect("a fiber that inherited a slot makes its own; the parent's limit stays the parent's", () =>
    Effect.gen(function* () {
      // The parent has made an attempt, so its slot is among the FiberRefs its children inherit.
      yield* offer(limitOf(100), Effect.void)
      const childLimit = limitOf(300)
      const parentLimit = limitOf(400)
      const childStarted = yield* Deferred.make<void>()
      const parentSet = yield* Deferred.make<void>()
      const child = yield* Effect.fork(
        Effect.gen(function* () {
          yield* Deferred.succeed(childStarted, undefined)
          yield* Deferred.await(parentSet)
          // The parent's attempt is running now: the child, in an attempt of its own, sees its own limit.
          const own = yield* offer(childLimit, seen)
          const outside = yield* seen
          return { own, outside }
        })
      )
      yield* Deferred.await(childStarted)
      const inParent = yield* offer(
        parentLimit,
        Effect.zipRight(
          Deferred.succeed(parentSet, undefined),
          Effect.flatMap(Fiber.join(child), (fromChild) => Effect.map(seen, (own) => ({ own, fromChild })))
        )
      )
      assert.strictEqual(inParent.fromChild.own, childLimit)
      assert.isUndefined(inParent.fromChild.outside)
      assert.strictEqual(inParent.own, parentLimit, "joining the child kept the parent's slot")
    })
  )

  it.effect("an interrupted attempt calls its hook and offers nothing afterwards", () =>
    Effect.gen(function* () {
      let interrupted = 0
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        Effect.zipRight(
          offer(
            limitOf(100),
            Effect.zipRight(Deferred.succeed(started, undefined), Effect.never),
            () => interrupted++
          ),
          seen
        )
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(interrupted, 1)
      // A failure that is not an interruption does not call the hook.
      const failed = yield* Effect.either(offer(limitOf(100), Effect.fail("boom"), () => interrupted++))
      assert.deepStrictEqual(failed._tag, "Left")
      assert.strictEqual(interrupted, 1)
      assert.isUndefined(yield* seen)
    })
  )
})
