import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Exit, Layer } from "effect"
import { FaultSpec, Fixtures, Sandbox } from "../src/index.js"
import { convo, get } from "./services/Http.js"

describe("Sandbox", () => {
  it.effect("reads its options from configuration, validating fault specs", () =>
    Effect.gen(function* () {
      const options = yield* Effect.withConfigProvider(
        Sandbox.optionsConfig,
        ConfigProvider.fromMap(
          new Map([
            ["CONVOCORE_SANDBOX_SEED", "7"],
            ["CONVOCORE_SANDBOX_API_KEYS", "vg_a, vg_b"],
            ["CONVOCORE_SANDBOX_FAULT_EU", "status=503,first=2"]
          ])
        )
      )
      assert.strictEqual(options.seed, 7)
      assert.strictEqual(options.apiKeys?.length, 2)
      assert.deepStrictEqual(options.faults?.eu, Either.getOrThrow(FaultSpec.parse("status=503,first=2")))
      assert.isUndefined(options.faults?.na)
      const sandbox = yield* Sandbox.make(options)
      assert.strictEqual((yield* sandbox.faults("eu")).spec, "status=503,first=2")

      const invalid = yield* Effect.exit(
        Effect.withConfigProvider(
          Sandbox.optionsConfig,
          ConfigProvider.fromMap(new Map([["CONVOCORE_SANDBOX_FAULT_NA", "status=200"]]))
        )
      )
      assert.isTrue(Exit.isFailure(invalid))
      if (Exit.isFailure(invalid)) assert.include(String(invalid.cause), "expected an HTTP error status")
    })
  )

  it.effect(
    "reads the conversations per agent from CONVOCORE_SANDBOX_CONVERSATIONS, refusing a negative count",
    () =>
      Effect.gen(function* () {
        const read = (value: string) =>
          Effect.withConfigProvider(
            Sandbox.optionsConfig,
            ConfigProvider.fromMap(new Map([["CONVOCORE_SANDBOX_CONVERSATIONS", value]]))
          )
        const options = yield* read("3")
        assert.strictEqual(options.conversationsPerAgent, 3)
        const sandbox = yield* Sandbox.make(options)
        const reply = yield* sandbox.handle("eu", {
          method: "GET",
          url: "/v3/agents/agent-env/convos",
          headers: { authorization: `Bearer ${Fixtures.demoApiKey}` },
          body: ""
        })
        assert.strictEqual(
          reply._tag === "Respond" && JSON.parse(new TextDecoder().decode(reply.body)).data.length,
          3
        )
        const negative = yield* Effect.exit(read("-1"))
        assert.isTrue(Exit.isFailure(negative))
        if (Exit.isFailure(negative)) assert.include(String(negative.cause), "whole number of conversations")
      })
  )

  it.effect("refuses an invalid fault spec, at start and at run time, and keeps the old faults", () =>
    Effect.gen(function* () {
      const atStart = yield* Effect.flip(Sandbox.make({ faults: { eu: "latency=fast" } }))
      assert.strictEqual(atStart._tag, "FaultSpecError")
      const sandbox = yield* Sandbox.make({ faults: { eu: "status=500" } })
      const atRunTime = yield* Effect.flip(sandbox.setFaults("eu", "down,first=1"))
      assert.include(atRunTime.message, 'cannot be bounded by "first"')
      assert.strictEqual((yield* sandbox.faults("eu")).spec, "status=500")
    })
  )

  it.scopedLive("layerListening serves both regions on their own ports and exposes their URLs", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(Sandbox.layerListening({ port: 0, seed: 3 }))
      const listening = Effect.provide(Sandbox.Listening, context)
      const { ports, urls } = yield* listening
      assert.notStrictEqual(ports.eu, ports.na)
      assert.strictEqual(urls.eu, `http://127.0.0.1:${ports.eu}/v3`)
      const got = yield* get(convo(urls.na, Fixtures.demoAgent, Fixtures.ids.seedExample))
      assert.strictEqual(got.status, 200)
      assert.strictEqual(got.headers.get("x-sandbox-region"), "na")
    })
  )
})
