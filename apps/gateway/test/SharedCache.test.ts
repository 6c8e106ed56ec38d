/**
 * The response cache as L1 in front of a shared L2, with the in-memory shared cache: two `ResponseCache`s
 * over one `MemorySharedCache` behave as two replicas over one Redis. Time is the TestClock's.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Either, Fiber, Layer, TestClock } from "effect"
import { GatewayConfig, type RawSettings, validate } from "../src/GatewayConfig.js"
import { GatewayMetrics } from "../src/GatewayMetrics.js"
import { ResponseCache } from "../src/ResponseCache.js"
import { MemorySharedCache, SharedCache } from "../src/SharedCache.js"
import { metricValue, nothingSet } from "./services/Stack.js"

const raw: RawSettings = {
  ...nothingSet,
  cacheTtl: "10s",
  staleIfError: "1m",
  redisUrl: undefined,
  staleWhileRevalidate: "5s"
}
const settings = Either.getOrThrow(validate(raw))

/** A replica's cache and metrics over the given shared store. */
const replica = (shared: MemorySharedCache) =>
  Effect.map(
    Layer.build(
      ResponseCache.layer.pipe(
        Layer.provideMerge(GatewayMetrics.layer),
        Layer.provide(SharedCache.memory(shared)),
        Layer.provide(GatewayConfig.layer(settings))
      )
    ),
    (context) => ({
      cache: Context.get(context, ResponseCache),
      metrics: Context.get(context, GatewayMetrics)
    })
  )

const document = {
  body: new Uint8Array([0, 255, 10, 13, 123]),
  contentType: "application/json",
  region: "eu",
  upstreamRequestId: "req-1"
}

const metric = (
  replica: { readonly cache: ResponseCache["Type"]; readonly metrics: GatewayMetrics["Type"] },
  name: string,
  labels = ""
) =>
  Effect.flatMap(replica.cache.stats, (stats) =>
    replica.metrics.render({ ...stats, inFlight: 0, regions: [] })
  ).pipe(Effect.map((text) => metricValue(text, name, labels)))

describe("ResponseCache over a shared cache", () => {
  it.scoped("a document stored by one replica is found by the other in L2, then kept in its L1", () =>
    Effect.gen(function* () {
      const shared = new MemorySharedCache()
      const a = yield* replica(shared)
      const b = yield* replica(shared)
      yield* a.cache.store("k", document)
      assert.strictEqual(b.cache.lookupNow("k", 0)._tag, "Miss")
      const found = yield* b.cache.lookup("k")
      assert.strictEqual(found._tag, "Fresh")
      assert.strictEqual(found._tag === "Fresh" ? found.layer : "", "l2")
      assert.deepStrictEqual(found._tag === "Fresh" ? [...found.entry.body] : [], [0, 255, 10, 13, 123])
      // Kept in L1 with the times the entry had: fresh until the writer's expiry, not a new TTL.
      const local = b.cache.lookupNow("k", 0)
      assert.strictEqual(local._tag === "Fresh" ? local.layer : "", "l1")
      assert.strictEqual(b.cache.lookupNow("k", 10_000)._tag, "Stale")
    })
  )

  it.scoped("one call per key across replicas: the other replica waits and takes the stored entry", () =>
    Effect.gen(function* () {
      const shared = new MemorySharedCache()
      const a = yield* replica(shared)
      const b = yield* replica(shared)
      const gate = yield* Deferred.make<void>()
      let calls = 0
      const call = (cache: ResponseCache["Type"]) =>
        Effect.gen(function* () {
          calls++
          yield* Deferred.await(gate)
          yield* cache.store("k", document)
          return "called"
        })
      const first = yield* Effect.fork(a.cache.exclusive("k", call(a.cache), 0))
      yield* Effect.yieldNow()
      const second = yield* Effect.fork(b.cache.exclusive("k", call(b.cache), 0))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      assert.deepStrictEqual(yield* Fiber.join(first), { _tag: "Called", value: "called" })
      const waited = yield* Fiber.join(second)
      assert.strictEqual(waited._tag, "Landed")
      assert.strictEqual(calls, 1)
      // The lock was released: the next call for the key takes it at once.
      assert.strictEqual(shared.locks.size, 0)
    })
  )

  it.scoped(
    "a replica that gets the lock just after another's call stored takes that entry, unless older than its request",
    () =>
      Effect.gen(function* () {
        const shared = new MemorySharedCache()
        const a = yield* replica(shared)
        const b = yield* replica(shared)
        // The other replica's call ended between this request's lookup and its lock: the lock is free.
        yield* a.cache.store("k", document)
        assert.strictEqual(shared.locks.size, 0)
        let calls = 0
        const call = Effect.sync(() => ++calls)
        assert.strictEqual((yield* b.cache.exclusive("k", call, 0))._tag, "Landed")
        assert.strictEqual(calls, 0)
        // A request that started after the entry was stored (as one saying no-cache does) calls upstream.
        yield* TestClock.adjust(1)
        assert.deepStrictEqual(yield* b.cache.exclusive("k", call, 1), { _tag: "Called", value: 1 })
      })
  )

  it.scoped("a waiter whose holder never stores calls upstream itself after the lock timeout", () =>
    Effect.gen(function* () {
      const shared = new MemorySharedCache()
      const b = yield* replica(shared)
      // Another replica holds the lock and is never heard from again.
      yield* shared.service.lock("k", 60_000)
      const waiting = yield* Effect.fork(b.cache.exclusive("k", Effect.succeed("own call"), 0))
      yield* TestClock.adjust(settings.cache.lockTimeoutMs - 1)
      assert.isNull(waiting.unsafePoll())
      yield* TestClock.adjust(1)
      assert.deepStrictEqual(yield* Fiber.join(waiting), { _tag: "Called", value: "own call" })
    })
  )

  it.scoped("a holder whose call fails wakes the waiters at once, and they call themselves", () =>
    Effect.gen(function* () {
      const shared = new MemorySharedCache()
      const a = yield* replica(shared)
      const b = yield* replica(shared)
      const gate = yield* Deferred.make<void>()
      const failing = yield* Effect.fork(a.cache.exclusive("k", Effect.as(Deferred.await(gate), "failed"), 0))
      yield* Effect.yieldNow()
      const waiting = yield* Effect.fork(b.cache.exclusive("k", Effect.succeed("own call"), 0))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(failing)
      // No clock moved: the settled event, not the timeout, woke the waiter.
      assert.deepStrictEqual(yield* Fiber.join(waiting), { _tag: "Called", value: "own call" })
    })
  )

  it.scoped("a purge through one replica drops the entry from L2 and from every replica's L1", () =>
    Effect.gen(function* () {
      const shared = new MemorySharedCache()
      const a = yield* replica(shared)
      const b = yield* replica(shared)
      yield* a.cache.store("k", document)
      yield* b.cache.lookup("k")
      assert.strictEqual(b.cache.lookupNow("k", 0)._tag, "Fresh")
      assert.isTrue(yield* a.cache.purge("k"))
      assert.strictEqual(b.cache.lookupNow("k", 0)._tag, "Miss")
      assert.strictEqual((yield* b.cache.lookup("k"))._tag, "Miss")
      assert.isFalse(yield* a.cache.purge("k"))
    })
  )

  it.scoped("events missed while unsubscribed empty L1, since a purge may have been among them", () =>
    Effect.gen(function* () {
      const shared = new MemorySharedCache()
      const a = yield* replica(shared)
      yield* a.cache.store("k", document)
      for (const listener of shared.listeners) listener({ _tag: "Resubscribed" })
      assert.strictEqual(a.cache.lookupNow("k", 0)._tag, "Miss")
    })
  )

  it.scoped(
    "with the shared cache down, the replica serves from L1 and calls alone, counting the errors",
    () =>
      Effect.gen(function* () {
        const shared = new MemorySharedCache()
        const a = yield* replica(shared)
        shared.down = true
        assert.deepStrictEqual(yield* a.cache.store("k", document), { stored: true, evicted: 0 })
        assert.strictEqual((yield* a.cache.lookup("k"))._tag, "Fresh")
        assert.deepStrictEqual(yield* a.cache.exclusive("other", Effect.succeed(1), 0), {
          _tag: "Called",
          value: 1
        })
        assert.isFalse((yield* a.cache.stats).sharedUp)
        assert.strictEqual(yield* metric(a, "convocore_gateway_redis_errors_total", 'op="set"'), 1)
        assert.strictEqual(yield* metric(a, "convocore_gateway_redis_errors_total", 'op="lock"'), 1)
        assert.strictEqual(yield* metric(a, "convocore_gateway_redis_up"), 0)
      })
  )

  it.scoped("stale-while-revalidate: inside the window a stale entry is to be served while refreshed", () =>
    Effect.gen(function* () {
      const { cache } = yield* replica(new MemorySharedCache())
      yield* cache.store("k", document)
      const found = yield* cache.lookup("k")
      assert.strictEqual(found._tag, "Fresh")
      const entry = found._tag === "Fresh" ? found.entry : undefined
      if (entry === undefined) return
      assert.isFalse(cache.revalidates(entry, 9_999))
      assert.isTrue(cache.revalidates(entry, 10_000))
      assert.isFalse(cache.revalidates(entry, 15_000))
      assert.isTrue(cache.servesOnError(entry, 69_999))
      assert.isFalse(cache.servesOnError(entry, 70_000))
    })
  )
})
