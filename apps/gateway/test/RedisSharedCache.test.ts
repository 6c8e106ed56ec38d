import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Logger, Redacted } from "effect"
import { RedisConnection } from "../src/RedisConnection.js"
import * as RedisSharedCache from "../src/RedisSharedCache.js"
import { cacheKey, type Entry } from "../src/ResponseCache.js"
import { type FleetEvent, SharedCache } from "../src/SharedCache.js"
import { redisAvailable, redisServer } from "./services/RedisServer.js"

const entry = (staleInMs: number): Entry => ({
  // Every byte value, so that any text decoding on the way would show.
  body: Uint8Array.from({ length: 256 }, (_, i) => i),
  contentType: "application/json; charset=utf-8",
  region: "na",
  upstreamRequestId: undefined,
  storedAt: Date.now(),
  expiresAt: Date.now() + staleInMs / 2,
  staleUntil: Date.now() + staleInMs
})

describe("the shared cache's entry encoding", () => {
  it("keeps the exact bytes and every field, and takes damaged bytes for a miss", () => {
    const original = { ...entry(1_000), upstreamRequestId: "up-1" }
    const decoded = RedisSharedCache.decodeEntry(RedisSharedCache.encodeEntry(original))
    assert.deepStrictEqual(decoded && { ...decoded, body: [...decoded.body] }, {
      ...original,
      body: [...original.body]
    })
    assert.isUndefined(RedisSharedCache.decodeEntry(Buffer.from([0, 0, 0, 9, 1])))
    assert.isUndefined(RedisSharedCache.decodeEntry(Buffer.from("\u0000\u0000\u0000\u0002{}")))
  })
})

/** Two shared caches on two connections to one redis-server, as two replicas have. */
const twoReplicas = Effect.gen(function* () {
  const server = yield* redisServer()
  const settings = { url: Redacted.make(server.url), location: server.url, commandTimeoutMs: 500 }
  const open = Effect.flatMap(
    Layer.build(RedisSharedCache.layer.pipe(Layer.provideMerge(RedisConnection.layer(settings)))),
    (context) =>
      Effect.gen(function* () {
        const redis = Context.get(context, RedisConnection)
        while (redis.status() !== "ready") yield* Effect.sleep("10 millis")
        return { shared: Context.get(context, SharedCache), redis }
      })
  )
  return { server, a: yield* open, b: yield* open }
})

describe.skipIf(!redisAvailable)("the shared cache on a real redis-server", () => {
  it.scopedLive(
    "a Redis that is connected but does not answer is reported down, once, until it answers",
    () =>
      Effect.gen(function* () {
        const server = yield* redisServer()
        const lines: Array<string> = []
        const logger = Logger.make(({ logLevel, message }) => {
          lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
        })
        const settings = { url: Redacted.make(server.url), location: server.url, commandTimeoutMs: 100 }
        const context = yield* Layer.build(
          RedisSharedCache.layer.pipe(Layer.provideMerge(RedisConnection.layer(settings)))
        ).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
        const shared = Context.get(context, SharedCache)
        while (Context.get(context, RedisConnection).status() !== "ready") yield* Effect.sleep("10 millis")
        const get = shared.get("k").pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
        yield* get
        assert.isTrue(shared.up())

        server.pause()
        for (let i = 0; i < 3; i++)
          assert.strictEqual((yield* Effect.flip(get))._tag, "SharedCacheUnavailable")
        assert.isFalse(shared.up())
        server.resume()
        let answered = false
        for (let i = 0; !answered && i < 100; i++) {
          answered = Exit.isSuccess(yield* Effect.exit(get))
          if (!answered) yield* Effect.sleep("20 millis")
        }
        assert.isTrue(shared.up())
        const changes = lines.filter((line) => !line.endsWith("is connected"))
        assert.deepStrictEqual(changes, [
          `WARN Redis at ${server.url} is connected but not answering (Command timed out); serving from this replica's memory and upstream`,
          `INFO Redis at ${server.url} is answering again`
        ])
      })
  )

  const key = cacheKey("tenant", "agent:1", "convo/2")

  it.scopedLive("stores an entry binary-safe under a namespaced key that Redis expires at staleUntil", () =>
    Effect.gen(function* () {
      const { a, b } = yield* twoReplicas
      const stored = entry(60_000)
      yield* a.shared.set(key, stored)
      const found = yield* b.shared.get(key)
      assert.deepStrictEqual(found && [...found.body], [...stored.body])
      const redisKey = `${RedisSharedCache.namespace}:entry:tenant:agent%3A1:convo%2F2`
      const ttl = yield* a.redis.run((client) => client.pttl(redisKey))
      assert.isAbove(ttl, 55_000)
      assert.isAtMost(ttl, 60_000)
      assert.isTrue(yield* b.shared.delete(key))
      assert.isUndefined(yield* a.shared.get(key))
      assert.isFalse(yield* b.shared.delete(key))
    })
  )

  it.scopedLive(
    "a lock is held by one replica at a time, released only by its holder's token, and reads the entry",
    () =>
      Effect.gen(function* () {
        const { a, b } = yield* twoReplicas
        const first = yield* a.shared.lock(key, 10_000)
        assert.isString(first.token)
        assert.isUndefined(first.entry)
        assert.isUndefined((yield* b.shared.lock(key, 10_000)).token)
        yield* b.shared.release(key, "not-the-token")
        assert.isUndefined((yield* b.shared.lock(key, 10_000)).token)
        // The holder stores, then releases: the next one to take the lock gets the entry with it.
        const stored = entry(60_000)
        yield* a.shared.set(key, stored)
        yield* a.shared.release(key, first.token ?? "")
        const second = yield* b.shared.lock(key, 10_000)
        assert.isString(second.token)
        assert.deepStrictEqual(second.entry && [...second.entry.body], [...stored.body])
        // An expired lock is free again.
        assert.isString((yield* a.shared.lock("short", 50)).token)
        yield* Effect.sleep("100 millis")
        assert.isString((yield* b.shared.lock("short", 50)).token)
      })
  )

  it.scopedLive("releasing a lock tells every replica that the key's call ended", () =>
    Effect.gen(function* () {
      const { a, b } = yield* twoReplicas
      const heard: Array<FleetEvent> = []
      yield* b.shared.subscribe((event) => heard.push(event))
      const { token } = yield* a.shared.lock(key, 10_000)
      for (let i = 0; heard.length === 0 && i < 200; i++) {
        yield* a.shared.release(key, token ?? "")
        yield* Effect.sleep("10 millis")
      }
      assert.deepStrictEqual(heard[0], { _tag: "Settled", key })
    })
  )

  it.scopedLive("every replica hears the events each replica publishes", () =>
    Effect.gen(function* () {
      const { a, b } = yield* twoReplicas
      const heard: Array<FleetEvent> = []
      yield* b.shared.subscribe((event) => heard.push(event))
      const sent: Array<FleetEvent> = [
        { _tag: "Settled", key },
        { _tag: "Purged", key }
      ]
      // The subscription is made once the subscriber connection is up.
      for (let i = 0; heard.length === 0 && i < 200; i++) {
        yield* a.shared.publish(sent[0]!)
        yield* Effect.sleep("10 millis")
      }
      heard.length = 0
      yield* a.shared.publish(sent[1]!)
      for (let i = 0; heard.length === 0 && i < 200; i++) yield* Effect.sleep("5 millis")
      assert.deepStrictEqual(heard, [sent[1]])
    })
  )
})
