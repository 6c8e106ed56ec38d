/**
 * Gateway replicas for a test: the sandbox's listeners on loopback ports and `replicas` gateways in front
 * of them, each on a port of its own, all for the life of the test's scope. Calls pinned to EU, so that a
 * rate limit on EU is the one budget the replicas share.
 */
import type { ConvocoreConfigInput } from "@convocore-effect/client"
import type { Sandbox } from "@convocore-effect/sandbox"
import { Effect, Logger, LogLevel } from "effect"
import type { RawSettings } from "../../src/GatewayConfig.js"
import * as GatewayServer from "../../src/GatewayServer.js"
import {
  bearer,
  clientSettings,
  conversationPath,
  demoKey,
  fetchRaw,
  gatewaySettings,
  metricValue,
  startSandbox
} from "./Stack.js"

export interface FleetOptions {
  readonly replicas: number
  readonly sandbox: Sandbox.SandboxOptions
  readonly gateway: Partial<RawSettings>
  readonly client?: Partial<ConvocoreConfigInput>
}

export const startFleet = (options: FleetOptions) =>
  Effect.gen(function* () {
    const { sandbox, listening } = yield* startSandbox(options.sandbox)
    const settings = gatewaySettings(options.gateway)
    const client = yield* clientSettings(listening, {
      region: "eu",
      regionPolicy: "pinned",
      deadline: 20_000,
      ...options.client
    })
    const gateways = yield* Effect.forEach(Array.from({ length: options.replicas }), () =>
      GatewayServer.start(settings, client).pipe(
        Logger.withMinimumLogLevel(process.env.GATEWAY_TEST_LOGS === "1" ? LogLevel.Debug : LogLevel.None)
      )
    )

    /** One conversation through replica `i`: its status. */
    const get = (i: number, convoId: string) =>
      Effect.promise(() =>
        fetchRaw(`${gateways[i % gateways.length]!.url}${conversationPath(convoId)}`, bearer(demoKey))
      )
    /** `count` distinct conversations at once, spread over the replicas in turn; their statuses. */
    const burst = (count: number, prefix: string) =>
      Effect.forEach(
        Array.from({ length: count }, (_, i) => i),
        (i) => Effect.map(get(i, `${prefix}-${i}`), (answer) => answer.status),
        { concurrency: "unbounded" }
      )
    const metric = (i: number, name: string, labels = "") =>
      Effect.map(
        Effect.promise(() => fetchRaw(`${gateways[i]!.url}/metrics`)),
        (answer) => metricValue(answer.text, name, labels)
      )
    /** What EU saw: requests and how many it refused with 429. */
    const upstream = Effect.map(sandbox.counters("eu"), (counters) => ({
      requests: counters.requests,
      limited: counters.byOutcome["rate-limited"] ?? 0
    }))
    return { sandbox, gateways, get, burst, metric, upstream }
  })
