/** `CONVOCORE_MAX_RATE` / `maxRate`, the rate controller's ceiling. */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either } from "effect"
import { ConvocoreConfig, config } from "../src/ConvocoreConfig.js"

const fromEnv = (env: Record<string, string>) =>
  Effect.either(Effect.withConfigProvider(config, ConfigProvider.fromMap(new Map(Object.entries(env)))))

const key = "vg_SECRET_test_key_123"

describe("maxRate", () => {
  it.effect("unset: no ceiling; CONVOCORE_MAX_RATE sets requests per second, fractions too", () =>
    Effect.gen(function* () {
      assert.strictEqual(Either.getOrThrow(yield* fromEnv({ CONVOCORE_API_KEY: key })).maxRate, undefined)
      const set = yield* fromEnv({ CONVOCORE_API_KEY: key, CONVOCORE_MAX_RATE: "45" })
      assert.strictEqual(Either.getOrThrow(set).maxRate, 45)
      const slow = yield* ConvocoreConfig.make({ apiKey: key, maxRate: 0.5 })
      assert.strictEqual(slow.maxRate, 0.5)
    })
  )

  it.effect("zero, negative, infinite or not a number is refused, naming the field or the variable", () =>
    Effect.gen(function* () {
      // Given in code, a setting is named by its field; read from the environment, by its variable.
      for (const maxRate of [0, -3, Number.POSITIVE_INFINITY, Number.NaN]) {
        const refused = yield* Effect.flip(ConvocoreConfig.make({ apiKey: key, maxRate }))
        assert.include(String(refused), "maxRate: ")
        assert.include(String(refused), "is not a positive number of requests per second")
      }
      const text = yield* fromEnv({ CONVOCORE_API_KEY: key, CONVOCORE_MAX_RATE: "fast" })
      assert.isTrue(Either.isLeft(text))
      assert.include(
        String(Either.getLeft(text).pipe((o) => (o._tag === "Some" ? o.value : ""))),
        "CONVOCORE_MAX_RATE"
      )
    })
  )
})
