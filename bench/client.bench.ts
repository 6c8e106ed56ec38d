/**
 * Client failover latency: against the sandbox over loopback (docs/design.md, "Performance"), the added
 * latency of a failover when EU refuses connections, when it hangs, and of a call while EU's breaker is
 * open, vs straight to NA; undici alone (no client) on the sandbox gives the floor of a failover. The
 * refused-EU failover is repeated against a bare `node:http` server, and against one that answers after a
 * few milliseconds as a real API does. Throughput is ./client-throughput.bench.ts.
 *
 * Every server runs in a child process, so its work does not share the event loop (or its CPU time) with
 * the client being measured; this machine is noisy, so the goals are ratios within one run.
 *
 * Run: `cd bench && npx tsx client.bench.ts` (the client and schema packages must be built).
 */
import { createServer } from "node:net"
import {
  Convocore,
  ConvocoreConfig,
  type ConvocoreConfigInput,
  UndiciTransport
} from "@convocore-effect/client"
import { Fixtures } from "@convocore-effect/sandbox"
import { Effect, Layer, ManagedRuntime } from "effect"
import { median, startBareServer, startChild } from "./lib/children.js"

// tsx turns on source-mapped stack traces, which makes creating any Error (a refused connect is one)
// several times dearer than in a built app run by plain `node`; measure what production runs.
process.setSourceMapsEnabled(false)

const latencyCalls = 1500
const latencyBlock = 10
const slowServerDelayMs = 2
const hangCalls = 30
const hangAttemptTimeoutMs = 50
const hangHedgeDelayMs = 10

/**
 * The sandbox in a child process, its EU region under `euFault` (`down` closes EU's listener, so connects
 * are refused; `hang` accepts requests and never answers), NA healthy. It prints its base URLs as JSON.
 */
const sandboxScript = `
import { Sandbox } from "@convocore-effect/sandbox"
import { Effect } from "effect"
const program = Effect.flatMap(Sandbox.Listening, ({ urls }) =>
  Effect.zipRight(Effect.sync(() => process.stdout.write(JSON.stringify(urls) + "\\n")), Effect.never)
)
Effect.runFork(Effect.provide(program, Sandbox.layerListening({ faults: { eu: process.env.EU_FAULT } })))
`

const startSandbox = async (euFault: "down" | "hang") =>
  // The sandbox's first line is its base URLs as JSON (see sandboxScript).
  JSON.parse(await startChild(["--input-type=module", "-e", sandboxScript], { EU_FAULT: euFault })) as {
    eu: string
    na: string
  }

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

const clientRuntime = (config: ConvocoreConfigInput) =>
  ManagedRuntime.make(
    Convocore.Default.pipe(Layer.provide(UndiciTransport.layer), Layer.provide(ConvocoreConfig.layer(config)))
  )

const ref = { agentId: "agent123", convoId: "agent123_convo456" }
/** The seed's example in the sandbox. */
const sandboxRef = { agentId: Fixtures.demoAgent, convoId: Fixtures.ids.seedExample }

const main = async () => {
  const serverPort = await startBareServer()
  const slowServerPort = await startBareServer(slowServerDelayMs)
  const sandbox = await startSandbox("down")
  const hangingSandbox = await startSandbox("hang")
  const euRefusing = await refusingPort()
  const naUrl = `http://127.0.0.1:${serverPort}/v3`
  const euUrl = `http://127.0.0.1:${euRefusing}/v3`
  const apiKey = "vg_bench_key"

  // The client straight to the bare server's NA.
  const straightBare = clientRuntime({ apiKey, euUrl, naUrl, region: "na" })
  // Latency, against the sandbox: straight to NA; EU down with a breaker that never opens (every call
  // fails over); EU's breaker open; EU hanging, failed over after an attempt timeout or raced by a hedge.
  const sandboxKey = Fixtures.demoApiKey
  const sandboxUrls = { apiKey: sandboxKey, euUrl: sandbox.eu, naUrl: sandbox.na }
  const straight = clientRuntime({ ...sandboxUrls, region: "na" })
  const failover = clientRuntime({ ...sandboxUrls, region: "eu", breakerThreshold: 1_000_000_000 })
  const breakerOpen = clientRuntime({ ...sandboxUrls, region: "eu", breakerCooldown: "10 minutes" })
  const hangUrls = { ...sandboxUrls, euUrl: hangingSandbox.eu }
  const hangTimeout = clientRuntime({
    ...hangUrls,
    region: "eu",
    breakerThreshold: 1_000_000_000,
    attemptTimeout: `${hangAttemptTimeoutMs} millis`
  })
  const hangHedged = clientRuntime({
    ...hangUrls,
    region: "eu",
    breakerThreshold: 1_000_000_000,
    hedgeDelay: `${hangHedgeDelayMs} millis`
  })
  // The refused-EU failover again, against the bare server.
  const failoverBare = clientRuntime({
    apiKey,
    euUrl,
    naUrl,
    region: "eu",
    breakerThreshold: 1_000_000_000
  })
  // The same two paths to an NA that takes a few ms to answer, as a real API does.
  const slowNaUrl = `http://127.0.0.1:${slowServerPort}/v3`
  const slowStraight = clientRuntime({ apiKey, euUrl, naUrl: slowNaUrl, region: "na" })
  const slowFailover = clientRuntime({
    apiKey,
    euUrl,
    naUrl: slowNaUrl,
    region: "eu",
    breakerThreshold: 1_000_000_000
  })

  // The floor on the sandbox: undici alone (no client), its request to NA, and a refused connect to EU before it.
  const pools = new UndiciTransport.OriginPools({ keepAliveTimeout: 30_000 })
  const undiciPath = `/v3/agents/${sandboxRef.agentId}/convos/${sandboxRef.convoId}`
  const undiciGet = async (origin: string) => {
    const response = await pools.request({
      origin,
      path: undiciPath,
      method: "GET",
      headers: { authorization: `Bearer ${sandboxKey}`, accept: "application/json" }
    })
    return JSON.parse(await response.body.text()) as unknown
  }
  const [naOrigin, euOrigin] = [new URL(sandbox.na).origin, new URL(sandbox.eu).origin]
  const undiciStraight = () => undiciGet(naOrigin)
  const undiciFailover = () => undiciGet(euOrigin).catch(() => undiciGet(naOrigin))

  const viaClient = Effect.flatMap(Convocore, (c) => c.getConversation(ref))
  const viaClientOnSandbox = Effect.flatMap(Convocore, (c) => c.getConversation(sandboxRef))
  const clientTimes = (
    runtime: typeof straight,
    calls: number,
    parallel: number,
    call: typeof viaClient = viaClient
  ) =>
    runtime.runPromise(
      Effect.gen(function* () {
        const start = performance.now()
        yield* Effect.forEach(Array.from({ length: calls }), () => call, {
          concurrency: parallel,
          discard: true
        })
        return performance.now() - start
      })
    )
  // Warm-up: connections, JIT, the lazily compiled validator; and open EU's breaker (5 refused connects).
  await clientTimes(straightBare, 2000, 8)
  await clientTimes(straight, 1000, 8, viaClientOnSandbox)
  await clientTimes(failover, 500, 1, viaClientOnSandbox)
  await clientTimes(failoverBare, 500, 1)
  await clientTimes(breakerOpen, 10, 1, viaClientOnSandbox)
  const trailOf = async (runtime: typeof straight) => {
    const traced = await runtime.runPromise(
      Effect.flatMap(Convocore, (c) => c.getConversationWithTrail(sandboxRef))
    )
    return traced.attempts.map((a) => `${a.region}:${a.outcome}`).join(" -> ")
  }
  const trails = {
    failover: await trailOf(failover),
    breakerOpen: await trailOf(breakerOpen),
    hangTimeout: await trailOf(hangTimeout),
    hangHedged: await trailOf(hangHedged)
  }
  // Each kind must take the path it is named for, or its numbers would measure something else.
  const expectedTrails: typeof trails = {
    failover: "eu:connect-failed -> na:ok",
    breakerOpen: "eu:circuit-open -> na:ok",
    hangTimeout: "eu:timeout -> na:ok",
    hangHedged: "na:ok -> eu:interrupted"
  }
  for (const kind of Object.keys(trails) as Array<keyof typeof trails>) {
    if (trails[kind] !== expectedTrails[kind]) {
      throw new Error(`${kind}: the trail is ${trails[kind]}, expected ${expectedTrails[kind]}`)
    }
  }

  // Latency: single calls in short blocks of one kind, the blocks rotating through the kinds so that
  // drifts in machine load (and in where the scheduler puts this process and the server's) hit all alike.
  // Blocks, not single interleaved calls: a failover leaves work behind (the refused socket's teardown),
  // and within a block that work lands on the next call of the same kind, where its cost belongs.
  const viaRuntime =
    (runtime: typeof straight, call: typeof viaClient = viaClientOnSandbox) =>
    () =>
      runtime.runPromise(call)
  const kinds = {
    straight: viaRuntime(straight),
    failover: viaRuntime(failover),
    breakerOpen: viaRuntime(breakerOpen),
    undiciStraight,
    undiciFailover,
    bareStraight: viaRuntime(straightBare, viaClient),
    bareFailover: viaRuntime(failoverBare, viaClient),
    slowStraight: viaRuntime(slowStraight, viaClient),
    slowFailover: viaRuntime(slowFailover, viaClient)
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

  // EU hanging: each call waits out the attempt timeout (or the hedge delay), so these are few and slow.
  // After an idle wait this machine runs the next call several times slower (caches gone cold), so each
  // is set beside a control: a straight call made after idling for the same time.
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
  const slowLatency = async (call: () => Promise<unknown>, idleMs = 0) => {
    const values: Array<number> = []
    for (let i = 0; i < hangCalls; i++) {
      if (idleMs > 0) await sleep(idleMs)
      const start = performance.now()
      await call()
      values.push(performance.now() - start)
    }
    return median(values)
  }
  const hang = {
    timeout: await slowLatency(viaRuntime(hangTimeout)),
    timeoutControl: await slowLatency(viaRuntime(straight), hangAttemptTimeoutMs),
    hedged: await slowLatency(viaRuntime(hangHedged)),
    hedgedControl: await slowLatency(viaRuntime(straight), hangHedgeDelayMs)
  }

  const failoverRatio = latency.failover / latency.straight
  const openRatio = latency.breakerOpen / latency.straight
  // What the failover adds, over what it adds to undici alone: the client's own share of a failover.
  const clientAdded = latency.failover - latency.straight
  const undiciAdded = latency.undiciFailover - latency.undiciStraight
  const ratioTo = (value: number, base: number) => (value / base).toFixed(2)
  const us = (n: number) => `${(n * 1000).toFixed(0)} µs`
  const ms = (n: number) => `${n.toFixed(1)} ms`
  const verdict = (met: boolean) => (met ? "met" : "NOT met")
  const beyond = (value: number, wait: number, control: number) => us(value - wait - control)
  console.log(`
Client failover latency: Node ${process.version}, servers in child processes.
Trails: refused ${trails.failover}; breaker open ${trails.breakerOpen}; hang ${trails.hangTimeout}; hedged ${trails.hangHedged}

| one call, against the sandbox (median of ${latencyCalls}, in rotating blocks of ${latencyBlock}) | latency | vs straight to NA | goal |
|---|---:|---:|---|
| straight to NA | ${us(latency.straight)} | 1.00 | |
| EU down (refuses connections), fails over to NA | ${us(latency.failover)} | ${failoverRatio.toFixed(2)} | <= 1.50: ${verdict(failoverRatio <= 1.5)} |
| EU breaker open, starts at NA | ${us(latency.breakerOpen)} | ${openRatio.toFixed(2)} | <= 1.05: ${verdict(openRatio <= 1.05)} |
| undici alone (no client): request to NA | ${us(latency.undiciStraight)} | 1.00 | the floor |
| undici alone: refused connect to EU, then NA | ${us(latency.undiciFailover)} | ${ratioTo(latency.undiciFailover, latency.undiciStraight)} | the floor |

Added by the refused-EU failover: client ${us(clientAdded)}, undici alone ${us(undiciAdded)}; ratio ${ratioTo(clientAdded, undiciAdded)}.

| reference: the client on a bare node:http server | latency | vs straight | |
|---|---:|---:|---|
| straight to NA | ${us(latency.bareStraight)} | 1.00 | |
| EU refuses, fails over to NA | ${us(latency.bareFailover)} | ${ratioTo(latency.bareFailover, latency.bareStraight)} | |
| NA answering after ${slowServerDelayMs} ms: straight | ${us(latency.slowStraight)} | 1.00 | |
| NA answering after ${slowServerDelayMs} ms: EU refuses, fails over | ${us(latency.slowFailover)} | ${ratioTo(latency.slowFailover, latency.slowStraight)} | |

| EU hangs (sandbox; median of ${hangCalls} calls) | latency | control: straight after the same idle time | beyond the wait and the control |
|---|---:|---:|---:|
| attempt timeout ${hangAttemptTimeoutMs} ms, then fails over | ${ms(hang.timeout)} | ${ms(hang.timeoutControl)} | ${beyond(hang.timeout, hangAttemptTimeoutMs, hang.timeoutControl)} |
| hedge: NA raced after ${hangHedgeDelayMs} ms, EU interrupted | ${ms(hang.hedged)} | ${ms(hang.hedgedControl)} | ${beyond(hang.hedged, hangHedgeDelayMs, hang.hedgedControl)} |
`)
  await Promise.all(
    [
      straightBare,
      straight,
      failover,
      breakerOpen,
      hangTimeout,
      hangHedged,
      failoverBare,
      slowStraight,
      slowFailover
    ].map((runtime) => runtime.dispose())
  )
  await pools.close()
  // The server children are killed as this process exits (see `children`).
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
