/**
 * Client throughput beside the limit: `Convocore.getConversation` (validated, resilient, over the default
 * transport) against plain `undici.request` + `JSON.parse` (the limit: the same HTTP library with nothing
 * around it) and global `fetch` + `JSON.parse` (what a hand-written wrapper does), sequentially and at
 * concurrency 32, on one bare `node:http` server in a child process; and the client once more in a
 * process started with V8's allocation-site pretenuring off. For each: calls per second, CPU time
 * per call (the calling process only) and heap allocated per call (what the garbage collector reclaimed
 * plus what stayed, from V8's GC profiler).
 *
 * Every measured batch runs in a fresh process of its own (this script, started again with
 * `BENCH_CONTENDER`): warmed up with 18,000 calls of its mode (the client's CPU per call settles after
 * about that many), then measured once. In one shared process a contender pays for the heap and the
 * garbage the one before it left: after `fetch`'s batches, the same client calls took about a sixth more
 * CPU, while `undici.request`'s did not move (bench/README.md). Batches rotate through the contenders so
 * that drifts in the machine's load hit all alike; medians and ranges over the rounds are reported, and
 * ratios are taken within each round.
 *
 * Then the client's own cost without sockets: the same calls over a stub dispatcher that answers at once,
 * and the same with two regions and the adaptive hedge armed on every call (the gateway's default).
 *
 * A last table justifies the one place where the client times attempts its own way (AttemptTimer): the
 * cost of a time limit around a trivial asynchronous step, by `Effect.timeoutOption` and by AttemptTimer.
 *
 * Run: `cd bench && npx tsx client-throughput.bench.ts` (after a build). `BENCH_ROUNDS` sets the rounds.
 */
import { spawn } from "node:child_process"
import { loadavg } from "node:os"
import { GCProfiler, getHeapStatistics } from "node:v8"
import {
  Convocore,
  ConvocoreConfig,
  type ConvocoreConfigInput,
  UndiciTransport
} from "@convocore-effect/client"
import * as AttemptTimer from "@convocore-effect/client/AttemptTimer"
import { seedExampleResponse } from "@convocore-effect/schema"
import { HttpClient } from "@effect/platform"
import { Effect, Layer, ManagedRuntime, type Option } from "effect"
import { Agent, type Dispatcher, request } from "undici"
import { median, range, startBareServer } from "./lib/children.js"
import { machine, table } from "./lib/report.js"

// tsx turns on source-mapped stack traces; measure what production runs.
process.setSourceMapsEnabled(false)

const rounds = Number(process.env.BENCH_ROUNDS ?? 10)
const concurrency = 32
const modes = [
  { name: "sequential", calls: 400, parallel: 1 },
  { name: `concurrency ${concurrency}`, calls: 3000, parallel: concurrency }
] as const

const ref = { agentId: "agent123", convoId: "agent123_convo456" }
const apiKey = "vg_bench_key"

interface Sample {
  readonly perSecond: number
  readonly cpuMicros: number
  readonly heapKb: number
}

/** Runs one batch and measures it: wall time, this process's CPU time, and heap allocated. */
const measure = async (calls: number, batch: () => Promise<void>): Promise<Sample> => {
  const profiler = new GCProfiler()
  const heapBefore = getHeapStatistics().used_heap_size
  profiler.start()
  const cpuBefore = process.cpuUsage()
  const start = performance.now()
  await batch()
  const ms = performance.now() - start
  const cpu = process.cpuUsage(cpuBefore)
  const heapAfter = getHeapStatistics().used_heap_size
  const gcs = profiler.stop()?.statistics ?? []
  const reclaimed = gcs.reduce(
    (sum, gc) => sum + gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize,
    0
  )
  return {
    perSecond: (calls / ms) * 1000,
    cpuMicros: (cpu.user + cpu.system) / calls,
    heapKb: (reclaimed + heapAfter - heapBefore) / calls / 1024
  }
}

/** `calls` calls of `call`, `parallel` at a time, as plain promise workers. */
const workers = (call: () => Promise<unknown>, calls: number, parallel: number) => async () => {
  let next = 0
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next++ < calls) await call()
    })
  )
}

const timeLimitSteps = 20_000

/** CPU per step of a trivial asynchronous step with no limit, with `Effect.timeoutOption`, with AttemptTimer. */
const timeLimitCosts = () =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const timer = yield* AttemptTimer.make
        const step = Effect.async<number>((resume) => {
          setImmediate(() => resume(Effect.succeed(1)))
        })
        const limits: ReadonlyArray<readonly [string, (self: typeof step) => Effect.Effect<unknown>]> = [
          ["none", (self) => self],
          ["Effect.timeoutOption", (self) => Effect.timeoutOption(self, "10 seconds")],
          [
            "AttemptTimer.timeoutOption",
            (self): Effect.Effect<Option.Option<number>> => timer.timeoutOption(self, 10_000)
          ]
        ]
        const samples = limits.map(() => [] as Array<number>)
        for (let round = 0; round < rounds; round++) {
          for (const [i, [, limit]] of limits.entries()) {
            const before = process.cpuUsage()
            yield* Effect.forEach(Array.from({ length: timeLimitSteps }), () => limit(step), {
              concurrency,
              discard: true
            })
            const cpu = process.cpuUsage(before)
            samples[i]!.push((cpu.user + cpu.system) / timeLimitSteps)
          }
        }
        return limits.map(([name], i) => ({ name, micros: median(samples[i]!) }))
      })
    )
  )

const stubCalls = 20_000

/**
 * The client's own cost, without sockets: the same calls over `UndiciTransport` with a stub dispatcher
 * that answers at once with the seed's bytes, beside the stub read and parsed alone. On a shared machine
 * this moves far less than the rates above, and heap per call barely at all.
 */
const ownCost = async () => {
  const bytes = new TextEncoder().encode(JSON.stringify(seedExampleResponse))
  const headers = { "content-type": "application/json", "content-length": String(bytes.byteLength) }
  const answer = () => ({
    statusCode: 200,
    headers,
    body: { on: () => {}, destroy: () => {}, arrayBuffer: async () => bytes.slice().buffer }
  })
  // The stub has only what the transport reads of undici's `ResponseData`.
  const dispatcher = { request: async () => answer() as unknown as Dispatcher.ResponseData }
  const clientOver = (config: ConvocoreConfigInput) =>
    ManagedRuntime.make(
      Convocore.Default.pipe(
        Layer.provide(Layer.succeed(HttpClient.HttpClient, UndiciTransport.make(dispatcher))),
        Layer.provide(ConvocoreConfig.layer(config))
      )
    )
  const runtime = clientOver({ apiKey, baseUrl: "http://stub.invalid/v3" })
  // The gateway's default: two regions, and each call races the other region after a learned delay
  // (never reached here: the stub answers at once, so this is what arming the race costs).
  const hedgedRuntime = clientOver({
    apiKey,
    euUrl: "http://eu.stub.invalid/v3",
    naUrl: "http://na.stub.invalid/v3",
    hedgeDelay: "adaptive"
  })
  const callsOver = (over: typeof runtime) => () =>
    over.runPromise(
      Effect.flatMap(Convocore, (convocore) =>
        Effect.forEach(Array.from({ length: stubCalls }), () => convocore.getConversation(ref), {
          concurrency,
          discard: true
        })
      )
    )
  const viaClient = callsOver(runtime)
  const viaHedgedClient = callsOver(hedgedRuntime)
  const stubAlone = workers(
    async () => JSON.parse(new TextDecoder().decode(await (await dispatcher.request()).body.arrayBuffer())),
    stubCalls,
    concurrency
  )
  await viaClient()
  await viaHedgedClient()
  await stubAlone()
  const rows = [
    { name: "convocore client over the stub", run: viaClient, samples: [] as Array<Sample> },
    {
      name: "the same, two regions with the adaptive hedge armed",
      run: viaHedgedClient,
      samples: [] as Array<Sample>
    },
    { name: "the stub alone, read and parsed", run: stubAlone, samples: [] as Array<Sample> }
  ]
  for (let round = 0; round < rounds; round++)
    // These share one process: rotating who goes first spreads what one leaves to the next over all.
    for (let i = 0; i < rows.length; i++) {
      const row = rows[(i + round) % rows.length]!
      row.samples.push(await measure(stubCalls, row.run))
    }
  await runtime.dispose()
  await hedgedRuntime.dispose()
  return rows
}

/**
 * The last contender is the same client in a process started with V8's allocation-site pretenuring off.
 * In this benchmark's processes V8 decides to allocate some of the calls' short-lived objects in the old
 * generation, and those keep the young objects they point to alive through every scavenge until the
 * next full collection (bench/README.md, client section); the row shows what that costs here.
 */
const pretenuringOff = "--no-allocation-site-pretenuring"
const contenders = [
  { name: "undici.request + JSON.parse", calls: "undici", nodeFlags: [] },
  { name: "fetch + JSON.parse", calls: "fetch", nodeFlags: [] },
  { name: "convocore client", calls: "client", nodeFlags: [] },
  { name: `convocore client, node ${pretenuringOff}`, calls: "client", nodeFlags: [pretenuringOff] }
] as const
type Contender = (typeof contenders)[number]
type Name = Contender["name"]
type Mode = (typeof modes)[number]

/**
 * Calls before the measured batch, in batches of the mode. In a fresh process the client's CPU per call
 * keeps falling for about six batches of 3,000 calls at concurrency 32 (its JIT and its heap settle),
 * undici's for two or three: a rate is only compared once both are steady.
 */
const warmUpCalls = 18_000

/**
 * In a child process: the contender's calls against the server at `origin`, warmed up (connections, JIT,
 * the lazily compiled validator), then one measured batch of the mode.
 */
const measureContender = async (contender: Contender, mode: Mode, origin: string): Promise<Sample> => {
  const url = `${origin}/v3/agents/${ref.agentId}/convos/${ref.convoId}`
  const headers = { authorization: `Bearer ${apiKey}`, accept: "application/json" }
  const agent = new Agent({ keepAliveTimeout: 30_000 })
  const runtime = ManagedRuntime.make(
    Convocore.Default.pipe(
      Layer.provide(UndiciTransport.layer),
      Layer.provide(ConvocoreConfig.layer({ apiKey, baseUrl: `${origin}/v3` }))
    )
  )
  const getOne = Effect.flatMap(Convocore, (convocore) => convocore.getConversation(ref))
  const batches: Record<Contender["calls"], (calls: number, parallel: number) => () => Promise<void>> = {
    undici: (calls, parallel) =>
      workers(
        async () => {
          const response = await request(url, { dispatcher: agent, headers })
          // `JSON.parse` returns `any`; widened to `unknown`, as the baselines do no validation.
          return JSON.parse(await response.body.text()) as unknown
        },
        calls,
        parallel
      ),
    fetch: (calls, parallel) =>
      workers(
        async () => {
          const response = await fetch(url, { headers })
          return JSON.parse(await response.text()) as unknown
        },
        calls,
        parallel
      ),
    // The client as an Effect program uses it: one fiber running the calls, `parallel` at a time.
    client: (calls, parallel) => () =>
      runtime.runPromise(
        Effect.forEach(Array.from({ length: calls }), () => getOne, { concurrency: parallel, discard: true })
      )
  }
  const batch = batches[contender.calls]
  await batch(3000, 8)()
  for (let warmed = 0; warmed < warmUpCalls; warmed += mode.calls) await batch(mode.calls, mode.parallel)()
  const sample = await measure(mode.calls, batch(mode.calls, mode.parallel))
  await runtime.dispose()
  await agent.close()
  return sample
}

/** One measured batch in a fresh process: this script again, told what to measure; its last line is the sample. */
const sampleInChild = (contender: Contender, mode: Mode, origin: string) =>
  new Promise<Sample>((resolve, reject) => {
    const child = spawn(process.execPath, [...contender.nodeFlags, ...process.execArgv, process.argv[1]!], {
      env: {
        ...process.env,
        BENCH_CONTENDER: contender.name,
        BENCH_MODE: mode.name,
        BENCH_ORIGIN: origin
      },
      stdio: ["ignore", "pipe", "inherit"]
    })
    let output = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk
    })
    child.once("error", reject)
    child.once("close", (code) => {
      const what = `the batch of ${contender.name} (${mode.name})`
      if (code !== 0) return reject(new Error(`${what} exited with ${code}`))
      try {
        resolve(JSON.parse(output.trimEnd().split("\n").pop() ?? "") as Sample)
      } catch {
        reject(new Error(`${what} printed no sample: ${output.slice(-200)}`))
      }
    })
  })

const main = async () => {
  const port = await startBareServer()
  const origin = `http://127.0.0.1:${port}`

  const loadBefore = loadavg()[0]!
  const results = []
  for (const mode of modes) {
    const samples = Object.fromEntries(contenders.map(({ name }) => [name, [] as Array<Sample>])) as Record<
      Name,
      Array<Sample>
    >
    for (let round = 0; round < rounds; round++)
      // Rotate who goes first, so that each contender meets every position.
      for (let i = 0; i < contenders.length; i++) {
        const contender = contenders[(i + round) % contenders.length]!
        samples[contender.name].push(await sampleInChild(contender, mode, origin))
      }
    results.push({ mode, samples })
  }
  const timeLimits = await timeLimitCosts()
  const own = await ownCost()
  const loadAfter = loadavg()[0]!

  const limit: Name = "undici.request + JSON.parse"
  const rows = results.flatMap(({ mode, samples }) =>
    contenders.map(({ name }) => {
      const rates = samples[name].map((s) => s.perSecond)
      const ratios = samples[name].map((s, i) => s.perSecond / samples[limit][i]!.perSecond)
      const vsFetch = samples[name].map((s, i) => s.perSecond / samples["fetch + JSON.parse"][i]!.perSecond)
      return [
        mode.name,
        name,
        `${median(rates).toFixed(0)} (${range(rates)})`,
        `${median(ratios).toFixed(2)} (${range(ratios, 2)})`,
        median(vsFetch).toFixed(2),
        median(samples[name].map((s) => s.cpuMicros)).toFixed(0),
        median(samples[name].map((s) => s.heapKb)).toFixed(1)
      ]
    })
  )
  console.log(`
Client throughput: ${machine()}; a bare node:http server in a child process; ${rounds} rounds of
${modes.map((m) => `${m.calls} calls (${m.name})`).join(" and ")} per contender, each batch in a fresh process after a
warm-up of ${warmUpCalls} calls, rotating order; medians (range). Load average (1 min) ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after.

${table(
  ["mode", "contender", "calls/s", "vs undici.request", "vs fetch", "CPU µs/call", "heap KB/call"],
  rows
)}

The client's own cost, over a stub dispatcher that answers at once (no socket), ${stubCalls} calls ${concurrency} at a
time, median of ${rounds} rounds:

${table(
  ["contender", "CPU µs/call", "heap KB/call"],
  own.map(({ name, samples }) => [
    name,
    median(samples.map((s) => s.cpuMicros)).toFixed(1),
    median(samples.map((s) => s.heapKb)).toFixed(1)
  ])
)}

A 10 s time limit around one asynchronous step (a \`setImmediate\`), ${timeLimitSteps} steps ${concurrency} at a time,
median of ${rounds} rounds: CPU µs per step.

${table(
  ["time limit", "CPU µs/step", "added by the limit"],
  timeLimits.map(({ name, micros }) => [name, micros.toFixed(1), (micros - timeLimits[0]!.micros).toFixed(1)])
)}
`)
}

/** In a batch's own process (`BENCH_CONTENDER` set): its one measured batch, printed as a line of JSON. */
const measureBatch = async () => {
  const contender = contenders.find(({ name }) => name === process.env.BENCH_CONTENDER)
  const mode = modes.find(({ name }) => name === process.env.BENCH_MODE)
  const origin = process.env.BENCH_ORIGIN
  if (contender === undefined || mode === undefined || origin === undefined)
    throw new Error(`unknown batch: ${process.env.BENCH_CONTENDER} (${process.env.BENCH_MODE})`)
  process.stdout.write(`${JSON.stringify(await measureContender(contender, mode, origin))}\n`)
}

;(process.env.BENCH_CONTENDER === undefined ? main() : measureBatch()).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
