import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Redacted } from "effect"
import { ConvocoreConfig, config } from "../src/ConvocoreConfig.js"

const fromEnv = (env: Record<string, string>) =>
  Effect.either(Effect.withConfigProvider(config, ConfigProvider.fromMap(new Map(Object.entries(env)))))

const key = "vg_SECRET_test_key_123"

describe("ConvocoreConfig", () => {
  it.effect("only the key set: every default of docs/design.md", () =>
    Effect.gen(function* () {
      const settings = Either.getOrThrow(yield* fromEnv({ CONVOCORE_API_KEY: key }))
      assert.strictEqual(Redacted.value(settings.apiKey), key)
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
      assert.strictEqual(Redacted.value(alias.apiKey), "vg_alias")
      const both = Either.getOrThrow(yield* fromEnv({ WORKSPACE_SECRET: "vg_alias", CONVOCORE_API_KEY: key }))
      assert.strictEqual(Redacted.value(both.apiKey), key)
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
      assert.strictEqual(Redacted.value(settings.apiKey), key)
      assert.notInclude(String(settings.apiKey), key)
    })
  )
})
