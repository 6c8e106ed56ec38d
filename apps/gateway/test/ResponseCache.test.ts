import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber, FastCheck as fc, Layer, TestClock } from "effect"
import { GatewayConfig, type RawSettings, validate } from "../src/GatewayConfig.js"
import { type Entry, LruStore, ResponseCache } from "../src/ResponseCache.js"
import { nothingSet } from "./services/Stack.js"

const entry = (size: number, expiresAt = 1000, staleUntil = 2000): Entry => ({
  body: new Uint8Array(size),
  contentType: "application/json",
  region: "eu",
  upstreamRequestId: undefined,
  storedAt: 0,
  expiresAt,
  staleUntil
})

const raw: RawSettings = { ...nothingSet, cacheMaxEntries: "3", cacheTtl: "10s", staleIfError: "1m" }

const cacheLayer = ResponseCache.layer.pipe(
  Layer.provide(GatewayConfig.layer(Either.getOrThrow(validate(raw))))
)

const document = {
  body: new TextEncoder().encode("{}"),
  contentType: "application/json",
  region: "na",
  upstreamRequestId: undefined
}

describe("LruStore", () => {
  it("evicts the least recently used entry past its count bound", () => {
    const store = new LruStore(2, 1_000_000)
    store.set("a", entry(1))
    store.set("b", entry(1))
    store.get("a", 0)
    assert.strictEqual(store.set("c", entry(1)), 1)
    assert.isDefined(store.get("a", 0))
    assert.isUndefined(store.get("b", 0))
    assert.isDefined(store.get("c", 0))
  })

  it("stays within its byte bound and never holds a body larger than it", () => {
    const store = new LruStore(100, 10)
    store.set("a", entry(4))
    store.set("b", entry(4))
    assert.strictEqual(store.set("c", entry(4)), 1)
    assert.strictEqual(store.bytes, 8)
    store.set("huge", entry(11))
    assert.isUndefined(store.get("huge", 0))
    assert.strictEqual(store.size, 2)
  })

  it("keeps least-recently-used order when the newest entry is hit again and again", () => {
    const store = new LruStore(2, 1_000_000)
    store.set("a", entry(1))
    store.set("b", entry(1))
    store.get("b", 0)
    store.get("b", 0)
    store.get("a", 0)
    store.get("a", 0)
    // "b" is now the least recently used.
    assert.strictEqual(store.set("c", entry(1)), 1)
    assert.isUndefined(store.get("b", 0))
    assert.isDefined(store.get("a", 0))
    // Deleting the newest entry leaves the order of the rest intact.
    store.delete("a")
    store.set("d", entry(1))
    store.get("c", 0)
    assert.strictEqual(store.set("e", entry(1)), 1)
    assert.isUndefined(store.get("d", 0))
    assert.isDefined(store.get("c", 0))
  })

  it("drops an entry once its stale window is over", () => {
    const store = new LruStore(10, 1000)
    store.set("a", entry(1, 100, 200))
    assert.isDefined(store.get("a", 150))
    assert.isUndefined(store.get("a", 200))
    assert.strictEqual(store.size, 0)
  })
})

describe("LruStore against a model", () => {
  type Op =
    | { readonly op: "set"; readonly key: number; readonly size: number }
    | { readonly op: "get" | "delete"; readonly key: number }
    | { readonly op: "clear" }
  const key = fc.integer({ min: 0, max: 7 })
  const ops = fc.array(
    fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({ op: fc.constant("set" as const), key, size: fc.integer({ min: 1, max: 6 }) })
      },
      { weight: 3, arbitrary: fc.record({ op: fc.constant("get" as const), key }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant("delete" as const), key }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant("clear" as const) }) }
    ),
    { maxLength: 300, size: "max" }
  )

  it.prop(
    "keeps and evicts exactly what a least-recently-used list bounded by count and bytes would",
    [ops],
    ([script]: [ReadonlyArray<Op>]) => {
      const store = new LruStore(4, 14)
      // Oldest first: [key, size].
      let model: Array<[number, number]> = []
      const bytes = () => model.reduce((sum, [, size]) => sum + size, 0)
      for (const step of script) {
        switch (step.op) {
          case "set": {
            model = model.filter(([k]) => k !== step.key)
            model.push([step.key, step.size])
            let evicted = 0
            while (model.length > 4 || bytes() > 14) {
              model.shift()
              evicted++
            }
            assert.strictEqual(store.set(String(step.key), entry(step.size)), evicted)
            break
          }
          case "get": {
            const at = model.findIndex(([k]) => k === step.key)
            const kept = at === -1 ? undefined : model.splice(at, 1)[0]
            if (kept !== undefined) model.push(kept)
            assert.strictEqual(store.get(String(step.key), 0)?.body.byteLength, kept?.[1])
            break
          }
          case "delete": {
            const had = model.some(([k]) => k === step.key)
            model = model.filter(([k]) => k !== step.key)
            assert.strictEqual(store.delete(String(step.key)), had)
            break
          }
          case "clear":
            model = []
            store.clear()
        }
        assert.strictEqual(store.size, model.length)
        assert.strictEqual(store.bytes, bytes())
      }
    },
    { fastCheck: { numRuns: 300, seed: 16 } }
  )
})

describe("ResponseCache", () => {
  it.effect("is fresh for the TTL, then stale for the stale-if-error window, then gone", () =>
    Effect.gen(function* () {
      const cache = yield* ResponseCache
      assert.deepStrictEqual(yield* cache.store("k", document), { stored: true, evicted: 0 })
      assert.strictEqual((yield* cache.lookup("k"))._tag, "Fresh")
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* cache.lookup("k"))._tag, "Stale")
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* cache.lookup("k"))._tag, "Miss")
    }).pipe(Effect.provide(cacheLayer))
  )

  it.scoped("runs one call for concurrent callers of a key and hands every caller its outcome", () =>
    Effect.gen(function* () {
      const cache = yield* ResponseCache
      const gate = yield* Deferred.make<void>()
      let calls = 0
      const call = Effect.zipRight(
        Deferred.await(gate),
        Effect.sync(() => ++calls)
      )
      const fibers = yield* Effect.forEach(Array.from({ length: 10 }), () =>
        Effect.fork(cache.coalesce("k", call))
      )
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      const results = yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(calls, 1)
      assert.isTrue(results.every((r) => r.value === 1))
      assert.strictEqual(results.filter((r) => !r.collapsed).length, 1)
      // Once settled, the next caller starts a call of its own.
      const after = yield* cache.coalesce(
        "k",
        Effect.sync(() => ++calls)
      )
      assert.deepStrictEqual(after, { value: 2, collapsed: false })
    }).pipe(Effect.provide(cacheLayer))
  )
})
