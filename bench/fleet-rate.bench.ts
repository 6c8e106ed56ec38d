/**
 * One upstream budget for a gateway fleet (issue 13, item 3): two gateway replicas (the built bundle, a
 * process each) in front of the sandbox (a process) whose EU region is limited to 50 requests/s (token
 * bucket, burst 50, `Retry-After: 1`), calls pinned to EU. 300 callers at once, each asking a conversation
 * no one asked before (every one a cache miss), half through each replica. Each is the seed example under
 * an agent of its own: the sandbox serves it from stored bytes, where generating 300 documents would cost
 * its process more CPU than a busy machine gives it, and bound the rate below the limit being measured. Per setup: the share of
 * upstream requests refused with 429 (goal <= 2% with Redis) and the time until the last caller is
 * answered, against the ideal 300/45 s = 6.7 s; callers that got no document. Setups, alternating per run:
 * - shared: `GATEWAY_UPSTREAM_RATE=45` and `GATEWAY_REDIS_URL` (a redis-server child on a free port);
 * - apart: `GATEWAY_UPSTREAM_RATE=45`, no Redis: each replica spends 45/s on its own;
 * - unbudgeted: neither variable, as every gateway ran before: each replica's own adaptive rate.
 * Counts come from the sandbox's own counters; the load average is printed with every run.
 *
 *   cd bench && npx tsx fleet-rate.bench.ts     (after a build; about 2 minutes; BENCH_RUNS, default 2)
 */
import { execFileSync } from "node:child_process"
import { loadavg } from "node:os"
import { median, sandboxScript, spawnQuiet } from "./lib/children.js"
import { freePort, startGateway as startBundle, waitFor } from "./lib/http-load.js"
import { machine, table } from "./lib/report.js"

const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 2))
const callers = 300
const budget = 45
const limit = 50
const key = "vg_sandbox_demo_key"
const auth = { authorization: `Bearer ${key}` }

const startRedis = async () => {
  const path = execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim()
  if (path === "") throw new Error("redis-server is not installed (apt-get install redis-server)")
  const port = await freePort()
  spawnQuiet(path, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {})
  return `redis://127.0.0.1:${port}`
}

const main = async () => {
  const [euPort, naPort] = [await freePort(), await freePort()]
  spawnQuiet(process.execPath, ["--input-type=module", "-e", sandboxScript], {
    EU_PORT: String(euPort),
    NA_PORT: String(naPort)
  })
  const upstream = { eu: `http://127.0.0.1:${euPort}/v3`, na: `http://127.0.0.1:${naPort}/v3` }
  const admin = `http://127.0.0.1:${euPort}/_sandbox`
  await waitFor(`${upstream.eu}/agents/agent123/convos/convo456`, { headers: auth })
  const redisUrl = await startRedis()

  const startGateway = (env: Record<string, string>) =>
    startBundle({
      CONVOCORE_EU_URL: upstream.eu,
      CONVOCORE_NA_URL: upstream.na,
      CONVOCORE_REGION: "eu",
      CONVOCORE_REGION_POLICY: "pinned",
      ...env
    })

  const setups: ReadonlyArray<{ readonly name: string; readonly env: Record<string, string> }> = [
    { name: "shared (Redis)", env: { GATEWAY_UPSTREAM_RATE: String(budget), GATEWAY_REDIS_URL: redisUrl } },
    { name: "apart (no Redis)", env: { GATEWAY_UPSTREAM_RATE: String(budget) } },
    { name: "unbudgeted (no Redis, no rate)", env: {} }
  ]

  const measure = async (setup: (typeof setups)[number], run: number) => {
    const gateways = [await startGateway(setup.env), await startGateway(setup.env)]
    // A fresh bucket (installing the fault refills it) and fresh counters for each measure.
    await fetch(`${admin}/faults?region=eu`, { method: "PUT", body: `rate=${limit}/s` }).then((r) => r.text())
    await fetch(`${admin}/counters`, { method: "DELETE" }).then((r) => r.text())
    // Give the replicas a heartbeat to count each other.
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    const loadStart = loadavg()[0]!.toFixed(2)
    const started = performance.now()
    const answers = await Promise.all(
      Array.from({ length: callers }, async (_, i) => {
        const gateway = gateways[i % gateways.length]!
        const response = await fetch(`${gateway.url}/v3/agents/fleet-${run}-${i}/convos/convo456`, {
          headers: auth
        })
        await response.arrayBuffer()
        return { status: response.status, ms: performance.now() - started }
      })
    )
    const seconds = (performance.now() - started) / 1000
    const counters = (await (await fetch(`${admin}/counters`)).json()) as {
      eu: { requests: number; byOutcome: Record<string, number> }
    }
    for (const gateway of gateways) gateway.child.kill("SIGTERM")
    await Promise.all(gateways.map((g) => new Promise((resolve) => g.child.once("exit", resolve))))
    const limited = counters.eu.byOutcome["rate-limited"] ?? 0
    const failed = answers.filter((a) => a.status !== 200).length
    return [
      setup.name,
      String(counters.eu.requests),
      String(limited),
      `${((100 * limited) / counters.eu.requests).toFixed(1)}%`,
      seconds.toFixed(1),
      (seconds / (callers / budget)).toFixed(2),
      (median(answers.map((a) => a.ms)) / 1000).toFixed(1),
      String(failed),
      `${loadStart} / ${loadavg()[0]!.toFixed(2)}`
    ]
  }

  const rows: Array<Array<string>> = []
  for (let run = 0; run < runs; run++) {
    for (const setup of setups) rows.push(await measure(setup, run))
    console.error(`run ${run + 1} of ${runs} done`)
  }
  console.log(
    `\n${callers} distinct misses at once over 2 replicas, EU pinned, sandbox rate=${limit}/s (burst ${limit}), ideal ${(callers / budget).toFixed(1)} s at ${budget}/s; ${machine()}\n`
  )
  console.log(
    table(
      [
        "setup",
        "upstream requests",
        "429s",
        "429 share",
        "s to the last answer",
        "/ ideal",
        "median caller s",
        "callers without a document",
        "load avg (start / end)"
      ],
      rows
    )
  )
  process.exit(0)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
