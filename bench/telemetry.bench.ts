/**
 * What telemetry costs, both ways: with no `OTEL_*` variable set nothing of it should load or run; with
 * one set, spans and metrics are built and exported.
 *
 * - Hot path: CPU per `Convocore.getConversation` (sequential, over the client's undici transport, on a
 *   bare server in a child process) with no telemetry, and with `Telemetry.layer` exporting spans and
 *   metrics to an in-process OTLP receiver.
 * - Cold start: wall time of the bundled CLI (`--help`, and `conversations get --sandbox`) with no
 *   variable, and with OTEL_EXPORTER_OTLP_ENDPOINT pointing at that receiver.
 * Contenders alternate within each round; medians and ranges over the rounds are reported.
 *
 * Run: `cd bench && npx tsx telemetry.bench.ts` (after a build). `BENCH_ROUNDS` sets the rounds.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Convocore, ConvocoreConfig, UndiciTransport } from "@convocore-effect/client"
import * as Telemetry from "@convocore-effect/client/Telemetry"
import * as OtlpReceiver from "@convocore-effect/sandbox/OtlpReceiver"
import { Effect, Layer, ManagedRuntime } from "effect"
import { median, range, startBareServer } from "./lib/children.js"
import { machine, table } from "./lib/report.js"

process.setSourceMapsEnabled(false)

const rounds = Number(process.env.BENCH_ROUNDS ?? 10)
const calls = 400
const ref = { agentId: "agent123", convoId: "agent123_convo456" }
const cli = fileURLToPath(new URL("../apps/cli/dist/convocore.mjs", import.meta.url))

/** Wall time of one CLI run, spawned asynchronously: the receiver answers its exports from this process. */
const wallMs = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  new Promise<number>((resolve, reject) => {
    const start = performance.now()
    const child = spawn(process.execPath, [cli, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: "ignore"
    })
    child.on("close", (code) =>
      code === 0
        ? resolve(performance.now() - start)
        : reject(new Error(`convocore ${args.join(" ")}: exit ${code}`))
    )
  })

const main = Effect.gen(function* () {
  const receiver = yield* OtlpReceiver.make
  const port = yield* Effect.promise(() => startBareServer())
  const client = Convocore.Default.pipe(
    Layer.provide(UndiciTransport.layer),
    Layer.provide(ConvocoreConfig.layer({ apiKey: "vg_bench_key", baseUrl: `http://127.0.0.1:${port}/v3` }))
  )
  const exporting = Telemetry.layer({
    tracesUrl: `${receiver.url}/v1/traces`,
    metricsUrl: `${receiver.url}/v1/metrics`,
    serviceName: "bench",
    exportInterval: "1 second"
  })
  const runtimes = [
    ["client, no telemetry", ManagedRuntime.make(client)],
    ["client, exporting (protobuf)", ManagedRuntime.make(Layer.merge(client, exporting))]
  ] as const
  const getMany = Effect.flatMap(Convocore, (convocore) =>
    Effect.forEach(Array.from({ length: calls }), () => convocore.getConversation(ref), { discard: true })
  )
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }
  const starts = [
    ["--help, no variable", ["--help"], {}],
    ["--help, OTEL endpoint set", ["--help"], otel],
    ["get --sandbox, no variable", ["conversations", "get", "a", "b", "--sandbox", "--format", "json"], {}],
    [
      "get --sandbox, OTEL endpoint set",
      ["conversations", "get", "a", "b", "--sandbox", "--format", "json"],
      otel
    ]
  ] as const
  const cpu = runtimes.map(() => [] as Array<number>)
  const wall = starts.map(() => [] as Array<number>)
  for (const [, runtime] of runtimes) yield* Effect.promise(() => runtime.runPromise(getMany)) // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const [i, [, runtime]] of runtimes.entries()) {
      const before = process.cpuUsage()
      yield* Effect.promise(() => runtime.runPromise(getMany))
      const used = process.cpuUsage(before)
      cpu[i]?.push((used.user + used.system) / calls)
    }
    for (const [i, [, args, env]] of starts.entries())
      wall[i]?.push(yield* Effect.promise(() => wallMs(args, env)))
  }
  for (const [, runtime] of runtimes) yield* Effect.promise(() => runtime.dispose())
  console.log(machine())
  console.log(
    table(
      ["hot path", "CPU µs per call (median)", "range"],
      runtimes.map(([name], i) => [name, median(cpu[i] ?? []).toFixed(0), range(cpu[i] ?? [])])
    )
  )
  console.log(
    table(
      ["cold start", "wall ms (median)", "range"],
      starts.map(([name], i) => [name, median(wall[i] ?? []).toFixed(0), range(wall[i] ?? [])])
    )
  )
})

Effect.runPromise(Effect.scoped(main)).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
