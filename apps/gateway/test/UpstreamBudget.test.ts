/**
 * The upstream budget end to end: gateway replicas over real loopback HTTP in front of the sandbox with
 * a token-bucket rate limit on EU, sharing a real redis-server.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Redacted } from "effect"
import { startFleet } from "./services/Fleet.js"
import { redisAvailable, redisServer } from "./services/RedisServer.js"

/** EU takes 20 requests a second, with a burst of 20 (a 429 and `Retry-After: 1` past it). */
const limited = { faults: { eu: "rate=20/s,burst=20" } }
/**
 * The same rate with a burst of 40, before a fleet whose budget is half of it: the burst absorbs what a
 * busy machine's stalled event loop sends together (up to 4 s of it), not a fleet over its budget. The
 * sandbox and the gateways share this process, so a stall holds back sends and bucket alike.
 */
const roomy = { faults: { eu: "rate=20/s,burst=40" } }

/** Seconds of real traffic each, on a machine that may be busy. */
const timeout = 60_000

/** Two replicas sharing a budget of 10/s through a fresh redis-server, in front of the sandbox. */
const sharedFleet = Effect.gen(function* () {
  const redis = yield* redisServer()
  const fleet = yield* startFleet({
    replicas: 2,
    sandbox: roomy,
    gateway: { upstreamRate: "10", redisUrl: Redacted.make(redis.url) }
  })
  return { redis, fleet }
})

/** Waits until `check` holds, for at most 8 s. */
const until = (what: string, check: Effect.Effect<boolean>) =>
  Effect.gen(function* () {
    const end = Date.now() + 8_000
    while (!(yield* check)) {
      if (Date.now() > end) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("50 millis")
    }
  })

const sum = (values: ReadonlyArray<number>) => values.reduce((total, value) => total + value, 0)

describe("the upstream budget", () => {
  it.live(
    "GATEWAY_UPSTREAM_RATE without Redis paces this one replica, and callers queue for it",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const fleet = yield* startFleet({ replicas: 1, sandbox: {}, gateway: { upstreamRate: "10" } })
          const started = Date.now()
          const statuses = yield* fleet.burst(12, "alone")
          const elapsedMs = Date.now() - started
          assert.deepStrictEqual(new Set(statuses), new Set([200]))
          // Twelve sends at 10/s are spread over at least 1.1 s: the budget held (a floor, not a speed).
          assert.isAtLeast(elapsedMs, 1_050)
          assert.strictEqual(yield* fleet.metric(0, "convocore_gateway_upstream_rate", 'region="eu"'), 10)
          assert.strictEqual(yield* fleet.metric(0, "convocore_gateway_upstream_budget_shared"), 0)
          assert.strictEqual(yield* fleet.metric(0, "convocore_gateway_fleet_replicas"), 1)
          assert.isAtLeast(
            yield* fleet.metric(0, "convocore_gateway_upstream_permits_total", 'result="waited"'),
            10
          )
        })
      ),
    timeout
  )

  it.live(
    "without Redis, two replicas each spend the whole budget and the upstream refuses some",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const fleet = yield* startFleet({ replicas: 2, sandbox: limited, gateway: { upstreamRate: "15" } })
          const statuses = yield* fleet.burst(120, "apart")
          assert.deepStrictEqual(new Set(statuses), new Set([200]))
          // 30/s for 4 s against 20/s with a burst of 20: refused until each replica backs off on its own.
          assert.isAbove((yield* fleet.upstream).limited, 0)
          // Each replica backed off on its own; /metrics says so.
          const backoffs = yield* Effect.forEach([0, 1], (i) =>
            fleet.metric(i, "convocore_gateway_upstream_rate_backoffs_total")
          )
          assert.isAtLeast(sum(backoffs), 1)
        })
      ),
    timeout
  )

  describe.skipIf(!redisAvailable)("shared through a real redis-server", () => {
    it.live(
      "two replicas stay under the upstream's limit together, and callers queue rather than fail",
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            const { fleet } = yield* sharedFleet
            const started = Date.now()
            const statuses = yield* fleet.burst(60, "shared")
            const elapsedMs = Date.now() - started
            assert.deepStrictEqual(new Set(statuses), new Set([200]))
            // Sixty sends at 10/s across both replicas are spread over nearly 6 s (a floor, not a speed).
            assert.isAtLeast(elapsedMs, 5_500)
            const { requests, limited: refused } = yield* fleet.upstream
            // 10/s for the fleet against 20/s: none should be refused; a margin for a machine that stalls.
            assert.isAtMost(refused / requests, 0.05)
            for (const i of [0, 1]) {
              // At the budget, unless a machine that stalled made a 429 lower it.
              const rate = yield* fleet.metric(i, "convocore_gateway_upstream_rate", 'region="eu"')
              if (refused === 0) assert.strictEqual(rate, 10)
              else assert.isAtMost(rate, 10)
              assert.strictEqual(yield* fleet.metric(i, "convocore_gateway_upstream_budget_shared"), 1)
              assert.strictEqual(yield* fleet.metric(i, "convocore_gateway_fleet_replicas"), 2)
            }
            const waited = yield* Effect.forEach([0, 1], (i) =>
              fleet.metric(i, "convocore_gateway_upstream_permits_total", 'result="waited"')
            )
            // Both replicas queued their callers for the shared schedule.
            assert.isAtLeast(Math.min(...waited), 10)
            assert.isAtLeast(sum(waited), 45)
          })
        ),
      timeout
    )

    it.live(
      "Redis stopped mid-run: still serving at each replica's share, said in /metrics, and back",
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            const { redis, fleet } = yield* sharedFleet
            const shared = (i: number) => fleet.metric(i, "convocore_gateway_upstream_budget_shared")
            // Both replicas counted before Redis goes.
            yield* until(
              "two replicas",
              Effect.map(fleet.metric(0, "convocore_gateway_fleet_replicas"), (n) => n === 2)
            )
            const run = yield* Effect.fork(fleet.burst(80, "outage"))
            yield* Effect.sleep("1500 millis")
            yield* Effect.promise(redis.stop)
            yield* until(
              "both replicas on their own",
              Effect.map(Effect.all([shared(0), shared(1)]), ([a, b]) => a === 0 && b === 0)
            )
            // Each paces itself at half of 10/s, its share of the two replicas last counted.
            assert.strictEqual(yield* fleet.metric(0, "convocore_gateway_upstream_rate", 'region="eu"'), 5)
            yield* Effect.sleep("1500 millis")
            yield* Effect.promise(redis.start)
            yield* until(
              "both replicas shared again",
              Effect.map(Effect.all([shared(0), shared(1)]), ([a, b]) => a === 1 && b === 1)
            )
            const statuses = yield* Fiber.join(run)
            assert.deepStrictEqual(new Set(statuses), new Set([200]))
            const { requests, limited: refused } = yield* fleet.upstream
            assert.isAtMost(refused / requests, 0.05)
          })
        ),
      timeout
    )

    it.live(
      "Redis that answers nothing (paused): commands time out, the replica serves on its own, then shares again",
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            const redis = yield* redisServer()
            const fleet = yield* startFleet({
              replicas: 1,
              sandbox: roomy,
              gateway: { upstreamRate: "10", redisUrl: Redacted.make(redis.url), redisTimeout: "100ms" }
            })
            const shared = fleet.metric(0, "convocore_gateway_upstream_budget_shared")
            yield* until(
              "shared",
              Effect.map(shared, (v) => v === 1)
            )
            redis.pause()
            yield* until(
              "on its own",
              Effect.map(shared, (v) => v === 0)
            )
            assert.deepStrictEqual(new Set(yield* fleet.burst(5, "paused")), new Set([200]))
            redis.resume()
            yield* until(
              "shared again",
              Effect.map(shared, (v) => v === 1)
            )
            assert.deepStrictEqual(new Set(yield* fleet.burst(5, "resumed")), new Set([200]))
          })
        ),
      timeout
    )
  })
})
