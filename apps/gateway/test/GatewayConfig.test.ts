import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Redacted } from "effect"
import { GatewayConfig, type RawSettings, validate, variables } from "../src/GatewayConfig.js"
import { usage } from "../src/Main.js"
import { nothingSet } from "./services/Stack.js"

const empty: RawSettings = nothingSet

const problems = (input: Partial<RawSettings>) =>
  Either.match(validate({ ...empty, ...input }), { onLeft: (p) => p, onRight: () => [] })

describe("GatewayConfig", () => {
  it("defaults to forward mode on 0.0.0.0:8080 with a 30 s TTL", () => {
    const settings = Either.getOrThrow(validate(empty))
    assert.strictEqual(settings.auth, "forward")
    assert.strictEqual(settings.port, 8080)
    assert.strictEqual(settings.host, "0.0.0.0")
    assert.strictEqual(settings.cache.ttlMs, 30_000)
    assert.strictEqual(settings.cache.maxEntries, 10_000)
  })

  it("keeps the demo (a published key) on loopback unless HOST says otherwise", () => {
    assert.strictEqual(Either.getOrThrow(validate({ ...empty, sandbox: "1" })).host, "127.0.0.1")
    assert.strictEqual(
      Either.getOrThrow(validate({ ...empty, sandbox: "1", host: "0.0.0.0" })).host,
      "0.0.0.0"
    )
  })

  it("reads durations in the grammar every package shares; a bare number is milliseconds", () => {
    const ttl = (cacheTtl: string) => Either.getOrThrow(validate({ ...empty, cacheTtl })).cache.ttlMs
    assert.strictEqual(ttl("1500"), 1500)
    assert.strictEqual(ttl("30s"), 30_000)
    assert.strictEqual(ttl("5m"), 300_000)
    assert.strictEqual(ttl("10 seconds"), 10_000)
    assert.strictEqual(ttl("1.5m"), 90_000)
    assert.strictEqual(ttl("0"), 0)
    assert.strictEqual(
      Either.getOrThrow(validate({ ...empty, shutdownTimeout: "25 seconds" })).shutdownTimeoutMs,
      25_000
    )
    assert.strictEqual(
      Either.getOrThrow(validate({ ...empty, staleIfError: "1h" })).cache.staleIfErrorMs,
      3_600_000
    )
    assert.deepStrictEqual(problems({ cacheTtl: "soon" }), [
      'GATEWAY_CACHE_TTL: "soon" is not a duration; expected milliseconds (5000) or a number with a unit, such as 500ms, 2s, 1.5m, 1h or "10 seconds"'
    ])
    assert.match(problems({ staleIfError: "-5m" })[0] ?? "", /^GATEWAY_STALE_IF_ERROR: "-5m" is negative/)
  })

  it("reads GATEWAY_LIST_CACHE_TTL as a duration, 5 s unless set, 0 turning list caching off", () => {
    const listTtl = (listCacheTtl?: string) =>
      Either.getOrThrow(validate({ ...empty, listCacheTtl })).cache.listTtlMs
    assert.strictEqual(listTtl(), 5_000)
    assert.strictEqual(listTtl("2s"), 2_000)
    assert.strictEqual(listTtl("0"), 0)
    assert.strictEqual(Either.getOrThrow(validate({ ...empty, listCacheTtl: "2s" })).cache.ttlMs, 30_000)
    assert.deepStrictEqual(problems({ listCacheTtl: "briefly" }), [
      'GATEWAY_LIST_CACHE_TTL: "briefly" is not a duration; expected milliseconds (5000) or a number with a unit, such as 500ms, 2s, 1.5m, 1h or "10 seconds"'
    ])
  })

  it("reads GATEWAY_REDIS_URL without ever echoing its password", () => {
    const redis = (redisUrl: string, redisTimeout?: string) =>
      Either.getOrThrow(
        validate({
          ...empty,
          redisUrl: Redacted.make(redisUrl),
          ...(redisTimeout === undefined ? {} : { redisTimeout })
        })
      ).redis
    assert.isUndefined(Either.getOrThrow(validate(empty)).redis)
    const plain = redis("redis://127.0.0.1:6380/2")
    assert.strictEqual(plain?.location, "redis://127.0.0.1:6380/2")
    assert.strictEqual(plain?.commandTimeoutMs, 250)
    const tls = redis("rediss://worker:s3cret-pass@cache.internal:6379", "50ms")
    assert.strictEqual(tls?.location, "rediss://cache.internal:6379")
    assert.strictEqual(tls?.commandTimeoutMs, 50)
    assert.strictEqual(Redacted.value(tls!.url), "rediss://worker:s3cret-pass@cache.internal:6379")
    assert.notInclude(String(tls?.url), "s3cret")

    const refused = (redisUrl: string) => problems({ redisUrl: Redacted.make(redisUrl) })
    assert.deepStrictEqual(refused("http://:s3cret-pass@cache.internal:6379"), [
      'GATEWAY_REDIS_URL: the scheme "http:" is not a Redis one: expected redis:// or rediss:// (TLS)'
    ])
    assert.deepStrictEqual(refused("redis://:s3cret-pass@cache/zero"), [
      'GATEWAY_REDIS_URL: "redis://cache/zero": the path must be a database number, as in redis://host:6379/0'
    ])
    assert.deepStrictEqual(refused("cache:6379 s3cret-pass"), [
      'GATEWAY_REDIS_URL: the scheme "cache:" is not a Redis one: expected redis:// or rediss:// (TLS)'
    ])
    assert.deepStrictEqual(refused("s3cret-pass"), [
      "GATEWAY_REDIS_URL: is not a URL: expected redis://host:port[/db] or rediss://host:port[/db]"
    ])
    assert.deepStrictEqual(problems({ redisTimeout: "1s" }), [
      "GATEWAY_REDIS_TIMEOUT is set, but GATEWAY_REDIS_URL is not: set both or neither"
    ])
    assert.deepStrictEqual(problems({ redisUrl: Redacted.make("redis://cache"), redisTimeout: "0" }), [
      "GATEWAY_REDIS_TIMEOUT: must be more than 0"
    ])
  })

  it("reads GATEWAY_UPSTREAM_RATE as a positive number of requests per second", () => {
    const rate = (upstreamRate: string) =>
      Either.getOrThrow(validate({ ...empty, upstreamRate })).upstreamRate
    assert.isUndefined(Either.getOrThrow(validate(empty)).upstreamRate)
    assert.strictEqual(rate("45"), 45)
    assert.strictEqual(rate(" 0.5 "), 0.5)
    for (const bad of ["0", "-3", "fast", "", "Infinity", "45/s"])
      assert.deepStrictEqual(problems({ upstreamRate: bad }), [
        `GATEWAY_UPSTREAM_RATE: ${JSON.stringify(bad)} is not a positive number of requests per second`
      ])
  })

  it("reads stale-while-revalidate (off by default) and the lock timeout, which only Redis uses", () => {
    const settings = Either.getOrThrow(validate(empty))
    assert.strictEqual(settings.cache.staleWhileRevalidateMs, 0)
    assert.strictEqual(settings.cache.lockTimeoutMs, 3_000)
    assert.strictEqual(
      Either.getOrThrow(validate({ ...empty, staleWhileRevalidate: "1m" })).cache.staleWhileRevalidateMs,
      60_000
    )
    const redisUrl = Redacted.make("redis://cache:6379")
    assert.strictEqual(
      Either.getOrThrow(validate({ ...empty, redisUrl, cacheLockTimeout: "500ms" })).cache.lockTimeoutMs,
      500
    )
    assert.deepStrictEqual(problems({ cacheLockTimeout: "2s" }), [
      "GATEWAY_CACHE_LOCK_TIMEOUT is set, but GATEWAY_REDIS_URL is not: replicas wait on each other only through Redis"
    ])
    assert.deepStrictEqual(problems({ redisUrl, cacheLockTimeout: "0" }), [
      "GATEWAY_CACHE_LOCK_TIMEOUT: must be more than 0"
    ])
    assert.match(problems({ staleWhileRevalidate: "soon" })[0] ?? "", /^GATEWAY_STALE_WHILE_REVALIDATE: /)
  })

  it("echoes at most the start of a long value", () => {
    const found = problems({ port: "9".repeat(1_048_576), auth: "a".repeat(1_048_576) })
    assert.strictEqual(found.length, 2)
    for (const problem of found) {
      assert.isBelow(problem.length, 200)
      assert.include(problem, "…(1048576 chars)")
    }
  })

  it("lists every problem at once, each naming its variable", () => {
    const found = problems({ port: "http", cacheTtl: "soon", cacheMaxEntries: "-1", auth: "open" })
    assert.strictEqual(found.length, 4)
    assert.match(found[0] ?? "", /^PORT: "http"/)
    assert.isTrue(found.some((p) => p.startsWith("GATEWAY_CACHE_TTL")))
    assert.isTrue(found.some((p) => p.startsWith("GATEWAY_CACHE_MAX_ENTRIES")))
    assert.isTrue(found.some((p) => p.startsWith('GATEWAY_AUTH: "open"')))
  })

  it("is never open: own-key mode needs caller tokens, long ones, and the gateway's key", () => {
    assert.match(
      problems({ auth: "own-key", apiKeySet: true })[0] ?? "",
      /GATEWAY_CALLER_TOKENS: own-key mode/
    )
    assert.match(
      problems({ callerTokens: Redacted.make("short"), apiKeySet: true })[0] ?? "",
      /shorter than 16/
    )
    assert.match(
      problems({ callerTokens: Redacted.make("a-long-enough-caller-token") })[0] ?? "",
      /CONVOCORE_API_KEY/
    )
    const ok = Either.getOrThrow(
      validate({
        ...empty,
        callerTokens: Redacted.make(" one-long-caller-token-1 ,two-long-caller-token-2 "),
        apiKeySet: true
      })
    )
    assert.strictEqual(ok.auth, "own-key")
    assert.deepStrictEqual(ok.callerTokens.map(Redacted.value), [
      "one-long-caller-token-1",
      "two-long-caller-token-2"
    ])
  })

  it("refuses an upstream key with no caller tokens instead of guessing the mode", () => {
    assert.match(
      problems({ apiKeySet: true })[0] ?? "",
      /CONVOCORE_API_KEY is set but GATEWAY_CALLER_TOKENS is not/
    )
    assert.deepStrictEqual(problems({ apiKeySet: true, auth: "forward" }), [])
  })

  it.effect("reads the environment through Effect Config", () =>
    Effect.gen(function* () {
      const settings = yield* GatewayConfig.read.pipe(
        Effect.withConfigProvider(
          ConfigProvider.fromMap(
            new Map([
              ["PORT", "9090"],
              ["GATEWAY_CACHE_TTL", "30s"],
              ["GATEWAY_CALLER_TOKENS", "caller-token-0123456789"],
              ["CONVOCORE_API_KEY", "vg_key"]
            ])
          )
        )
      )
      assert.strictEqual(settings.port, 9090)
      assert.strictEqual(settings.cache.ttlMs, 30_000)
      assert.strictEqual(settings.auth, "own-key")
      const refused = yield* Effect.flip(
        GatewayConfig.read.pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["PORT", "99999"]])))
        )
      )
      assert.deepStrictEqual(refused.problems, ['PORT: "99999" is not a whole number from 0 to 65535'])
    })
  )
})

describe("--help", () => {
  it("names every variable the gateway reads, each line within 110 columns", () => {
    for (const name of Object.values(variables)) assert.include(usage, name)
    for (const line of usage.split("\n")) assert.isAtMost(line.length, 110, line)
  })
})
