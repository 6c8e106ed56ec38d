/**
 * The gateway's throughput and memory: autocannon, 10 s at 32 connections, against
 * - a bare `node:http` server answering the same bytes (the ceiling of one Node process),
 * - the gateway on a cache hit (one conversation, fresh in the cache),
 * - the gateway on a cache miss (TTL 0, nothing stored, 1,000 ids cycled: every request goes upstream),
 * - the sandbox alone (the upstream the misses pay for),
 * then the gateway's resident memory sampled over a 60 s cache-hit run.
 *
 * Every server runs in a process of its own (the built bundle `apps/gateway/dist/convocore-gateway.mjs`,
 * its default JSON request logs going to /dev/null); autocannon runs in this one.
 *
 *   cd bench && npx tsx gateway.bench.ts        (after a build; about 2.5 minutes)
 *
 * Goals (issue 6): cache hits at least 0.5 of the bare server's rate; memory flat over the 60 s run.
 *
 * Switches, none of which changes what the default run measures:
 * - `BENCH_ONLY=hit`: only the bare server and the cache hit, alternating (about 1 minute);
 * - `BENCH_ONLY=miss`: only cache misses, alternating with the compared bundle's when one is given;
 *   `BENCH_MISS_ENV=K=V,...` sets variables for this bundle's miss gateway only (say, `CONVOCORE_HEDGE_DELAY=off`);
 * - `BENCH_ROUNDS=n`: alternating bare/hit rounds (default 2; the better run of each is reported);
 * - `BENCH_COMPARE_BUNDLE=<path>`: another gateway bundle (say, the build before a change) measured on
 *   cache hits in the same rounds, so that a before/after comparison shares the machine's conditions;
 * - `BENCH_DURATION_S`, `BENCH_MEMORY_S`: the run lengths.
 * Each run also reports the CPU time its server process used per request (user + system, from /proc),
 * which a busy machine disturbs far less than requests per second.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Os from "node:os"
import { fileURLToPath } from "node:url"
import {
  autocannon,
  checkClean as check,
  cpuSeconds,
  freePort,
  type RequestSpec,
  type LoadResult as Result,
  rssMb,
  waitFor
} from "./lib/http-load.js"
import { machine, table } from "./lib/report.js"

const connections = 32
const durationS = Number(process.env.BENCH_DURATION_S ?? 10)
const memoryRunS = Number(process.env.BENCH_MEMORY_S ?? 60)
const hitOnly = process.env.BENCH_ONLY === "hit"
const missOnly = process.env.BENCH_ONLY === "miss"
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2))
const compareBundle = process.env.BENCH_COMPARE_BUNDLE
const key = "vg_sandbox_demo_key"
const auth = { authorization: `Bearer ${key}` }
const bundle = fileURLToPath(new URL("../apps/gateway/dist/convocore-gateway.mjs", import.meta.url))
const benchDir = fileURLToPath(new URL(".", import.meta.url))
const seedPath = "/v3/agents/agent123/convos/convo456"
const missIds = 1000

const children: Array<ChildProcess> = []
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL")
})

/** A child node process; its stdout goes to /dev/null so that it never blocks on a full pipe. */
const run = (args: ReadonlyArray<string>, env: Record<string, string>, cwd = benchDir) => {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "ignore", "inherit"]
  })
  children.push(child)
  return child
}

const sandboxScript = `
import { Sandbox } from "@convocore-effect/sandbox"
import { Effect, Layer } from "effect"
const layer = Sandbox.layerListening({ host: "127.0.0.1", ports: { eu: Number(process.env.EU_PORT), na: Number(process.env.NA_PORT) } })
await Effect.runPromise(Layer.launch(layer))
`

const bareScript = `
import { createServer } from "node:http"
const body = Buffer.from(process.env.BODY_BASE64, "base64")
createServer((request, response) => {
  response.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": body.length })
  response.end(body)
}).listen(Number(process.env.PORT), "127.0.0.1")
`

const startGateway = async (
  upstream: { eu: string; na: string },
  env: Record<string, string>,
  file: string = bundle
) => {
  const port = await freePort()
  const child = run([file], {
    PORT: String(port),
    HOST: "127.0.0.1",
    CONVOCORE_EU_URL: upstream.eu,
    CONVOCORE_NA_URL: upstream.na,
    GATEWAY_AUTH: "forward",
    // autocannon keeps sending on a connection the server asked to close: no per-connection limit.
    GATEWAY_MAX_REQUESTS_PER_CONNECTION: "0",
    ...env
  })
  const url = `http://127.0.0.1:${port}`
  await waitFor(`${url}/healthz`)
  return { child, url }
}

interface Run {
  readonly name: string
  readonly result: Result
  /** The server process's CPU time per request, in microseconds. */
  readonly serverUs: number | undefined
  /** This process's (autocannon's) CPU time per request, in microseconds. */
  readonly loaderUs: number
}
const runs: Array<Run> = []

const load = (
  url: string,
  options: {
    readonly requests?: ReadonlyArray<RequestSpec>
    readonly duration?: number
    readonly name?: string
    readonly pid?: number | undefined
  } = {}
) => {
  const { name, pid, ...rest } = options
  const serverBefore = cpuSeconds(pid)
  const loaderBefore = process.cpuUsage()
  return autocannon({ url, connections, duration: durationS, headers: auth, ...rest }).then((result) => {
    if (name !== undefined) {
      const serverAfter = cpuSeconds(pid)
      const loader = process.cpuUsage(loaderBefore)
      const total = Math.max(1, result.requests.total)
      runs.push({
        name,
        result,
        serverUs:
          serverBefore === undefined || serverAfter === undefined
            ? undefined
            : ((serverAfter - serverBefore) * 1e6) / total,
        loaderUs: (loader.user + loader.system) / total
      })
    }
    return result
  })
}

const cycling = (): ReadonlyArray<RequestSpec> => {
  let n = 0
  return [
    { setupRequest: (request) => ({ ...request, path: `/v3/agents/agent123/convos/bench-${n++ % missIds}` }) }
  ]
}

// --- upstream: the sandbox in its own process ---------------------------------------------------------
const [euPort, naPort] = [await freePort(), await freePort()]
run(["--input-type=module", "-e", sandboxScript], { EU_PORT: String(euPort), NA_PORT: String(naPort) })
const upstream = { eu: `http://127.0.0.1:${euPort}/v3`, na: `http://127.0.0.1:${naPort}/v3` }
await waitFor(`${upstream.eu}/agents/agent123/convos/convo456`, { headers: auth })

// Pre-generate the miss run's documents, so that the sandbox serves them from its own cache.
if (!hitOnly)
  for (let i = 0; i < missIds; i += 50)
    await Promise.all(
      Array.from({ length: 50 }, (_, j) =>
        fetch(`${upstream.eu}/agents/agent123/convos/bench-${i + j}`, { headers: auth }).then((r) =>
          r.arrayBuffer()
        )
      )
    )

const rate = (r: Result) => Math.round(r.requests.average).toLocaleString("en-US")
const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`
const us = (value: number | undefined) => (value === undefined ? "-" : `${value.toFixed(1)} µs`)
const printRuns = () => {
  console.log(
    `\n### Every measured run, in order (load average at the end: ${Os.loadavg()
      .map((l) => l.toFixed(2))
      .join(", ")})\n`
  )
  console.log(
    table(
      ["run", "requests/s", "p99", "server CPU per request", "autocannon CPU per request"],
      runs.map((r) => [r.name, rate(r.result), ms(r.result.latency.p99), us(r.serverUs), us(r.loaderUs)])
    )
  )
}
// --- cache misses alone, this bundle against the compared one ----------------------------------------
if (missOnly) {
  const missEnv = { GATEWAY_CACHE_TTL: "0", GATEWAY_STALE_IF_ERROR: "0" }
  const ownEnv = Object.fromEntries(
    (process.env.BENCH_MISS_ENV ?? "")
      .split(",")
      .filter((pair) => pair.includes("="))
      .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)])
  )
  const gateways = [
    { name: "cache miss", gateway: await startGateway(upstream, { ...missEnv, ...ownEnv }) },
    ...(compareBundle === undefined
      ? []
      : [
          {
            name: "cache miss, compared bundle",
            gateway: await startGateway(upstream, missEnv, compareBundle)
          }
        ])
  ]
  for (const { gateway } of gateways) await load(`${gateway.url}/`, { duration: 2, requests: cycling() })
  for (let round = 0; round < rounds; round++) {
    for (const { name, gateway } of round % 2 === 0 ? gateways : [...gateways].reverse()) {
      check(name, await load(`${gateway.url}/`, { requests: cycling(), name, pid: gateway.child.pid }))
    }
  }
  console.log(
    `## Gateway cache misses (${machine()}, ${Os.cpus().length} CPUs, autocannon ${durationS} s at ${connections} connections, ` +
      `${rounds} alternating rounds; TTL 0, ${missIds} ids cycled)`
  )
  printRuns()
  for (const child of children) child.kill("SIGTERM")
  process.exit(0)
}

// --- the gateways and the bare server -----------------------------------------------------------------
const hitGateway = await startGateway(upstream, { GATEWAY_CACHE_TTL: "10m" })
const compareGateway =
  compareBundle === undefined
    ? undefined
    : await startGateway(upstream, { GATEWAY_CACHE_TTL: "10m" }, compareBundle)
const missGateway = hitOnly
  ? undefined
  : await startGateway(upstream, { GATEWAY_CACHE_TTL: "0", GATEWAY_STALE_IF_ERROR: "0" })
const seedBytes = new Uint8Array(
  await (await fetch(`${hitGateway.url}${seedPath}`, { headers: auth })).arrayBuffer()
)
if (compareGateway !== undefined) await waitFor(`${compareGateway.url}${seedPath}`, { headers: auth })
const barePort = await freePort()
const bareChild = run(["--input-type=module", "-e", bareScript], {
  PORT: String(barePort),
  BODY_BASE64: Buffer.from(seedBytes).toString("base64")
})
const bareUrl = `http://127.0.0.1:${barePort}`
await waitFor(`${bareUrl}/`)

// Short warm-ups (JIT, keep-alive pools), not measured.
await load(`${bareUrl}${seedPath}`, { duration: 2 })
await load(`${hitGateway.url}${seedPath}`, { duration: 2 })
if (compareGateway !== undefined) await load(`${compareGateway.url}${seedPath}`, { duration: 2 })
if (missGateway !== undefined) await load(`${missGateway.url}/`, { duration: 2, requests: cycling() })

// Bare and hit alternate (twice by default) and the better run of each is kept: on a shared machine other
// processes otherwise decide the ratio more than the servers do.
const better = (a: Result, b: Result) => (a.requests.average >= b.requests.average ? a : b)
let bare: Result | undefined
let hit: Result | undefined
let compared: Result | undefined
for (let round = 0; round < rounds; round++) {
  const b = check("bare", await load(`${bareUrl}${seedPath}`, { name: "bare", pid: bareChild.pid }))
  bare = bare === undefined ? b : better(bare, b)
  const h = check(
    "hit",
    await load(`${hitGateway.url}${seedPath}`, { name: "cache hit", pid: hitGateway.child.pid })
  )
  hit = hit === undefined ? h : better(hit, h)
  if (compareGateway !== undefined) {
    const c = check(
      "compared hit",
      await load(`${compareGateway.url}${seedPath}`, {
        name: "cache hit, compared bundle",
        pid: compareGateway.child.pid
      })
    )
    compared = compared === undefined ? c : better(compared, c)
  }
}
if (bare === undefined || hit === undefined) throw new Error("no rounds were run")
const bareBest = bare

// --- report ----------------------------------------------------------------------------------------------
const ratio = (r: Result) => `${(r.requests.average / bareBest.requests.average).toFixed(2)}`
const row = (name: string, r: Result) => [name, rate(r), ms(r.latency.p50), ms(r.latency.p99), ratio(r)]
const goal = () =>
  console.log(
    `Goal, cache hits >= 0.5 x bare: ${(hit?.requests.average ?? 0) >= 0.5 * bareBest.requests.average ? "met" : "not met"}.`
  )

if (hitOnly) {
  console.log(
    `## Gateway cache hits (${machine()}, ${Os.cpus().length} CPUs, autocannon ${durationS} s at ${connections} connections; ` +
      `the better of ${rounds} alternating runs)\n`
  )
  console.log(
    table(
      ["server", "requests/s", "p50", "p99", "vs bare node:http"],
      [
        row("bare `node:http`, same bytes", bareBest),
        row("gateway, cache hit", hit),
        ...(compared === undefined ? [] : [row("gateway, cache hit, compared bundle", compared)])
      ]
    )
  )
  printRuns()
  goal()
  for (const child of children) child.kill("SIGTERM")
  process.exit(0)
}
if (missGateway === undefined) throw new Error("unreachable: the miss gateway runs unless BENCH_ONLY=hit")
const miss = check(
  "miss",
  await load(`${missGateway.url}/`, { requests: cycling(), name: "cache miss", pid: missGateway.child.pid })
)
const sandboxAlone = check("sandbox", await load(`http://127.0.0.1:${euPort}/`, { requests: cycling() }))

// --- memory over a long cache-hit run ------------------------------------------------------------------
const pid = hitGateway.child.pid ?? 0
const samples: Array<{ readonly s: number; readonly mb: number }> = [{ s: 0, mb: rssMb(pid) }]
const started = Date.now()
const sampler = setInterval(() => samples.push({ s: (Date.now() - started) / 1000, mb: rssMb(pid) }), 2_000)
const long = check("memory run", await load(`${hitGateway.url}${seedPath}`, { duration: memoryRunS }))
clearInterval(sampler)
samples.push({ s: (Date.now() - started) / 1000, mb: rssMb(pid) })

console.log(
  `## Gateway (${machine()}, ${Os.cpus().length} CPUs, autocannon ${durationS} s at ${connections} connections; ` +
    `bare and cache hit: the better of ${rounds} alternating runs)\n`
)
console.log(
  table(
    ["server", "requests/s", "p50", "p99", "vs bare node:http"],
    [
      row("bare `node:http`, same bytes", bareBest),
      row("gateway, cache hit", hit),
      ...(compared === undefined ? [] : [row("gateway, cache hit, compared bundle", compared)]),
      row(`gateway, cache miss (TTL 0, ${missIds} ids)`, miss),
      row("sandbox alone (the misses' upstream)", sandboxAlone)
    ]
  )
)
// RSS saw-tooths with garbage collection, so each 10 s window is shown by its range, and "flat" compares
// the highest RSS of the last two windows with that of the first two.
const windows = Array.from({ length: Math.ceil(memoryRunS / 10) }, (_, w) => {
  const inside = samples.filter((x) => x.s >= w * 10 && x.s < (w + 1) * 10 + 0.5).map((x) => x.mb)
  return { from: w * 10, min: Math.min(...inside), max: Math.max(...inside) }
})
console.log(
  `\n### Gateway RSS over a ${memoryRunS} s cache-hit run (${rate(long)} requests/s, ` +
    `${long.requests.total.toLocaleString("en-US")} requests; sampled every 2 s)\n`
)
console.log(
  table(
    ["window (s)", "RSS min (MB)", "RSS max (MB)"],
    windows.map((w) => [`${w.from}-${w.from + 10}`, w.min.toFixed(1), w.max.toFixed(1)])
  )
)
const early = Math.max(...windows.slice(0, 2).map((w) => w.max))
const late = Math.max(...windows.slice(-2).map((w) => w.max))
console.log(
  `\nHighest RSS, first 20 s: ${early.toFixed(1)} MB; last 20 s: ${late.toFixed(1)} MB ` +
    `(${late <= early * 1.15 ? "flat" : "growing"}; within 15% counts as flat).`
)
printRuns()
goal()

for (const child of children) child.kill("SIGTERM")
process.exit(0)
