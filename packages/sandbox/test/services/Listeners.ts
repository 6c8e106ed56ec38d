/** The sandbox on real loopback listeners (ports picked by the kernel), for one scoped test. */
import { Effect } from "effect"
import { Sandbox } from "../../src/index.js"

export const start = (options: Sandbox.SandboxOptions = {}) =>
  Effect.gen(function* () {
    const sandbox = yield* Sandbox.make(options)
    const listening = yield* Effect.provideService(Sandbox.listen({ port: 0 }), Sandbox.Sandbox, sandbox)
    return { sandbox, ...listening }
  })
