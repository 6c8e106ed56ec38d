/**
 * Two real gateways sharing a real redis-server, in front of the real sandbox: what a fleet of replicas
 * behind a load balancer does. Upstream calls are counted by the sandbox itself.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import type { RawSettings } from "../src/GatewayConfig.js"
import { redisAvailable, redisServer } from "./services/RedisServer.js"
import {
  bearer,
  conversationPath,
  demoKey,
  metricValue,
  type StackOptions,
  startStack
} from "./services/Stack.js"

const auth = bearer(demoKey)

/**
 * Two replicas over one Redis, each connected to it before the test sends anything. Redis commands get a
 * second rather than 250 ms, so that a busy test machine does not make a replica go on without Redis.
 */
const fleet = (gateway: Partial<RawSettings> = {}, options: StackOptions = {}) =>
  Effect.gen(function* () {
    const redis = yield* redisServer()
    const stack = yield* startStack({
      ...options,
      replicas: 2,
      gateway: { redisUrl: Redacted.make(redis.url), redisTimeout: "1s", ...gateway }
    })
    yield* redisUp(stack, 0, 1)
    yield* redisUp(stack, 1, 1)
    return { redis, stack }
  })

type Stack = Effect.Effect.Success<ReturnType<typeof startStack>>

const metricOf = (stack: Stack, index: number, name: string, labels = "") =>
  Effect.map(stack.via(index, "/metrics"), (answer) => metricValue(answer.text, name, labels))

/** Waits until the replica's `convocore_gateway_redis_up` reads `value`. */
const redisUp = (stack: Stack, index: number, value: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < 500; i++) {
      if ((yield* metricOf(stack, index, "convocore_gateway_redis_up")) === value) return
      yield* Effect.sleep("20 millis")
    }
    return yield* Effect.die(new Error(`replica ${index}: redis_up never became ${value}`))
  })

const get = (stack: Stack, index: number, path: string, headers: Record<string, string> = auth) =>
  stack.via(index, path, { headers })

describe.skipIf(!redisAvailable)("two replicas sharing Redis", () => {
  it.scopedLive(
    "a document fetched through one replica is served by the other from Redis, no upstream call",
    () =>
      Effect.gen(function* () {
        const { stack } = yield* fleet()
        const path = conversationPath("shared-convo")
        const first = yield* get(stack, 0, path)
        assert.strictEqual(first.headers.get("cache-status"), "convocore-gateway; fwd=miss; stored; ttl=30")
        assert.strictEqual(yield* stack.upstreamRequests, 1)

        const other = yield* get(stack, 1, path)
        assert.strictEqual(other.status, 200)
        assert.deepStrictEqual(other.bytes, first.bytes)
        assert.strictEqual(other.headers.get("content-type"), first.headers.get("content-type"))
        assert.strictEqual(other.headers.get("x-convocore-region"), first.headers.get("x-convocore-region"))
        assert.match(other.headers.get("cache-status") ?? "", /^convocore-gateway; hit; ttl=\d+; detail=l2$/)
        // Now in the second replica's memory too: answered by its fast path.
        const again = yield* get(stack, 1, path)
        assert.match(again.headers.get("cache-status") ?? "", /^convocore-gateway; hit; ttl=\d+; detail=l1$/)
        assert.strictEqual(yield* stack.upstreamRequests, 1)
        assert.strictEqual(yield* metricOf(stack, 1, "convocore_gateway_cache_l2_hits_total"), 1)
        // A caller asking for a new copy gets one from upstream, not the copy in Redis.
        const renewed = yield* get(stack, 1, path, { ...auth, "cache-control": "no-cache" })
        assert.strictEqual(
          renewed.headers.get("cache-status"),
          "convocore-gateway; fwd=request; stored; ttl=30"
        )
        assert.strictEqual(yield* stack.upstreamRequests, 2)
      })
  )

  it.scopedLive("100 concurrent identical requests split across both replicas reach the upstream once", () =>
    Effect.gen(function* () {
      // A slow upstream, so that every request arrives while the first call is in flight.
      const { stack } = yield* fleet(
        {},
        {
          sandbox: { faults: { eu: "latency=1500ms" } },
          client: { attemptTimeout: 10_000, deadline: 20_000 }
        }
      )
      const path = conversationPath("burst-convo")
      const answers = yield* Effect.forEach(
        Array.from({ length: 100 }, (_, i) => i % 2),
        (index) => get(stack, index, path),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(yield* stack.upstreamRequests, 1)
      const bytes = answers[0]?.text
      assert.isTrue(answers.every((a) => a.status === 200 && a.text === bytes))
      const statuses = answers.map((a) => a.headers.get("cache-status") ?? "")
      assert.strictEqual(statuses.filter((s) => s.includes("stored")).length, 1)
      // The other replica's requests waited for the entry the first replica stored.
      assert.strictEqual(statuses.filter((s) => s.includes("detail=l2-wait")).length, 50)
    })
  )

  it.scopedLive("a purge through one replica is seen by the other; a caller purges only its own copies", () =>
    Effect.gen(function* () {
      const { stack } = yield* fleet()
      const path = conversationPath("purged-convo")
      const purgePath = `/cache${path}`
      yield* get(stack, 0, path)
      yield* get(stack, 1, path)
      assert.match((yield* get(stack, 1, path)).headers.get("cache-status") ?? "", /detail=l1$/)

      // Another token is another partition: nothing of it is cached, nothing of ours is purged.
      const stranger = yield* stack.via(0, purgePath, { method: "DELETE", headers: bearer("sk_other_token") })
      assert.deepStrictEqual([stranger.status, stranger.json()], [200, { purged: false }])
      assert.match((yield* get(stack, 1, path)).headers.get("cache-status") ?? "", /detail=l1$/)

      const purged = yield* stack.via(0, purgePath, { method: "DELETE", headers: auth })
      assert.deepStrictEqual([purged.status, purged.json()], [200, { purged: true }])
      const after = yield* get(stack, 1, path)
      assert.strictEqual(after.headers.get("cache-status"), "convocore-gateway; fwd=miss; stored; ttl=30")
      assert.strictEqual(yield* stack.upstreamRequests, 2)

      const anonymous = yield* stack.via(0, purgePath, { method: "DELETE" })
      assert.strictEqual(anonymous.status, 401)
    })
  )

  it.scopedLive(
    "stale-while-revalidate: a stale entry is served at once while one replica refreshes it",
    () =>
      Effect.gen(function* () {
        const { stack } = yield* fleet({ cacheTtl: "1s", staleWhileRevalidate: "1m" })
        const path = conversationPath("revalidated-convo")
        yield* get(stack, 0, path)
        yield* Effect.sleep("1100 millis")
        const stale = yield* Effect.forEach([0, 1, 0, 1], (index) => get(stack, index, path), {
          concurrency: "unbounded"
        })
        for (const answer of stale) {
          assert.strictEqual(answer.status, 200)
          assert.match(
            answer.headers.get("cache-status") ?? "",
            /^convocore-gateway; fwd=stale; ttl=-\d+; detail=stale-while-revalidate$/
          )
          assert.isAtLeast(Number(answer.headers.get("age")), 1)
        }
        // One refresh for the fleet, in the background.
        for (let i = 0; i < 100 && (yield* stack.upstreamRequests) < 2; i++) yield* Effect.sleep("20 millis")
        yield* Effect.sleep("200 millis")
        assert.strictEqual(yield* stack.upstreamRequests, 2)
        assert.match(
          (yield* get(stack, 1, path)).headers.get("cache-status") ?? "",
          /^convocore-gateway; hit;/
        )
      })
  )

  it.scopedLive("with Redis stopped, paused or restarted the replicas keep serving and say so", () =>
    Effect.gen(function* () {
      const { redis, stack } = yield* fleet({ redisTimeout: "250ms" })
      const path = conversationPath("survivor-convo")
      yield* get(stack, 0, path)

      yield* Effect.promise(redis.stop)
      yield* redisUp(stack, 0, 0)
      // L1 still answers; a miss goes upstream on its own.
      assert.match((yield* get(stack, 0, path)).headers.get("cache-status") ?? "", /detail=l1$/)
      const miss = yield* get(stack, 1, conversationPath("while-down"))
      assert.strictEqual(miss.status, 200)
      assert.strictEqual((yield* stack.via(1, "/readyz")).status, 200)
      assert.isAbove(yield* metricOf(stack, 1, "convocore_gateway_redis_errors_total", 'op="get"'), 0)

      yield* Effect.promise(redis.start)
      yield* redisUp(stack, 0, 1)
      yield* redisUp(stack, 1, 1)
      yield* get(stack, 0, conversationPath("after-restart"))
      assert.match(
        (yield* get(stack, 1, conversationPath("after-restart"))).headers.get("cache-status") ?? "",
        /detail=l2$/
      )

      // Paused: connections stay open and nothing answers; each command gives up after its timeout.
      const errorsBefore = yield* metricOf(stack, 1, "convocore_gateway_redis_errors_total", 'op="get"')
      redis.pause()
      const started = Date.now()
      const slow = yield* get(stack, 1, conversationPath("while-paused"))
      assert.strictEqual(slow.status, 200)
      assert.isBelow(Date.now() - started, 5_000)
      assert.strictEqual((yield* stack.via(0, "/readyz")).status, 200)
      // Connected, but not answering: the commands that timed out say so.
      yield* redisUp(stack, 1, 0)
      assert.isAbove(
        yield* metricOf(stack, 1, "convocore_gateway_redis_errors_total", 'op="get"'),
        errorsBefore
      )
      redis.resume()
      // Up again with the first command that succeeds.
      for (let i = 0; i < 100 && (yield* metricOf(stack, 1, "convocore_gateway_redis_up")) !== 1; i++) {
        yield* get(stack, 1, conversationPath(`after-pause-${i}`))
        yield* Effect.sleep("20 millis")
      }
      yield* redisUp(stack, 1, 1)
    })
  )
})
