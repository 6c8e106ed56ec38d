import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Stream, TestClock } from "effect"
import { mapEffectUnordered } from "../src/CompletionOrder.js"

/** Waits `ms` of test time, then answers `value`; counts what is in flight. */
const tracker = () => {
  const state = { inFlight: 0, peak: 0, started: 0, interrupted: 0, finished: 0 }
  const answerAfter = (ms: number, value: string) =>
    Effect.suspend(() => {
      state.started++
      state.inFlight++
      state.peak = Math.max(state.peak, state.inFlight)
      return Effect.sleep(`${ms} millis`).pipe(
        Effect.as(value),
        Effect.onInterrupt(() => Effect.sync(() => state.interrupted++)),
        Effect.ensuring(
          Effect.sync(() => {
            state.inFlight--
          })
        ),
        Effect.tap(() => Effect.sync(() => state.finished++))
      )
    })
  return { state, answerAfter }
}

const delays: ReadonlyArray<readonly [string, number]> = [
  ["a", 50],
  ["b", 10],
  ["c", 30],
  ["d", 5],
  ["e", 20]
]

describe("mapEffectUnordered", () => {
  it.effect("gives every result once, as each finishes, at most n in flight", () =>
    Effect.gen(function* () {
      const { state, answerAfter } = tracker()
      const fiber = yield* Effect.fork(
        Stream.runCollect(
          mapEffectUnordered(Stream.fromIterable(delays), ([id, ms]) => answerAfter(ms, id), 2)
        )
      )
      yield* TestClock.adjust("1 second")
      const results = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      // Two workers: a(0-50) and b(0-10); c(10-40) after b; d(40-45) after c; e(45-65) after d.
      assert.deepStrictEqual(results, ["b", "c", "d", "a", "e"])
      assert.strictEqual(state.peak, 2)
      assert.strictEqual(state.started, 5)
    })
  )

  it.effect("with n = 1, goes one element at a time, in input order", () =>
    Effect.gen(function* () {
      const { state, answerAfter } = tracker()
      const fiber = yield* Effect.fork(
        Stream.runCollect(
          mapEffectUnordered(Stream.fromIterable(delays), ([id, ms]) => answerAfter(ms, id), 1)
        )
      )
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Fiber.join(fiber)), ["a", "b", "c", "d", "e"])
      assert.strictEqual(state.peak, 1)
    })
  )

  it.effect("reads an input that comes in many chunks, and an empty one", () =>
    Effect.gen(function* () {
      const input = Stream.range(1, 1000).pipe(Stream.rechunk(7))
      const results = yield* Stream.runCollect(mapEffectUnordered(input, (n) => Effect.succeed(n * 2), 16))
      assert.deepStrictEqual(
        [...Chunk.toReadonlyArray(results)].sort((x, y) => x - y),
        Array.from({ length: 1000 }, (_, i) => (i + 1) * 2)
      )
      const none = yield* Stream.runCollect(
        mapEffectUnordered(Stream.empty, (n: number) => Effect.succeed(n), 4)
      )
      assert.strictEqual(Chunk.size(none), 0)
    })
  )

  it.effect("fails when the input fails, after the results that came before", () =>
    Effect.gen(function* () {
      const input = Stream.concat(Stream.make(1, 2, 3), Stream.fail("the ids file broke"))
      const seen: Array<number> = []
      const error = yield* mapEffectUnordered(input, (n) => Effect.succeed(n), 2).pipe(
        Stream.runForEach((n) => Effect.sync(() => seen.push(n))),
        Effect.flip
      )
      assert.strictEqual(error, "the ids file broke")
      assert.deepStrictEqual(seen.sort(), [1, 2, 3])
    })
  )

  it.effect("ending the stream early interrupts the work in flight and starts no more", () =>
    Effect.gen(function* () {
      const { state, answerAfter } = tracker()
      const ids = Array.from({ length: 100 }, (_, i) => i)
      const fiber = yield* Effect.fork(
        Stream.runCollect(
          mapEffectUnordered(Stream.fromIterable(ids), (i) => answerAfter(10 + i, String(i)), 4).pipe(
            Stream.take(2)
          )
        )
      )
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Fiber.join(fiber)), ["0", "1"])
      assert.strictEqual(state.inFlight, 0)
      assert.isAtMost(state.started, 6)
      assert.strictEqual(state.started, state.finished + state.interrupted)
      assert.isAtLeast(state.interrupted, 1)
    })
  )
})
