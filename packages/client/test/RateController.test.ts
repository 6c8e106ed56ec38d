/**
 * The rate controller in the client, under TestClock: the ceiling, permits and the deadline, the
 * upstream's rate-limit headers, and many concurrent calls against a 429-ing upstream. The algorithm's own
 * rows are in AdaptiveRate.test.ts.
 */
import { HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Clock, Effect, Either, Fiber, Stream, TestClock } from "effect"
import { Convocore, RateController } from "../src/index.js"
import { outline, runTraced } from "./services/Run.js"
import { clientLayer, errorReply, ok, ref, type Script } from "./services/ScriptedTransport.js"

/** Runs `calls` calls at once under the test clock; the trails, in call order. */
const concurrently = (calls: number, options?: Parameters<Convocore["getConversationWithTrail"]>[1]) =>
  Effect.gen(function* () {
    const convocore = yield* Convocore
    const fiber = yield* Effect.fork(
      Effect.forEach(
        Array.from({ length: calls }),
        () => Effect.zip(convocore.getConversationWithTrail(ref, options), Clock.currentTimeMillis),
        { concurrency: "unbounded" }
      )
    )
    yield* TestClock.adjust("10 minutes")
    return yield* Fiber.join(fiber)
  })

/** An upstream with a token bucket of `burst` refilled at `perSecond`, answering after `latencyMs`. */
const tokenBucket = (perSecond: number, burst: number, latencyMs: number): Script => {
  let tokens = burst
  let updatedAt = 0
  return () => (request) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      tokens = Math.min(burst, tokens + ((now - updatedAt) * perSecond) / 1000)
      updatedAt = now
      const allowed = tokens >= 1
      if (allowed) tokens -= 1
      yield* Effect.sleep(`${latencyMs} millis`)
      return HttpClientResponse.fromWeb(
        request,
        allowed ? ok() : errorReply(429, "TOO_MANY_REQUESTS", { "retry-after": "1" })
      )
    })
}

describe("RateController", () => {
  it.effect("a ceiling (maxRate) paces every call through the layer, from the first", () => {
    const { sent, layer } = clientLayer(() => ok(), { maxRate: 10 })
    return Effect.gen(function* () {
      yield* concurrently(5)
      assert.deepStrictEqual(
        sent.map((s) => s.at),
        [0, 100, 200, 300, 400]
      )
      const stats = (yield* RateController).total()
      assert.deepStrictEqual(stats, { rate: 10, sent: 5, throttled: 0, accepted: 5 })
    }).pipe(Effect.provide(layer))
  })

  it.effect("without a ceiling and before a 429, calls are never held back", () => {
    const { sent, layer } = clientLayer(() => ok())
    return Effect.gen(function* () {
      yield* concurrently(20)
      assert.isTrue(sent.every((s) => s.at === 0))
      assert.strictEqual((yield* RateController).stats("eu").rate, undefined)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a permit past the deadline is not waited for: Timeout (deadline), nothing sent", () => {
    const { sent, layer } = clientLayer(() => ok(), { maxRate: 1, deadline: "1500 millis" })
    return Effect.gen(function* () {
      const results = yield* concurrently(3)
      assert.deepStrictEqual(
        sent.map((s) => s.at),
        [0, 1000]
      )
      const [, , [third, endedAt]] = results as [unknown, unknown, (typeof results)[number]]
      const error = Either.getLeft(third.result)
      assert.isTrue(
        error._tag === "Some" && error.value._tag === "Timeout" && error.value.scope === "deadline"
      )
      assert.deepStrictEqual(third.attempts, [])
      assert.isAtMost(endedAt, 1500)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a retry whose permit would come past the deadline stops with the last error", () => {
    // 503s; one request every 2 s at most; a 3 s deadline, pinned: attempts at 0 and 2 s, then no time.
    const { sent, layer } = clientLayer(() => errorReply(503), {
      maxRate: 0.5,
      deadline: "3 seconds",
      regionPolicy: "pinned"
    })
    return Effect.gen(function* () {
      const { result, endedAt } = yield* runTraced()
      // The backoff before the permit is jittered in fractions of a millisecond; the wait rounds up.
      assert.deepStrictEqual(
        sent.map((s) => Math.floor(s.at)),
        [0, 2000]
      )
      const error = Either.getLeft(result)
      assert.isTrue(error._tag === "Some" && error.value._tag === "UpstreamServerError")
      assert.isBelow(endedAt, 3000)
    }).pipe(Effect.provide(layer))
  })

  it.effect(
    "a 429 is never an id's failure while the deadline allows a wait (attempts are not spent)",
    () => {
      const { sent, layer } = clientLayer((_, n) => (n <= 6 ? errorReply(429, "TOO_MANY_REQUESTS") : ok()), {
        regionPolicy: "pinned"
      })
      return Effect.gen(function* () {
        const { result, attempts } = yield* runTraced()
        assert.isTrue(Either.isRight(result))
        assert.strictEqual(sent.length, 7)
        assert.deepStrictEqual(outline(attempts).slice(-2), ["eu:rate-limited", "eu:ok"])
        assert.strictEqual((yield* RateController).stats("eu").throttled, 6)
      }).pipe(Effect.provide(layer))
    }
  )

  it.effect("rate-limit headers saying the quota is spent hold the next request until it resets", () => {
    const { sent, layer } = clientLayer((_, n) =>
      n === 1 ? ok({ "ratelimit-remaining": "0", "ratelimit-reset": "3" }) : ok()
    )
    return Effect.gen(function* () {
      const convocore = yield* Convocore
      const fiber = yield* Effect.fork(Effect.repeatN(convocore.getConversationWithTrail(ref), 1))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(
        sent.map((s) => s.at),
        [0, 3000]
      )
    }).pipe(Effect.provide(layer))
  })

  it.effect("many concurrent calls against a 429-ing upstream converge below its limit", () => {
    const limit = 50
    const { sent, layer } = clientLayer(tokenBucket(limit, 10, 5), { regionPolicy: "pinned" })
    const ids = Array.from({ length: 300 }, (_, i) => `id-${i}`)
    return Effect.gen(function* () {
      const convocore = yield* Convocore
      const fiber = yield* Effect.fork(
        Stream.runCollect(
          convocore.getConversations("agent123", Stream.fromIterable(ids), {
            concurrency: 16,
            order: "completion"
          })
        )
      )
      yield* TestClock.adjust("10 minutes")
      const results = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      assert.isTrue(results.every((r) => Either.isRight(r.result)))
      const stats = (yield* RateController).stats("eu")
      // With pacing turned off (every permit granted at once), 36% of the requests were 429s.
      assert.isBelow(stats.throttled / stats.sent, 0.04)
      // Converged: over the second half of the run, requests go at the limit (with the climb turned off,
      // a controller that never rises after a decrease sent 11/s), and no faster.
      const lastAt = Math.max(...sent.map((s) => s.at))
      const late = sent.filter((s) => s.at > lastAt / 2)
      const lateRate = (late.length * 1000) / (lastAt / 2)
      assert.isAtLeast(lateRate, limit * 0.85)
      assert.isAtMost(lateRate, limit * 1.1)
      assert.isAtLeast((ids.length * 1000) / lastAt, limit * 0.75)
    }).pipe(Effect.provide(layer))
  })
})
