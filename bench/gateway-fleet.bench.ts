/**
 * The gateway with Redis (issue 13): every server in a process of its own (a redis-server on a free port,
 * the sandbox, the built bundle `apps/gateway/dist/convocore-gateway.mjs`), autocannon in this one.
 *
 *   cd bench && npx tsx gateway-fleet.bench.ts        (after a build; redis-server on PATH; about 2 minutes)
 *
 * 1. Cache hits from memory (L1) with Redis configured, against a bare `node:http` server answering the
 *    same bytes and the gateway without Redis (goal: at least 0.5 of bare), alternating, the better run kept.
 * 2. CPU per request (user + system of the gateway process, from /proc, and of redis-server) for hits from
 *    Redis (L2: an L1 of one entry, 1,000 ids cycled, all in Redis) and for misses (a 1 ms TTL, so every
 *    request goes upstream and stores), with Redis and without.
 * 3. Two replicas and Redis: bursts of 100 concurrent identical requests split across them, and the
 *    upstream calls each burst made (goal: 1), beside two replicas without Redis.
 * 4. Waking a waiter when another replica's entry lands: pub/sub against polling (GET every 10 or 50 ms):
 *    the delay from the write to the wake-up, and the Redis commands one wait costs.
 *
 * Switches: `BENCH_ONLY=hit,cpu,burst,wake` (the sections to run, default all), `BENCH_DURATION_S`
 * (autocannon run length, default 10), `BENCH_ROUNDS` (bare/hit rounds, default 2), `BENCH_BURSTS`
 * (default 20), `BENCH_REDIS_ENV=K=V,...` (more variables for the gateways with Redis), `REDIS_SERVER`
 * (the redis-server binary).
 */
import { existsSync } from "node:fs"
import * as Os from "node:os"
import { fileURLToPath } from "node:url"
import { Redis } from "ioredis"
import { sandboxScript, spawnQuiet } from "./lib/children.js"
import {
  autocannon,
  freePort,
  cpuSeconds as procCpuSeconds,
  type RequestSpec,
  type LoadResult as Result
} from "./lib/http-load.js"
import { loadAverage, machine, table } from "./lib/report.js"

const connections = 32
const durationS = Number(process.env.BENCH_DURATION_S ?? 10)
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2))
const bursts = Math.max(1, Number(process.env.BENCH_BURSTS ?? 20))
const sections = (process.env.BENCH_ONLY ?? "hit,cpu,burst,wake").split(",")
const only = (section: string) => sections.includes(section)
// `BENCH_REDIS_ENV=K=V,...`: more variables for the gateways with Redis (GATEWAY_REDIS_TIMEOUT=1s, say).
const redisEnv = Object.fromEntries(
  (process.env.BENCH_REDIS_ENV ?? "")
    .split(",")
    .filter((pair) => pair.includes("="))
    .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)])
)
const auth = { authorization: "Bearer vg_sandbox_demo_key" }
const bundle = fileURLToPath(new URL("../apps/gateway/dist/convocore-gateway.mjs", import.meta.url))
const seedPath = "/v3/agents/agent123/convos/convo456"
const ids = 1000
if (!existsSync(bundle)) throw new Error(`${bundle} is missing: build first`)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const cpuSeconds = (pid: number | undefined) => procCpuSeconds(pid) ?? Number.NaN

const waitFor = async (check: () => Promise<boolean>, what: string) => {
  for (let i = 0; i < 300; i++) {
    if (await check().catch(() => false)) return
    await sleep(50)
  }
  throw new Error(`${what} never answered`)
}
const answers = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, { headers }).then(async (response) => {
    await response.arrayBuffer()
    return response.ok
  })

const run = spawnQuiet

// --- Redis and the sandbox -------------------------------------------------------------------------------
const redisPort = await freePort()
const redisChild = run(process.env.REDIS_SERVER ?? "redis-server", [
  "--port",
  String(redisPort),
  "--bind",
  "127.0.0.1",
  "--save",
  "",
  "--appendonly",
  "no"
])
const redisUrl = `redis://127.0.0.1:${redisPort}`
// Commands wait in ioredis's offline queue until the server accepts the connection.
const redis = new Redis(redisUrl)
redis.on("error", () => {})
await redis.ping()

const [euPort, naPort] = [await freePort(), await freePort()]
run(process.execPath, ["--input-type=module", "-e", sandboxScript], {
  EU_PORT: String(euPort),
  NA_PORT: String(naPort)
})
const upstream = { eu: `http://127.0.0.1:${euPort}/v3`, na: `http://127.0.0.1:${naPort}/v3` }
await waitFor(() => answers(`${upstream.eu}/agents/agent123/convos/convo456`, auth), "the sandbox")
/** Requests the sandbox has received, both regions. */
const upstreamRequests = async () => {
  const response = await fetch(`http://127.0.0.1:${euPort}/_sandbox/counters`)
  const counters = (await response.json()) as Record<string, { readonly requests: number }>
  return Object.values(counters).reduce((sum, region) => sum + region.requests, 0)
}
// The documents the runs cycle through, generated once so that the sandbox serves them from its cache.
// The hit runs and the miss runs have ids of their own: what one run stores in Redis is no other's hit.
for (const prefix of ["hit", "miss"])
  for (let i = 0; i < ids; i += 50)
    await Promise.all(
      Array.from({ length: 50 }, (_, j) =>
        answers(`${upstream.eu}/agents/agent123/convos/${prefix}-${i + j}`, auth)
      )
    )

const startGateway = async (env: Record<string, string>) => {
  const port = await freePort()
  const child = run(process.execPath, [bundle], {
    PORT: String(port),
    HOST: "127.0.0.1",
    CONVOCORE_EU_URL: upstream.eu,
    CONVOCORE_NA_URL: upstream.na,
    // autocannon keeps its 32 connections for the whole run, as the bare server lets it; past the default
    // 1,000 requests on one connection Node answers it 503 until it reconnects.
    GATEWAY_MAX_REQUESTS_PER_CONNECTION: "0",
    ...env,
    ...(env.GATEWAY_REDIS_URL === undefined ? {} : redisEnv)
  })
  const url = `http://127.0.0.1:${port}`
  await waitFor(() => answers(`${url}/healthz`), url)
  // With Redis: ready once the replica says it is connected.
  if (env.GATEWAY_REDIS_URL !== undefined)
    await waitFor(
      () => fetch(`${url}/metrics`).then(async (r) => /^convocore_gateway_redis_up 1$/m.test(await r.text())),
      `${url}'s Redis connection`
    )
  return { child, url }
}
const withRedis = { GATEWAY_REDIS_URL: redisUrl }

/** Redis operations the replicas did without (failed or over GATEWAY_REDIS_TIMEOUT), from their /metrics. */
const redisErrors = async (replicas: ReadonlyArray<{ readonly url: string }>) => {
  let total = 0
  for (const { url } of replicas) {
    const text = await (await fetch(`${url}/metrics`)).text()
    for (const match of text.matchAll(/^convocore_gateway_redis_errors_total\{[^}]*\} (\d+)$/gm))
      total += Number(match[1])
  }
  return total
}

interface Measured {
  readonly name: string
  readonly result: Result
  readonly gatewayUs: number
  readonly redisUs: number
}
const measured: Array<Measured> = []

/** Requests cycling through `ids` conversations named `<prefix>-<n>`. */
const cycling = (prefix: string): ReadonlyArray<RequestSpec> => {
  let n = 0
  return [
    { setupRequest: (request) => ({ ...request, path: `/v3/agents/agent123/convos/${prefix}-${n++ % ids}` }) }
  ]
}

const load = async (
  url: string,
  options: {
    readonly name?: string
    readonly pid?: number
    readonly requests?: ReadonlyArray<RequestSpec>
  } = {},
  duration = durationS
) => {
  const gatewayBefore = cpuSeconds(options.pid)
  const redisBefore = cpuSeconds(redisChild.pid)
  const result = await autocannon({
    url,
    connections,
    duration,
    headers: auth,
    ...(options.requests === undefined ? {} : { requests: options.requests })
  })
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    const sample = await fetch(url, { headers: auth }).then(async (r) => `${r.status} ${await r.text()}`)
    throw new Error(
      `${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts; statuses ${JSON.stringify((result as unknown as { statusCodeStats: unknown }).statusCodeStats)}; one answer: ${sample.slice(0, 100)}`
    )
  }
  if (options.name !== undefined) {
    const total = Math.max(1, result.requests.total)
    measured.push({
      name: options.name,
      result,
      gatewayUs: ((cpuSeconds(options.pid) - gatewayBefore) * 1e6) / total,
      redisUs: ((cpuSeconds(redisChild.pid) - redisBefore) * 1e6) / total
    })
  }
  return result
}

const rate = (r: Result) => Math.round(r.requests.average).toLocaleString("en-US")
const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`
const us = (value: number) => (Number.isNaN(value) ? "-" : `${value.toFixed(value < 100 ? 1 : 0)} µs`)

console.log(
  `## Gateway with Redis (${machine()}, ${Os.cpus().length} CPUs, redis-server ${
    (await redis.info("server")).match(/redis_version:(\S+)/)?.[1]
  }; autocannon ${durationS} s at ${connections} connections; load average at the start ${loadAverage()})\n`
)

// --- 1. L1 hits with Redis against bare node:http --------------------------------------------------------
if (only("hit")) {
  const hitRedis = await startGateway({ ...withRedis, GATEWAY_CACHE_TTL: "10m" })
  const hitAlone = await startGateway({ GATEWAY_CACHE_TTL: "10m" })
  const seedBytes = Buffer.from(
    await (await fetch(`${hitRedis.url}${seedPath}`, { headers: auth })).arrayBuffer()
  )
  await answers(`${hitAlone.url}${seedPath}`, auth)
  const barePort = await freePort()
  const bare = run(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { createServer } from "node:http"
const body = Buffer.from(process.env.BODY_BASE64, "base64")
createServer((request, response) => {
  response.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": body.length })
  response.end(body)
}).listen(${barePort}, "127.0.0.1")`
    ],
    { BODY_BASE64: seedBytes.toString("base64") }
  )
  const bareUrl = `http://127.0.0.1:${barePort}`
  await waitFor(() => answers(bareUrl), "the bare server")
  const servers = [
    { name: "bare `node:http`, same bytes", url: bareUrl, pid: bare.pid },
    { name: "gateway + Redis, L1 hit", url: hitRedis.url, pid: hitRedis.child.pid },
    { name: "gateway alone, hit", url: hitAlone.url, pid: hitAlone.child.pid }
  ]
  for (const server of servers) await load(`${server.url}${seedPath}`, {}, 2)
  const best = new Map<string, Result>()
  for (let round = 0; round < rounds; round++)
    for (const server of round % 2 === 0 ? servers : [...servers].reverse()) {
      const result = await load(`${server.url}${seedPath}`, { name: server.name, pid: server.pid ?? 0 })
      const before = best.get(server.name)
      if (before === undefined || result.requests.average > before.requests.average)
        best.set(server.name, result)
    }
  const bareRate = best.get(servers[0]!.name)!.requests.average
  console.log(`### 1. Cache hits from memory (the better of ${rounds} alternating runs)\n`)
  console.log(
    table(
      ["server", "requests/s", "p50", "p99", "vs bare node:http", "server CPU per request, each run"],
      servers.map(({ name }) => {
        const r = best.get(name)!
        return [
          name,
          rate(r),
          ms(r.latency.p50),
          ms(r.latency.p99),
          (r.requests.average / bareRate).toFixed(2),
          measured
            .filter((m) => m.name === name)
            .map((m) => us(m.gatewayUs))
            .join(", ")
        ]
      })
    )
  )
  const ratio = best.get(servers[1]!.name)!.requests.average / bareRate
  console.log(
    `\nGoal, L1 hits with Redis >= 0.5 x bare: ${ratio >= 0.5 ? "met" : "not met"} (${ratio.toFixed(2)}).\n`
  )
  for (const server of [hitRedis.child, hitAlone.child, bare]) server.kill("SIGTERM")
}

// --- 2. CPU per request: L2 hits and misses, with Redis and without --------------------------------------
if (only("cpu")) {
  // An L1 of one entry: with 1,000 ids cycled, every request misses memory and (with Redis) hits Redis.
  const l2 = await startGateway({ ...withRedis, GATEWAY_CACHE_TTL: "10m", GATEWAY_CACHE_MAX_ENTRIES: "1" })
  const upstreamL1 = await startGateway({ GATEWAY_CACHE_TTL: "10m", GATEWAY_CACHE_MAX_ENTRIES: "1" })
  // A 1 ms TTL: every request is a miss that stores (and, with Redis, locks, writes, unlocks, publishes).
  const missEnv = { GATEWAY_CACHE_TTL: "1", GATEWAY_STALE_IF_ERROR: "0" }
  const missRedis = await startGateway({ ...withRedis, ...missEnv })
  const missAlone = await startGateway(missEnv)
  for (let i = 0; i < ids; i += 50)
    await Promise.all(
      Array.from({ length: 50 }, (_, j) => answers(`${l2.url}/v3/agents/agent123/convos/hit-${i + j}`, auth))
    )
  const runs = [
    { name: "L2 hit (Redis; L1 of 1 entry)", gateway: l2, prefix: "hit" },
    { name: "same ids, without Redis: every request upstream", gateway: upstreamL1, prefix: "hit" },
    { name: "miss, with Redis (TTL 1 ms)", gateway: missRedis, prefix: "miss" },
    { name: "miss, without Redis (TTL 1 ms)", gateway: missAlone, prefix: "miss" }
  ]
  for (const { gateway, prefix } of runs) await load(`${gateway.url}/`, { requests: cycling(prefix) }, 2)
  const first = measured.length
  for (const { name, gateway, prefix } of runs)
    await load(`${gateway.url}/`, { name, pid: gateway.child.pid ?? 0, requests: cycling(prefix) })
  console.log(`### 2. CPU per request, ${ids} ids cycled (load average after: ${loadAverage()})\n`)
  console.log(
    table(
      ["run", "requests/s", "p99", "gateway CPU per request", "redis-server CPU per request"],
      measured
        .slice(first)
        .map((m) => [m.name, rate(m.result), ms(m.result.latency.p99), us(m.gatewayUs), us(m.redisUs)])
    )
  )
  console.log("")
  for (const { gateway } of runs) gateway.child.kill("SIGTERM")
}

// --- 3. Bursts across two replicas ---------------------------------------------------------------------
if (only("burst")) {
  const fleets = [
    {
      name: "two replicas + Redis",
      replicas: [await startGateway(withRedis), await startGateway(withRedis)]
    },
    { name: "two replicas, no Redis", replicas: [await startGateway({}), await startGateway({})] }
  ]
  const rows: Array<Array<string>> = []
  for (const [index, fleet] of fleets.entries()) {
    const calls: Array<number> = []
    const walls: Array<number> = []
    for (let burst = 0; burst < bursts; burst++) {
      const path = `/v3/agents/agent123/convos/burst-${index}-${burst}`
      const before = await upstreamRequests()
      const started = performance.now()
      const statuses = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          fetch(`${fleet.replicas[i % 2]!.url}${path}`, { headers: auth }).then(async (r) => {
            await r.arrayBuffer()
            return r.status
          })
        )
      )
      walls.push(performance.now() - started)
      if (statuses.some((s) => s !== 200)) throw new Error(`${fleet.name}: statuses ${statuses.join(",")}`)
      calls.push((await upstreamRequests()) - before)
    }
    const sorted = [...walls].sort((a, b) => a - b)
    rows.push([
      fleet.name,
      String(bursts),
      `${calls.filter((c) => c === 1).length} of ${bursts}`,
      `${Math.min(...calls)} to ${Math.max(...calls)}`,
      ms(sorted[Math.floor(sorted.length / 2)]!),
      ms(sorted[sorted.length - 1]!),
      String(await redisErrors(fleet.replicas))
    ])
    for (const replica of fleet.replicas) replica.child.kill("SIGTERM")
  }
  console.log(
    `### 3. Bursts of 100 concurrent identical requests, split across two replicas (load average after: ${loadAverage()})\n`
  )
  console.log(
    table(
      [
        "fleet",
        "bursts",
        "bursts with 1 upstream call",
        "upstream calls per burst",
        "burst p50",
        "burst max",
        "Redis operations failed"
      ],
      rows
    )
  )
  console.log("")
}

// --- 4. Waking a waiter: pub/sub against polling --------------------------------------------------------
if (only("wake")) {
  const trials = 200
  const subscriber = new Redis(redisUrl)
  const channel = "bench:landed"
  await subscriber.subscribe(channel)
  const listeners = new Map<string, () => void>()
  subscriber.on("message", (_channel: string, key: string) => listeners.get(key)?.())
  const modes = [
    { name: "pub/sub (one channel, the key in the message)", poll: 0 },
    { name: "poll, GET every 10 ms", poll: 10 },
    { name: "poll, GET every 50 ms", poll: 50 }
  ]
  const rows: Array<Array<string>> = []
  for (const mode of modes) {
    const delays: Array<number> = []
    let commands = 0
    for (let trial = 0; trial < trials; trial++) {
      const key = `bench:entry:${mode.poll}:${trial}`
      let landedAt = 0
      const woken =
        mode.poll === 0
          ? new Promise<void>((resolve) => listeners.set(key, resolve))
          : (async () => {
              for (;;) {
                commands++
                if ((await redis.get(key)) !== null) return
                await sleep(mode.poll)
              }
            })()
      // The holder's call ends 5 to 25 ms after the waiter starts waiting.
      await sleep(5 + Math.random() * 20)
      landedAt = performance.now()
      await redis.set(key, "x", "PX", 10_000)
      if (mode.poll === 0) {
        await redis.publish(channel, key)
        commands++
      }
      await woken
      delays.push(performance.now() - landedAt)
      listeners.delete(key)
    }
    const sorted = delays.sort((a, b) => a - b)
    rows.push([
      mode.name,
      ms(sorted[Math.floor(trials / 2)]!),
      ms(sorted[Math.floor(trials * 0.99)]!),
      (commands / trials).toFixed(1)
    ])
  }
  subscriber.disconnect()
  console.log(
    `### 4. Waking a waiter when the entry lands, ${trials} waits each (load average after: ${loadAverage()})\n`
  )
  console.log(table(["wake-up", "delay p50", "delay p99", "Redis commands per wait"], rows))
}

redis.disconnect()
// The children (./lib/children.ts) are stopped as this process exits.
process.exit(0)
