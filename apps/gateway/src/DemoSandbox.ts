/**
 * Demo mode (`--sandbox`): the sandbox's EU and NA listeners started in this process, on loopback ports of
 * their own, as the gateway's upstream. Its options come from the sandbox's own variables
 * (`CONVOCORE_SANDBOX_FAULT_EU`, `CONVOCORE_SANDBOX_FAULT_NA`, `CONVOCORE_SANDBOX_API_KEYS`,
 * `CONVOCORE_SANDBOX_SEED`), so a demo can start with a region down or slow.
 */
import { Fixtures, Sandbox } from "@convocore-effect/sandbox"
import { Context, Effect, Layer } from "effect"

export const demoApiKey = Fixtures.demoApiKey

export const start = Effect.gen(function* () {
  const options = yield* Sandbox.optionsConfig
  const context = yield* Layer.build(Sandbox.layerListening({ ...options, host: "127.0.0.1", port: 0 }))
  return {
    ...Context.get(context, Sandbox.Listening),
    /** Whether callers use the published demo key (no `CONVOCORE_SANDBOX_API_KEYS` given). */
    demoKey: options.apiKeys === undefined
  }
})
