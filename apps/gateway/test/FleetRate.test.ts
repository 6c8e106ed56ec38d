/**
 * The fleet's upstream budget under TestClock: replicas are controllers sharing one in-memory store (the
 * Redis store's semantics, ./RedisRateStore.test.ts checks them against a real Redis).
 */
import { AdaptiveRate, type Target } from "@convocore-effect/client"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Logger, TestClock } from "effect"
import * as FleetRate from "../src/FleetRate.js"
import { type FleetRateStore, lateMs, memory, schedule } from "../src/FleetRateStore.js"
import { RedisUnavailable } from "../src/RedisConnection.js"

/** A store that fails every command while `down` is set, as Redis does when it is gone. */
const failing = (store: FleetRateStore) => {
  const switchable = { down: false, connecting: false }
  const guard = <A>(effect: Effect.Effect<A, RedisUnavailable>) =>
    Effect.suspend(() =>
      switchable.down ? Effect.fail(new RedisUnavailable({ reason: "not connected" })) : effect
    )
  const wrapped: FleetRateStore = {
    reserve: (key, options) => guard(store.reserve(key, options)),
    update: (key, expected, next) => guard(store.update(key, expected, next)),
    heartbeat: (replica) => guard(store.heartbeat(replica)),
    leave: (replica) => guard(store.leave(replica)),
    connecting: () => switchable.connecting
  }
  return { store: wrapped, switchable }
}

const replica = (store: FleetRateStore | undefined, ceiling: number | undefined, name: string) =>
  FleetRate.make({ store, ceiling, keyOf: (target) => `rate:${target}`, replica: name })

/** Lets forked work (answers being shared) run to its end. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

/**
 * Takes `count` permits through the given replicas in turn, all at once, each with a deadline `deadlineMs`
 * from now, and lets `runMs` pass; when each was granted (-1: refused).
 */
const permitsAt = (
  replicas: ReadonlyArray<FleetRate.Controller>,
  count: number,
  { deadlineMs = 60_000, runMs = 60_000, target = "eu" as Target } = {}
) =>
  Effect.gen(function* () {
    const deadlineAt = (yield* Clock.currentTimeMillis) + deadlineMs
    const fiber = yield* Effect.fork(
      Effect.forEach(
        Array.from({ length: count }, (_, i) => replicas[i % replicas.length]!),
        (controller) =>
          Effect.flatMap(controller.permit(target, deadlineAt), (admitted) =>
            admitted ? Clock.currentTimeMillis : Effect.succeed(-1)
          ),
        { concurrency: "unbounded" }
      )
    )
    yield* TestClock.adjust(runMs)
    return yield* Fiber.join(fiber)
  })

describe("the shared schedule", () => {
  const at = { intervalMs: 100, maxWaitMs: 1_000, force: false }
  it("gives the next slot, one interval after the last", () => {
    assert.deepStrictEqual(schedule(0, 0, 0, at), { granted: true, at: 0, tat: 100 })
    assert.deepStrictEqual(schedule(300, 0, 0, at), { granted: true, at: 300, tat: 400 })
  })
  it("gives a slot missed by less than lateMs at once, and no credit for an idle schedule", () => {
    // A replica that comes 60 ms late for slot 1000 still takes it (and goes now): the rate holds.
    assert.deepStrictEqual(schedule(1_000, 0, 1_060, at), { granted: true, at: 1_000, tat: 1_100 })
    // A schedule idle for longer starts from now: no burst banked.
    assert.deepStrictEqual(schedule(1_000, 0, 1_000 + lateMs + 1, at), {
      granted: true,
      at: 1_000 + lateMs + 1,
      tat: 1_000 + lateMs + 101
    })
  })
  it("takes nothing at or past maxWaitMs, holds slots until a spent quota resets, and forces a retry now", () => {
    // Not taken: the schedule stays, and the caller learns how far off the slot was.
    assert.deepStrictEqual(schedule(1_000, 0, 0, at), { granted: false, at: 1_000, tat: 1_000 })
    assert.deepStrictEqual(schedule(0, 700, 0, at), { granted: true, at: 700, tat: 800 })
    assert.deepStrictEqual(schedule(500, 700, 0, { ...at, force: true }), { granted: true, at: 0, tat: 600 })
  })
})

describe("FleetRate", () => {
  it.effect("replicas share one schedule: the ceiling holds across all of them", () =>
    Effect.gen(function* () {
      const store = memory(AdaptiveRate.initial)
      const a = yield* replica(store, 10, "a")
      const b = yield* replica(store, 10, "b")
      const at = yield* permitsAt([a.controller, b.controller], 10)
      assert.deepStrictEqual(
        [...at].sort((x, y) => x - y),
        [0, 100, 200, 300, 400, 500, 600, 700, 800, 900]
      )
      assert.strictEqual(a.controller.stats("eu").rate, 10)
      // One went at once; the other nine waited for their slots, whichever replica they came through.
      const permits = [a, b].map((r) => r.status().permits)
      assert.deepStrictEqual(
        permits.reduce((sum, p) => ({
          granted: sum.granted + p.granted,
          waited: sum.waited + p.waited,
          refused: sum.refused + p.refused
        })),
        { granted: 1, waited: 9, refused: 0 }
      )
      assert.isTrue(a.status().shared)
    })
  )

  it.effect("a permit that would come at or past the deadline is refused, and nothing is taken for it", () =>
    Effect.gen(function* () {
      const store = memory(AdaptiveRate.initial)
      const a = yield* replica(store, 1, "a")
      const b = yield* replica(store, 1, "b")
      const at = yield* permitsAt([a.controller, b.controller], 3, { deadlineMs: 1_500, runMs: 1_500 })
      assert.deepStrictEqual(
        [...at].sort((x, y) => x - y),
        [-1, 0, 1000]
      )
      // The refused one took no slot: the next permit goes at 2000, not 3000.
      const later = yield* permitsAt([b.controller], 1, { runMs: 1_000 })
      assert.deepStrictEqual(later, [2000])
    })
  )

  it.effect("the retry of a 429 goes at once, and still counts in the schedule", () =>
    Effect.gen(function* () {
      const store = memory(AdaptiveRate.initial)
      const a = yield* replica(store, 10, "a")
      assert.isTrue(yield* a.controller.permit("eu", 60_000))
      assert.isTrue(yield* a.controller.permit("eu", 60_000, true))
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
      const next = yield* permitsAt([a.controller], 1, { runMs: 1_000 })
      assert.deepStrictEqual(next, [200])
    })
  )

  it.effect("a 429 seen by every replica in one congestion event lowers the shared rate once", () =>
    Effect.gen(function* () {
      const store = memory(AdaptiveRate.initial)
      const a = yield* replica(store, undefined, "a")
      const b = yield* replica(store, undefined, "b")
      // Unthrottled: 100 accepted answers a second across both, for two seconds.
      for (let t = 0; t < 2_000; t += 10) {
        const controller = t % 20 === 0 ? a.controller : b.controller
        assert.isTrue(yield* controller.permit("eu", t + 30_000))
        yield* TestClock.adjust("10 millis")
        controller.record("eu", { throttled: false, sentAt: t }, t + 10)
        yield* settle
      }
      assert.strictEqual(a.controller.stats("eu").rate, undefined)
      // Four requests in flight are refused: two answered to each replica.
      for (const controller of [a.controller, b.controller, a.controller, b.controller]) {
        controller.record("eu", { throttled: true, sentAt: 1_995 }, 2_000)
        yield* settle
      }
      assert.strictEqual(a.status().backoffs + b.status().backoffs, 1)
      const rate = a.controller.stats("eu").rate
      assert.isDefined(rate)
      // 0.7 of what the upstream was seen to accept (about 100/s), and both replicas pace at it.
      assert.approximately(rate ?? 0, 70, 5)
      yield* permitsAt([b.controller], 1)
      assert.strictEqual(b.controller.stats("eu").rate, rate)
      assert.strictEqual(b.controller.stats("eu").throttled, 4)
    })
  )

  it.effect("the shared rate climbs back from answers whichever replica records them", () =>
    Effect.gen(function* () {
      const store = memory(AdaptiveRate.initial)
      const a = yield* replica(store, undefined, "a")
      const b = yield* replica(store, undefined, "b")
      for (let t = 0; t < 1_000; t += 10) {
        assert.isTrue(yield* a.controller.permit("eu", t + 30_000))
        yield* TestClock.adjust("10 millis")
        a.controller.record("eu", { throttled: false, sentAt: t }, t + 10)
        yield* settle
      }
      a.controller.record("eu", { throttled: true, sentAt: 995 }, 1_000)
      yield* settle
      const lowered = a.controller.stats("eu").rate ?? 0
      const refused = a.controller.snapshot("eu").pipe((s) => (s._tag === "Some" ? s.value.refusedRate : 0))
      // Only B answers from here on: A's view moves with the shared state.
      for (let t = 1_000; t < 4_000; t += 10) {
        yield* TestClock.adjust("10 millis")
        b.controller.record("eu", { throttled: false, sentAt: t }, t + 10)
        yield* settle
      }
      yield* permitsAt([a.controller], 1)
      const climbed = a.controller.stats("eu").rate ?? 0
      assert.isAbove(climbed, lowered)
      assert.isAtLeast(climbed, refused * 0.99)
    })
  )

  it.effect("a quota the upstream says is spent holds every replica until its reset", () =>
    Effect.gen(function* () {
      const store = memory(AdaptiveRate.initial)
      const a = yield* replica(store, undefined, "a")
      const b = yield* replica(store, undefined, "b")
      assert.isTrue(yield* a.controller.permit("eu", 60_000))
      a.controller.record("eu", { throttled: false, sentAt: 0, spentUntil: 700 }, 5)
      yield* settle
      const at = yield* permitsAt([b.controller], 1, { runMs: 1_000 })
      assert.deepStrictEqual(at, [700])
    })
  )

  it.effect("while the store fails, each replica paces itself at its share, says so, and comes back", () => {
    const lines: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
    })
    return Effect.gen(function* () {
      const { store, switchable } = failing(memory(AdaptiveRate.initial))
      const [a, b] = yield* Effect.all([replica(store, 10, "a"), replica(store, 10, "b")])
      yield* Effect.forkScoped(a.heartbeats)
      yield* Effect.forkScoped(b.heartbeats)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(a.status().replicas, 2)

      switchable.down = true
      const started = yield* Clock.currentTimeMillis
      const at = yield* permitsAt([a.controller], 3, { runMs: 1_000 })
      // Half of 10/s: one every 200 ms from this replica alone.
      assert.deepStrictEqual(
        at.map((t) => t - started),
        [0, 200, 400]
      )
      assert.isFalse(a.status().shared)
      assert.strictEqual(a.controller.stats("eu").rate, 5)
      // Once per replica, not once per failed command.
      const warnings = lines.filter((line) => line.startsWith("WARN"))
      assert.strictEqual(warnings.length, 2)
      for (const warning of warnings)
        assert.match(
          warning,
          /Redis: not connected; this replica paces itself on its own at 5\/s, its share of 10\/s over 2 replica\(s\)/
        )

      switchable.down = false
      yield* TestClock.adjust("2 seconds")
      assert.isTrue(a.status().shared)
      assert.include(lines.at(-1) ?? "", "Redis answers again")
      assert.strictEqual(a.controller.stats("eu").rate, 10)
    }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)), Effect.scoped)
  })

  it.effect("before the first connection, permits wait for it rather than guess the fleet's share", () =>
    Effect.gen(function* () {
      const { store, switchable } = failing(memory(AdaptiveRate.initial))
      switchable.down = true
      switchable.connecting = true
      const a = yield* replica(store, 10, "a")
      // Its heartbeat fails too, from the start.
      yield* Effect.forkScoped(a.heartbeats)
      const fiber = yield* Effect.fork(permitsAt([a.controller], 2, { runMs: 0 }))
      yield* TestClock.adjust("300 millis")
      switchable.down = false
      switchable.connecting = false
      yield* TestClock.adjust("1 second")
      const at = yield* Fiber.join(fiber)
      // Both from the shared schedule once it answered, one interval apart; none on its own meanwhile.
      assert.strictEqual(at[1]! - at[0]!, 100)
      assert.isAtLeast(at[0]!, 300)
      assert.isTrue(a.status().shared)
    }).pipe(Effect.scoped)
  )

  it.effect("without a store, the ceiling applies to this replica alone", () =>
    Effect.gen(function* () {
      const alone = yield* replica(undefined, 5, "alone")
      const at = yield* permitsAt([alone.controller], 3)
      assert.deepStrictEqual(at, [0, 200, 400])
      assert.deepStrictEqual(alone.status(), {
        shared: false,
        replicas: 1,
        permits: { granted: 1, waited: 2, refused: 0 },
        backoffs: 0
      })
    })
  )
})
