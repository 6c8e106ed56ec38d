import { assert, describe, it } from "@effect/vitest"
import { ConfigError, ConfigProvider, Duration, Effect, Either, Redacted } from "effect"
import { ConvocoreConfig, config, configWith } from "../src/ConvocoreConfig.js"

const fromEnv = (env: Record<string, string>) =>
  Effect.either(Effect.withConfigProvider(config, ConfigProvider.fromMap(new Map(Object.entries(env)))))

const key = "vg_SECRET_test_key_123"

describe("ConvocoreConfig", () => {
  it.effect("CONVOCORE_HEDGE_DELAY: a duration, adaptive or off; anything else names the variable", () =>
    Effect.gen(function* () {
      const adaptive = Either.getOrThrow(
        yield* fromEnv({ CONVOCORE_API_KEY: key, CONVOCORE_HEDGE_DELAY: "adaptive" })
      )
      assert.strictEqual(adaptive.hedgeDelayMs, "adaptive")
      const fixed = Either.getOrThrow(
        yield* fromEnv({ CONVOCORE_API_KEY: key, CONVOCORE_HEDGE_DELAY: "250ms" })
      )
      assert.strictEqual(fixed.hedgeDelayMs, 250)
      const off = Either.getOrThrow(yield* fromEnv({ CONVOCORE_API_KEY: key, CONVOCORE_HEDGE_DELAY: "off" }))
      assert.strictEqual(off.hedgeDelayMs, undefined)
      const wrong = yield* fromEnv({ CONVOCORE_API_KEY: key, CONVOCORE_HEDGE_DELAY: "soon" })
      assert.isTrue(Either.isLeft(wrong))
      if (Either.isLeft(wrong))
        assert.match(String(wrong.left), /CONVOCORE_HEDGE_DELAY: .*or "adaptive", or "off"/)
    })
  )

  it.effect("only the key set: every default of docs/design.md", () =>
    Effect.gen(function* () {
      const settings = Either.getOrThrow(yield* fromEnv({ CONVOCORE_API_KEY: key }))
      assert.strictEqual(settings.apiKey === undefined ? undefined : Redacted.value(settings.apiKey), key)
      assert.strictEqual(settings.region, "eu")
      assert.deepStrictEqual(settings.endpoints, {
        _tag: "Regions",
        urls: { eu: "https://eu-gcp-api.vg-stuff.com/v3", na: "https://na-gcp-api.vg-stuff.com/v3" }
      })
      assert.strictEqual(settings.regionPolicy, "failover")
      assert.strictEqual(settings.attemptTimeoutMs, 10_000)
      assert.strictEqual(settings.deadlineMs, 30_000)
      assert.strictEqual(settings.maxAttempts, 4)
      assert.strictEqual(settings.backoffBaseMs, 500)
      assert.strictEqual(settings.backoffMaxMs, 8_000)
      assert.strictEqual(settings.retryAfterCapMs, 60_000)
      assert.strictEqual(settings.hedgeDelayMs, undefined)
      assert.deepStrictEqual(settings.breaker, {
        failureThreshold: 5,
        cooldownMs: 30_000,
        cooldownMaxMs: 300_000
      })
    })
  )

  it.effect("WORKSPACE_SECRET is accepted; CONVOCORE_API_KEY wins when both are set", () =>
    Effect.gen(function* () {
      const alias = Either.getOrThrow(yield* fromEnv({ WORKSPACE_SECRET: "vg_alias" }))
      assert.strictEqual(alias.apiKey === undefined ? undefined : Redacted.value(alias.apiKey), "vg_alias")
      const both = Either.getOrThrow(yield* fromEnv({ WORKSPACE_SECRET: "vg_alias", CONVOCORE_API_KEY: key }))
      assert.strictEqual(both.apiKey === undefined ? undefined : Redacted.value(both.apiKey), key)
    })
  )

  it.effect("a missing key names the variables that were read", () =>
    Effect.gen(function* () {
      const result = yield* fromEnv({ CONVOCORE_REGION: "na" })
      assert.isTrue(Either.isLeft(result))
      const message = String(Either.getLeft(result).pipe((o) => (o._tag === "Some" ? o.value : "")))
      assert.include(message, "CONVOCORE_API_KEY")
      assert.include(message, "WORKSPACE_SECRET")
    })
  )

  it.effect("regions: eu, na, eu-gcp, na-gcp in any case, under either name", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
        [{ CONVOCORE_REGION: "na" }, "na"],
        [{ CONVOCORE_REGION: "NA-GCP" }, "na"],
        [{ CONVOCORE_API_REGION: "na-gcp" }, "na"],
        [{ CONVOCORE_API_REGION: "eu-gcp" }, "eu"],
        [{ CONVOCORE_REGION: "eu", CONVOCORE_API_REGION: "na" }, "eu"]
      ]
      for (const [env, region] of cases) {
        const settings = Either.getOrThrow(yield* fromEnv({ CONVOCORE_API_KEY: key, ...env }))
        assert.strictEqual(settings.region, region, JSON.stringify(env))
      }
    })
  )

  it.effect("an unknown region is refused with the names read and the accepted values", () =>
    Effect.gen(function* () {
      const result = yield* fromEnv({ CONVOCORE_API_KEY: key, CONVOCORE_API_REGION: "mars" })
      const message = Either.isLeft(result) ? String(result.left) : ""
      assert.include(message, "CONVOCORE_REGION / CONVOCORE_API_REGION")
      assert.include(message, "mars")
      assert.include(message, "eu, na, eu-gcp or na-gcp")
      assert.notInclude(message, key)
    })
  )

  it.effect("per-region URLs, and one base URL (either name) for a single endpoint with no failover", () =>
    Effect.gen(function* () {
      const regions = Either.getOrThrow(
        yield* fromEnv({
          CONVOCORE_API_KEY: key,
          CONVOCORE_EU_URL: "http://127.0.0.1:1/v3/",
          CONVOCORE_NA_URL: "http://127.0.0.1:2/v3"
        })
      )
      assert.deepStrictEqual(regions.endpoints, {
        _tag: "Regions",
        urls: { eu: "http://127.0.0.1:1/v3", na: "http://127.0.0.1:2/v3" }
      })
      for (const name of ["CONVOCORE_BASE_URL", "CONVOCORE_API_BASE_URL"]) {
        const single = Either.getOrThrow(
          yield* fromEnv({ CONVOCORE_API_KEY: key, [name]: "http://localhost:5000/v3" })
        )
        assert.deepStrictEqual(single.endpoints, { _tag: "Single", url: "http://localhost:5000/v3" })
      }
      const bad = yield* fromEnv({ CONVOCORE_API_KEY: key, CONVOCORE_NA_URL: "not a url" })
      assert.include(Either.isLeft(bad) ? String(bad.left) : "", "CONVOCORE_NA_URL")
    })
  )

  it.effect("timeouts, attempts and policies can be set; durations as milliseconds or Effect syntax", () =>
    Effect.gen(function* () {
      const settings = Either.getOrThrow(
        yield* fromEnv({
          CONVOCORE_API_KEY: key,
          CONVOCORE_ATTEMPT_TIMEOUT: "2500",
          CONVOCORE_DEADLINE: "15 seconds",
          CONVOCORE_MAX_ATTEMPTS: "6",
          CONVOCORE_REGION_POLICY: "pinned",
          CONVOCORE_HEDGE_DELAY: "300 millis",
          CONVOCORE_BREAKER_THRESHOLD: "3"
        })
      )
      assert.strictEqual(settings.attemptTimeoutMs, 2500)
      assert.strictEqual(settings.deadlineMs, 15_000)
      assert.strictEqual(settings.maxAttempts, 6)
      assert.strictEqual(settings.regionPolicy, "pinned")
      assert.strictEqual(settings.hedgeDelayMs, 300)
      assert.strictEqual(settings.breaker.failureThreshold, 3)
      const bad = yield* fromEnv({ CONVOCORE_API_KEY: key, CONVOCORE_DEADLINE: "soon" })
      assert.include(Either.isLeft(bad) ? String(bad.left) : "", "CONVOCORE_DEADLINE")
      const policy = yield* fromEnv({ CONVOCORE_API_KEY: key, CONVOCORE_REGION_POLICY: "random" })
      assert.include(Either.isLeft(policy) ? String(policy.left) : "", "failover, pinned or auto")
      const attempts = yield* fromEnv({ CONVOCORE_API_KEY: key, CONVOCORE_MAX_ATTEMPTS: "0" })
      assert.include(Either.isLeft(attempts) ? String(attempts.left) : "", "CONVOCORE_MAX_ATTEMPTS")
    })
  )

  it.effect("programmatic construction is validated the same way", () =>
    Effect.gen(function* () {
      const settings = yield* ConvocoreConfig.make({ apiKey: key, region: "na-gcp", deadline: "5 seconds" })
      assert.strictEqual(settings.region, "na")
      assert.strictEqual(settings.deadlineMs, 5000)
      const empty = yield* Effect.either(ConvocoreConfig.make({ apiKey: "  " }))
      assert.include(Either.isLeft(empty) ? String(empty.left) : "", "empty")
      const viaLayer = yield* Effect.either(
        Effect.provide(ConvocoreConfig, ConvocoreConfig.layer({ apiKey: Redacted.make(key), region: "asia" }))
      )
      assert.isTrue(Either.isLeft(viaLayer))
    })
  )

  it.effect("layerConfig reads the current ConfigProvider", () =>
    Effect.gen(function* () {
      const settings = yield* Effect.provide(ConvocoreConfig, ConvocoreConfig.layerConfig).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["WORKSPACE_SECRET", key]])))
      )
      assert.strictEqual(settings.apiKey === undefined ? undefined : Redacted.value(settings.apiKey), key)
      assert.notInclude(String(settings.apiKey), key)
    })
  )

  it.effect(
    "every duration variable takes the shared grammar: 30s, 1.5m, 10 seconds, and bare milliseconds",
    () =>
      Effect.gen(function* () {
        const settings = Either.getOrThrow(
          yield* fromEnv({
            CONVOCORE_API_KEY: key,
            CONVOCORE_DEADLINE: "30s",
            CONVOCORE_ATTEMPT_TIMEOUT: "5000",
            CONVOCORE_BACKOFF_BASE: "250ms",
            CONVOCORE_BACKOFF_MAX: "1.5m",
            CONVOCORE_RETRY_AFTER_CAP: "2 minutes",
            CONVOCORE_HEDGE_DELAY: "0.5s",
            CONVOCORE_BREAKER_COOLDOWN: "1 hour",
            CONVOCORE_BREAKER_COOLDOWN_MAX: "2h"
          })
        )
        assert.strictEqual(settings.deadlineMs, 30_000)
        assert.strictEqual(settings.attemptTimeoutMs, 5000)
        assert.strictEqual(settings.backoffBaseMs, 250)
        assert.strictEqual(settings.backoffMaxMs, 90_000)
        assert.strictEqual(settings.retryAfterCapMs, 120_000)
        assert.strictEqual(settings.hedgeDelayMs, 500)
        assert.deepStrictEqual(settings.breaker, {
          failureThreshold: 5,
          cooldownMs: 3_600_000,
          cooldownMaxMs: 7_200_000
        })
      })
  )

  it.effect("several bad variables are all reported at once, each by its name", () =>
    Effect.gen(function* () {
      const result = yield* fromEnv({
        CONVOCORE_DEADLINE: "soon",
        CONVOCORE_ATTEMPT_TIMEOUT: "-1s",
        CONVOCORE_REGION: "mars",
        CONVOCORE_MAX_ATTEMPTS: "many",
        CONVOCORE_EU_URL: "ftp://example.com"
      })
      assert.isTrue(Either.isLeft(result))
      const error = Either.isLeft(result) ? result.left : ConfigError.MissingData([], "")
      const text = String(error)
      for (const name of [
        "CONVOCORE_API_KEY",
        "CONVOCORE_DEADLINE",
        "CONVOCORE_ATTEMPT_TIMEOUT",
        "CONVOCORE_REGION",
        "CONVOCORE_MAX_ATTEMPTS",
        "CONVOCORE_EU_URL"
      ])
        assert.include(text, name)
      assert.include(text, '"-1s" is negative')
      assert.include(text, "not an http(s) URL")
    })
  )

  it.effect("a zero deadline or timeout is refused: a call could never start", () =>
    Effect.gen(function* () {
      const result = yield* fromEnv({
        CONVOCORE_API_KEY: key,
        CONVOCORE_DEADLINE: "0s",
        CONVOCORE_ATTEMPT_TIMEOUT: "0"
      })
      const text = Either.isLeft(result) ? String(result.left) : ""
      assert.include(text, "CONVOCORE_DEADLINE: must be positive")
      assert.include(text, "CONVOCORE_ATTEMPT_TIMEOUT: must be positive")
    })
  )

  it.effect("an echoed value is cut: a 1 MB variable makes a short message", () =>
    Effect.gen(function* () {
      const result = yield* fromEnv({
        CONVOCORE_API_KEY: key,
        CONVOCORE_REGION_POLICY: "p".repeat(1_048_576)
      })
      const text = Either.isLeft(result) ? String(result.left) : ""
      assert.include(text, "…(1048576 chars) is not a region policy")
      assert.isBelow(text.length, 400)
    })
  )

  it.effect("values given in code win over the environment, which still fills the rest", () =>
    Effect.gen(function* () {
      const env = ConfigProvider.fromMap(
        new Map([
          ["CONVOCORE_API_KEY", key],
          ["CONVOCORE_DEADLINE", "not a duration, but overridden"],
          ["CONVOCORE_REGION", "na"]
        ])
      )
      const settings = yield* Effect.withConfigProvider(
        configWith({ deadline: Duration.seconds(2), attemptTimeout: "750ms" }),
        env
      )
      assert.strictEqual(settings.deadlineMs, 2000)
      assert.strictEqual(settings.attemptTimeoutMs, 750)
      assert.strictEqual(settings.region, "na")
      const refused = yield* Effect.flip(Effect.withConfigProvider(configWith({ deadline: "soon" }), env))
      assert.include(String(refused), "deadline: ")
      assert.notInclude(String(refused), "CONVOCORE_DEADLINE")
    })
  )

  it.effect("code input is checked whole too: every bad field at once, and the environment is not read", () =>
    Effect.gen(function* () {
      const refused = yield* Effect.flip(
        ConvocoreConfig.make({ apiKey: key, deadline: -5, region: "mars", concurrency: 0 })
      )
      const text = String(refused)
      assert.include(text, "deadline: ")
      assert.include(text, "region: ")
      assert.include(text, "concurrency: ")
      const settings = yield* ConvocoreConfig.make({ apiKey: key }).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["CONVOCORE_REGION", "na"]])))
      )
      assert.strictEqual(settings.region, "eu")
      const negative = yield* Effect.flip(ConvocoreConfig.make({ apiKey: key, backoffBase: -1 }))
      assert.include(String(negative), "backoffBase: -1 is negative")
    })
  )
})
