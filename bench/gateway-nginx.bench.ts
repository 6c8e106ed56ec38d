/**
 * The gateway beside nginx (one worker, Debian's package), both in front of the same bare upstream (a
 * `node:http` server answering the seed's example response to every path), at 32 connections:
 * - cache hits: one conversation, fresh in both caches (nginx `proxy_cache`);
 * - misses that store: every request a conversation never asked before (nginx `proxy_cache` miss, which
 *   writes a cache file; the gateway keeps it in memory);
 * - misses that store nothing: the gateway with TTL 0 beside nginx `proxy_pass` without a cache.
 * The figure that matters is each server's CPU time per request (user + system of its processes, from
 * /proc): the rate depends on how the two cores are shared with autocannon and the upstream.
 *
 *   cd bench && npx tsx gateway-nginx.bench.ts     (after a build; about 2 minutes)
 *
 * nginx is installed from Debian's package when it is missing and this runs as root with apt-get; where
 * it cannot be, its rows are skipped with a note. `BENCH_ROUNDS` (default 3) alternating rounds of
 * `BENCH_DURATION_S` (default 5) seconds per run; medians and ranges over the rounds.
 * Goals (issue 16): a miss at most 300 µs of CPU (aim: 2x nginx's proxy_cache miss); hits: match nginx.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { median, range, startBareServer } from "./lib/children.js"
import {
  autocannon,
  checkClean,
  cpuSecondsOf,
  freePort,
  type LoadResult,
  type RequestSpec,
  startGateway,
  waitFor
} from "./lib/http-load.js"
import { machine, table } from "./lib/report.js"

const connections = 32
const durationS = Number(process.env.BENCH_DURATION_S ?? 5)
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3))
const auth = { authorization: "Bearer vg_bench_tenant_key" }
const hitPath = "/v3/agents/agent123/convos/convo456"

const children: Array<ChildProcess> = []
const workDirs: Array<string> = []
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL")
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true })
})

// --- nginx: found, or installed from Debian's package, or its rows skipped -----------------------------
const which = (command: string): string | undefined => {
  try {
    return execFileSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
}
const findNginx = (): { readonly path: string } | { readonly skipped: string } => {
  const found = which("nginx") ?? (existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : undefined)
  if (found !== undefined) return { path: found }
  if (process.getuid?.() !== 0 || which("apt-get") === undefined)
    return { skipped: "nginx is not installed, and installing it needs root and apt-get" }
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
    execFileSync(
      "sh",
      [
        "-c",
        "apt-get install -y -qq nginx-light || (apt-get update -qq && apt-get install -y -qq nginx-light)"
      ],
      {
        env,
        stdio: "ignore"
      }
    )
  } catch {
    return { skipped: "nginx is not installed, and `apt-get install nginx-light` failed" }
  }
  const installed = which("nginx") ?? "/usr/sbin/nginx"
  return existsSync(installed) ? { path: installed } : { skipped: "nginx could not be installed" }
}
const nginx = findNginx()
// `nginx -v` writes its version to stderr.
const nginxVersion =
  "path" in nginx
    ? spawnSync(nginx.path, ["-v"], { encoding: "utf8" }).stderr.trim().replace("nginx version: ", "")
    : "nginx skipped"

/** nginx in the foreground with one worker, its files in a directory of its own. */
const startNginx = async (nginxPath: string, upstreamPort: number, cache: boolean) => {
  const dir = mkdtempSync(Path.join(Os.tmpdir(), "bench-nginx-"))
  workDirs.push(dir)
  const port = await freePort()
  const config = `
${process.getuid?.() === 0 ? "user root;" : ""}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=convos:32m max_size=1g inactive=10m use_temp_path=off;
  upstream convocore { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 100000;
    location /v3/ {
      proxy_pass http://convocore;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      ${
        cache
          ? `proxy_cache convos;
      proxy_cache_key "$http_authorization$request_uri";
      proxy_cache_valid 200 10m;
      proxy_cache_lock on;
      add_header Cache-Status $upstream_cache_status;`
          : ""
      }
    }
  }
}
`
  writeFileSync(`${dir}/nginx.conf`, config)
  const child = spawn(nginxPath, ["-p", dir, "-c", `${dir}/nginx.conf`, "-e", `${dir}/error.log`], {
    stdio: ["ignore", "ignore", "inherit"]
  })
  children.push(child)
  const url = `http://127.0.0.1:${port}`
  await waitFor(`${url}${hitPath}`, { headers: auth })
  // The master and its worker (and, with a cache, the cache manager): all of nginx's CPU time.
  const pids = () => {
    const master = child.pid ?? 0
    const file = `/proc/${master}/task/${master}/children`
    const kids = existsSync(file)
      ? readFileSync(file, "utf8").trim().split(/\s+/).filter(Boolean).map(Number)
      : []
    return [master, ...kids]
  }
  return { url, pids }
}

const gatewayInFrontOf = async (upstreamPort: number, ttl: string) => {
  const { child, url } = await startGateway({
    CONVOCORE_BASE_URL: `http://127.0.0.1:${upstreamPort}/v3`,
    GATEWAY_CACHE_TTL: ttl,
    ...(ttl === "0" ? { GATEWAY_STALE_IF_ERROR: "0" } : {})
  })
  return { url, pids: () => [child.pid ?? 0] }
}

// --- the servers ---------------------------------------------------------------------------------------
const upstreamPort = await startBareServer()
type Server = { readonly url: string; readonly pids: () => ReadonlyArray<number> }
const servers: Record<string, Server | undefined> = {
  "gateway, TTL 10m": await gatewayInFrontOf(upstreamPort, "10m"),
  "gateway, TTL 0": await gatewayInFrontOf(upstreamPort, "0"),
  "nginx proxy_cache": "path" in nginx ? await startNginx(nginx.path, upstreamPort, true) : undefined,
  "nginx proxy_pass": "path" in nginx ? await startNginx(nginx.path, upstreamPort, false) : undefined
}

interface Scenario {
  readonly kind: "hit" | "miss, stored" | "miss, not stored"
  readonly server: string
}
const scenarios: ReadonlyArray<Scenario> = [
  { kind: "hit", server: "gateway, TTL 10m" },
  { kind: "hit", server: "nginx proxy_cache" },
  { kind: "miss, stored", server: "gateway, TTL 10m" },
  { kind: "miss, stored", server: "nginx proxy_cache" },
  { kind: "miss, not stored", server: "gateway, TTL 0" },
  { kind: "miss, not stored", server: "nginx proxy_pass" }
]

// Every miss asks for a conversation no request asked before, in any run.
let fresh = 0
const requestsOf = (kind: Scenario["kind"]): ReadonlyArray<RequestSpec> | undefined =>
  kind === "hit"
    ? undefined
    : [{ setupRequest: (request) => ({ ...request, path: `/v3/agents/agent123/convos/bench-${fresh++}` }) }]

interface Measured {
  readonly rate: number
  readonly cpuUs: number
  readonly p99: number
}
const measured = new Map<string, Array<Measured>>()

const measure = async (scenario: Scenario, duration: number, record: boolean) => {
  const server = servers[scenario.server]
  if (server === undefined) return
  const pids = server.pids()
  const before = cpuSecondsOf(pids)
  const requests = requestsOf(scenario.kind)
  const result: LoadResult = await autocannon({
    url: `${server.url}${hitPath}`,
    connections,
    duration,
    headers: auth,
    ...(requests === undefined ? {} : { requests })
  })
  checkClean(`${scenario.kind}, ${scenario.server}`, result)
  const after = cpuSecondsOf(pids)
  if (!record) return
  const key = `${scenario.kind}\u0000${scenario.server}`
  const list = measured.get(key) ?? []
  list.push({
    rate: result.requests.average,
    cpuUs:
      before === undefined || after === undefined
        ? Number.NaN
        : ((after - before) * 1e6) / result.requests.total,
    p99: result.latency.p99
  })
  measured.set(key, list)
}

const loadBefore = Os.loadavg()
for (const scenario of scenarios) await measure(scenario, 1, false) // warm-up: JIT, keep-alive pools
for (let round = 0; round < rounds; round++)
  for (const scenario of round % 2 === 0 ? scenarios : [...scenarios].reverse())
    await measure(scenario, durationS, true)
const loadAfter = Os.loadavg()

// --- report ----------------------------------------------------------------------------------------------
const average = (values: ReadonlyArray<number>) => values.reduce((a, b) => a + b, 0) / values.length
const rows = scenarios.map(({ kind, server }) => {
  const runs = measured.get(`${kind}\u0000${server}`)
  if (runs === undefined) return [kind, server, "skipped", "", "", "", ""]
  const rates = runs.map((r) => r.rate)
  const cpu = runs.map((r) => r.cpuUs)
  return [
    kind,
    server,
    Math.round(median(rates)).toLocaleString("en-US"),
    range(rates),
    median(cpu).toFixed(1),
    range(cpu, 1),
    `${average(runs.map((r) => r.p99)).toFixed(1)} ms`
  ]
})
const cpuOf = (kind: Scenario["kind"], server: string) => {
  const runs = measured.get(`${kind}\u0000${server}`)
  return runs === undefined ? undefined : median(runs.map((r) => r.cpuUs))
}

console.log(
  `## Gateway beside nginx (${machine()}, ${Os.cpus().length} CPUs, ${nginxVersion}; ` +
    `autocannon ${durationS} s at ${connections} connections, ${rounds} alternating rounds; ` +
    `load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")} before, ${loadAfter.map((l) => l.toFixed(2)).join(" ")} after)\n`
)
console.log(
  table(
    [
      "requests",
      "server",
      "requests/s (median)",
      "range",
      "server CPU µs per request (median)",
      "range",
      "p99 (mean)"
    ],
    rows
  )
)
if ("skipped" in nginx) console.log(`\nnginx rows skipped: ${nginx.skipped}.`)
const missCpu = cpuOf("miss, stored", "gateway, TTL 10m")
const nginxMissCpu = cpuOf("miss, stored", "nginx proxy_cache")
const hitCpu = cpuOf("hit", "gateway, TTL 10m")
const nginxHitCpu = cpuOf("hit", "nginx proxy_cache")
if (missCpu !== undefined)
  console.log(
    `\nGateway miss (stored): ${missCpu.toFixed(1)} µs of CPU (goal at most 300: ${missCpu <= 300 ? "met" : "not met"}` +
      (nginxMissCpu === undefined
        ? ")"
        : `; ${(missCpu / nginxMissCpu).toFixed(2)}x nginx's ${nginxMissCpu.toFixed(1)} µs, aim 2x)`)
  )
if (hitCpu !== undefined && nginxHitCpu !== undefined)
  console.log(
    `Gateway hit: ${hitCpu.toFixed(1)} µs of CPU, ${(hitCpu / nginxHitCpu).toFixed(2)}x nginx's ${nginxHitCpu.toFixed(1)} µs.`
  )

for (const child of children) child.kill("SIGTERM")
process.exit(0)
