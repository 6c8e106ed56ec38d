/**
 * Client benchmark: `Convocore.getConversation` (validated, resilient, over `UndiciTransport`) against raw `fetch` +
 * `JSON.parse` (no validation) on the same loopback server, in the same process and run; then the added
 * latency of one failover from a refusing EU, and of a call while EU's breaker is open, vs straight to NA.
 *
 * The server runs in a child process, so its work does not share the event loop (or its CPU time) with
 * the client being measured. Rounds alternate between the contenders and the medians are reported, since
 * this machine is noisy; the goals are ratios within one run.
 *
 * Run: `cd bench && npx tsx client.bench.ts` (the client and schema packages must be built).
 */
import { spawn } from "node:child_process"
import { createServer } from "node:net"
import {
  Convocore,
  ConvocoreConfig,
  type ConvocoreConfigInput,
  UndiciTransport
} from "@convocore-effect/client"
import { seedExampleResponse } from "@convocore-effect/schema"
import { Effect, Layer, ManagedRuntime } from "effect"

// tsx turns on source-mapped stack traces, which makes creating any Error (a refused connect is one)
// several times dearer than in a built app run by plain `node`; measure what production runs.
process.setSourceMapsEnabled(false)

const rounds = 12
const sequentialCalls = 150
const concurrentCalls = 800
const concurrency = 32
const latencyCalls = 1500
const latencyBlock = 10
const slowServerDelayMs = 2

// The loopback server: keep-alive, the seed's example response with an exact content-length.
const serverSource = `
const http = require("node:http")
const body = Buffer.from(process.env.BODY)
const delay = Number(process.env.DELAY_MS ?? 0)
const answer = (res) => {
  res.writeHead(200, { "content-type": "application/json", "content-length": body.length })
  res.end(body)
}
const server = http.createServer((req, res) => (delay > 0 ? setTimeout(answer, delay, res) : answer(res)))
server.keepAliveTimeout = 60000
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"))
process.on("disconnect", () => process.exit(0))
`

const startServer = (delayMs = 0) =>
  new Promise<{ port: number; stop: () => void }>((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", serverSource], {
      env: { ...process.env, BODY: JSON.stringify(seedExampleResponse), DELAY_MS: String(delayMs) },
      stdio: ["ignore", "pipe", "inherit"]
    })
    child.once("error", reject)
    child.stdout.once("data", (chunk: Buffer) =>
      resolve({ port: Number(chunk.toString().trim()), stop: () => child.kill() })
    )
  })

/** A port that was free a moment ago and has nothing listening: connections to it are refused. */
const refusingPort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer()
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      probe.close(() => resolve(port))
    })
  })

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const clientRuntime = (config: ConvocoreConfigInput) =>
  ManagedRuntime.make(
    Convocore.Default.pipe(Layer.provide(UndiciTransport.layer), Layer.provide(ConvocoreConfig.layer(config)))
  )

const ref = { agentId: "agent123", convoId: "agent123_convo456" }

const main = async () => {
  const server = await startServer()
  const slowServer = await startServer(slowServerDelayMs)
  const euRefusing = await refusingPort()
  const naUrl = `http://127.0.0.1:${server.port}/v3`
  const euUrl = `http://127.0.0.1:${euRefusing}/v3`
  const rawUrl = `${naUrl}/agents/${ref.agentId}/convos/${ref.convoId}`
  const apiKey = "vg_bench_key"

  // Straight to NA; EU refusing with a breaker that never opens (every call fails over); EU breaker open.
  const straight = clientRuntime({ apiKey, euUrl, naUrl, region: "na" })
  const failover = clientRuntime({ apiKey, euUrl, naUrl, region: "eu", breakerThreshold: 1_000_000_000 })
  const breakerOpen = clientRuntime({ apiKey, euUrl, naUrl, region: "eu", breakerCooldown: "10 minutes" })
  // The same two paths to an NA that takes a few ms to answer, as a real API does.
  const slowNaUrl = `http://127.0.0.1:${slowServer.port}/v3`
  const slowStraight = clientRuntime({ apiKey, euUrl, naUrl: slowNaUrl, region: "na" })
  const slowFailover = clientRuntime({
    apiKey,
    euUrl,
    naUrl: slowNaUrl,
    region: "eu",
    breakerThreshold: 1_000_000_000
  })

  // The floor: undici alone (no client), its request to NA, and a refused connect to EU before it.
  const pools = new UndiciTransport.OriginPools({ keepAliveTimeout: 30_000 })
  const undiciGet = async (origin: string) => {
    const response = await pools.request({
      origin,
      path: `/v3/agents/${ref.agentId}/convos/${ref.convoId}`,
      method: "GET",
      headers: { authorization: `Bearer ${apiKey}`, accept: "application/json" }
    })
    return JSON.parse(await response.body.text()) as unknown
  }
  const [naOrigin, euOrigin] = [new URL(naUrl).origin, new URL(euUrl).origin]
  const undiciStraight = () => undiciGet(naOrigin)
  const undiciFailover = () => undiciGet(euOrigin).catch(() => undiciGet(naOrigin))

  const raw = async () => {
    const response = await fetch(rawUrl, {
      headers: { authorization: `Bearer ${apiKey}`, accept: "application/json" }
    })
    // `JSON.parse` returns `any`; widened to `unknown`, as the raw baseline does no validation.
    return JSON.parse(await response.text()) as unknown
  }
  const viaClient = Effect.flatMap(Convocore, (c) => c.getConversation(ref))
  const clientTimes = (runtime: typeof straight, calls: number, parallel: number) =>
    runtime.runPromise(
      Effect.gen(function* () {
        const start = performance.now()
        yield* Effect.forEach(Array.from({ length: calls }), () => viaClient, {
          concurrency: parallel,
          discard: true
        })
        return performance.now() - start
      })
    )
  const rawTimes = async (calls: number, parallel: number) => {
    const start = performance.now()
    let next = 0
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next++ < calls) await raw()
      })
    )
    return performance.now() - start
  }

  // Warm-up: connections, JIT, the lazily compiled validator; and open EU's breaker (5 refused connects).
  await rawTimes(2000, 8)
  await clientTimes(straight, 2000, 8)
  for (let i = 0; i < 500; i++) {
    await raw()
    await straight.runPromise(viaClient)
  }
  await clientTimes(failover, 500, 1)
  await clientTimes(breakerOpen, 10, 1)
  const trail = await breakerOpen.runPromise(
    Effect.flatMap(Convocore, (c) => c.getConversationWithTrail(ref))
  )
  const trailText = trail.attempts.map((a) => `${a.region}:${a.outcome}`).join(" -> ")

  // Sequential and concurrency 32: batches in ABBA order (raw first in even rounds, client first in odd),
  // so that drifts in this shared machine's load hit both alike; each round's client/raw ratio is paired
  // with its neighbour and the median of the ratios is the result.
  const paired = async (calls: number, parallel: number) => {
    const raws: Array<number> = []
    const clients: Array<number> = []
    const ratios: Array<number> = []
    for (let round = 0; round < rounds; round++) {
      const rawFirst = round % 2 === 0
      const before = rawFirst ? perSecond(calls, await rawTimes(calls, parallel)) : 0
      const client = perSecond(calls, await clientTimes(straight, calls, parallel))
      const rawRate = rawFirst ? before : perSecond(calls, await rawTimes(calls, parallel))
      raws.push(rawRate)
      clients.push(client)
      ratios.push(client / rawRate)
    }
    return { raw: median(raws), client: median(clients), ratio: median(ratios) }
  }
  const perSecond = (calls: number, ms: number) => (calls / ms) * 1000
  const sequential = await paired(sequentialCalls, 1)
  const concurrent = await paired(concurrentCalls, concurrency)

  // Latency: single calls in short blocks of one kind, the blocks rotating through the kinds so that
  // drifts in machine load (and in where the scheduler puts this process and the server's) hit all alike.
  // Blocks, not single interleaved calls: a failover leaves work behind (the refused socket's teardown),
  // and within a block that work lands on the next call of the same kind, where its cost belongs.
  const viaRuntime = (runtime: typeof straight) => () => runtime.runPromise(viaClient)
  const kinds = {
    straight: viaRuntime(straight),
    failover: viaRuntime(failover),
    breakerOpen: viaRuntime(breakerOpen),
    undiciStraight,
    undiciFailover,
    slowStraight: viaRuntime(slowStraight),
    slowFailover: viaRuntime(slowFailover)
  }
  const latencies = Object.fromEntries(Object.keys(kinds).map((kind) => [kind, [] as Array<number>])) as {
    [K in keyof typeof kinds]: Array<number>
  }
  for (const kind of Object.keys(kinds) as Array<keyof typeof kinds>) await kinds[kind]()
  for (let round = 0; round < latencyCalls / latencyBlock; round++) {
    for (const kind of Object.keys(kinds) as Array<keyof typeof kinds>) {
      for (let i = 0; i < latencyBlock; i++) {
        const start = performance.now()
        await kinds[kind]()
        latencies[kind].push(performance.now() - start)
      }
    }
  }
  const latency = Object.fromEntries(
    Object.entries(latencies).map(([kind, values]) => [kind, median(values)])
  ) as { [K in keyof typeof kinds]: number }

  const seqRatio = sequential.ratio
  const concRatio = concurrent.ratio
  const failoverRatio = latency.failover / latency.straight
  const openRatio = latency.breakerOpen / latency.straight
  const ratioTo = (value: number, base: number) => (value / base).toFixed(2)
  const fmt = (n: number) => n.toFixed(0)
  const ms = (n: number) => `${(n * 1000).toFixed(0)} µs`
  const verdict = (met: boolean) => (met ? "met" : "NOT met")
  console.log(`
Client benchmark: Node ${process.version}, loopback server in a child process; medians of ${rounds} paired
batches (${sequentialCalls} sequential / ${concurrentCalls} concurrent calls each); ratio = median of the paired ratios.
Breaker-open trail: ${trailText}

| measure | raw fetch + JSON.parse | convocore client | ratio | goal |
|---|---:|---:|---:|---|
| sequential throughput (req/s) | ${fmt(sequential.raw)} | ${fmt(sequential.client)} | ${seqRatio.toFixed(2)} | >= 0.80: ${verdict(seqRatio >= 0.8)} |
| concurrency ${concurrency} throughput (req/s) | ${fmt(concurrent.raw)} | ${fmt(concurrent.client)} | ${concRatio.toFixed(2)} | >= 0.80: ${verdict(concRatio >= 0.8)} |

| one call (median of ${latencyCalls}, in rotating blocks of ${latencyBlock}) | latency | vs straight to NA | goal |
|---|---:|---:|---|
| straight to NA | ${ms(latency.straight)} | 1.00 | |
| EU refuses, fails over to NA | ${ms(latency.failover)} | ${failoverRatio.toFixed(2)} | <= 1.50: ${verdict(failoverRatio <= 1.5)} |
| EU breaker open, starts at NA | ${ms(latency.breakerOpen)} | ${openRatio.toFixed(2)} | <= 1.05: ${verdict(openRatio <= 1.05)} |
| undici alone (no client): request to NA | ${ms(latency.undiciStraight)} | 1.00 | the floor |
| undici alone: refused connect to EU, then NA | ${ms(latency.undiciFailover)} | ${ratioTo(latency.undiciFailover, latency.undiciStraight)} | the floor |
| client, NA answering after ${slowServerDelayMs} ms: straight | ${ms(latency.slowStraight)} | 1.00 | |
| client, NA answering after ${slowServerDelayMs} ms: EU refuses, fails over | ${ms(latency.slowFailover)} | ${ratioTo(latency.slowFailover, latency.slowStraight)} | |
`)
  await Promise.all(
    [straight, failover, breakerOpen, slowStraight, slowFailover].map((runtime) => runtime.dispose())
  )
  await pools.close()
  server.stop()
  slowServer.stop()
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
