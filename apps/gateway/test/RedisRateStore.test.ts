/**
 * The budget's Lua scripts against a real redis-server: the same semantics as the in-memory store that
 * FleetRate.test.ts drives under TestClock, on Redis's own clock.
 */
import { AdaptiveRate } from "@convocore-effect/client"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schedule } from "effect"
import { idleTtlMs, replicaTtlMs } from "../src/FleetRateStore.js"
import { RedisConnection } from "../src/RedisConnection.js"
import * as RedisRateStore from "../src/RedisRateStore.js"
import { redisAvailable, redisServer } from "./services/RedisServer.js"

const connected = Effect.gen(function* () {
  const server = yield* redisServer()
  const redis = yield* RedisConnection.make({
    url: Redacted.make(server.url),
    location: server.url,
    commandTimeoutMs: 1_000
  })
  // The first command may come before the connection is up: commands are never queued.
  yield* redis
    .run((client) => client.ping())
    .pipe(Effect.retry({ times: 500, schedule: Schedule.spaced("10 millis") }), Effect.orDie)
  return { redis, store: RedisRateStore.make(redis) }
})

const key = `${RedisRateStore.keyPrefix}rate:eu:test`

describe.skipIf(!redisAvailable)("RedisRateStore, against a real redis-server", () => {
  it.live("hands out slots one interval apart, and takes none that would come too late", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { store } = yield* connected
        const reserve = (maxWaitMs: number) =>
          store.reserve(key, { intervalMs: 1_000, maxWaitMs, force: false })
        const waits = yield* Effect.forEach([10_000, 10_000, 10_000], reserve)
        // Each slot is 1 s after the one before, less the little time that passed between the calls.
        for (const [i, reply] of waits.entries()) {
          assert.isTrue(reply.granted)
          assert.isAtMost(reply.waitMs, i * 1_000)
          assert.isAbove(reply.waitMs, i * 1_000 - 500)
        }
        const tooLate = yield* reserve(1_500)
        // Not taken; the slot it would have had is 3 s off.
        assert.isFalse(tooLate.granted)
        assert.isAbove(tooLate.waitMs, 3_000 - 500)
        assert.strictEqual(tooLate.shared.state.sent, 3)
        // A retry that already waited goes now, and pushes the schedule on by one more slot.
        const forced = yield* store.reserve(key, { intervalMs: 1_000, maxWaitMs: 0, force: true })
        assert.isTrue(forced.granted)
        assert.strictEqual(forced.waitMs, 0)
        const next = yield* reserve(10_000)
        assert.isAbove(next.waitMs, 4_000 - 500)
        // Redis's clock, in milliseconds.
        assert.approximately(next.now, Date.now(), 5_000)
      })
    )
  )

  it.live("writes the shared state only over the version it was computed from", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { store, redis } = yield* connected
        const first = yield* store.reserve(key, { intervalMs: 0, maxWaitMs: 1_000, force: false })
        assert.strictEqual(first.shared.version, 0)
        const lowered = { ...AdaptiveRate.initial, rate: 7, refusedRate: 10, decreasedAt: first.now }
        const applied = yield* store.update(key, 0, lowered)
        assert.isTrue(applied.applied)
        assert.strictEqual(applied.shared.version, 1)
        assert.strictEqual(applied.shared.state.rate, 7)
        // Its `sent` is the schedule's count, not the one in the state written.
        assert.strictEqual(applied.shared.state.sent, 1)

        const stale = yield* store.update(key, 0, { ...AdaptiveRate.initial, rate: 3 })
        assert.isFalse(stale.applied)
        assert.deepStrictEqual(stale.shared, applied.shared)

        // A spent quota holds the schedule until it resets.
        const paused = { ...lowered, pausedUntil: first.now + 60_000 }
        assert.isTrue((yield* store.update(key, 1, paused)).applied)
        const held = yield* store.reserve(key, { intervalMs: 0, maxWaitMs: 10_000, force: false })
        assert.isFalse(held.granted)
        assert.isAbove(held.waitMs, 50_000)
        // Idle regions are forgotten.
        const ttl = yield* redis.run((client) => client.pttl(key))
        assert.isAbove(ttl, 0)
        assert.isAtMost(ttl, idleTtlMs)
      })
    )
  )

  it.live("counts the replicas that keep beating, and forgets one that leaves or goes silent", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { store } = yield* connected
        assert.strictEqual(yield* store.heartbeat("a"), 1)
        assert.strictEqual(yield* store.heartbeat("b"), 2)
        assert.strictEqual(yield* store.heartbeat("c"), 3)
        yield* store.leave("c")
        assert.strictEqual(yield* store.heartbeat("a"), 2)
        yield* Effect.sleep(replicaTtlMs + 200)
        assert.strictEqual(yield* store.heartbeat("a"), 1)
      })
    )
  )
})
