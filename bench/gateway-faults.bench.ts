/**
 * The gateway under the two faults issue 16 names, each against the built bundle in a process of its own:
 *
 * 1. **EU starts to hang under steady load.** The sandbox (its own process) serves both regions; callers
 *    send a steady 100 requests/s of cache misses (TTL 0) through the gateway; after 10 s the sandbox's
 *    EU begins to hang (accepts requests, never answers), for the remaining 20 s. Reported: answers per
 *    second before and after (by the second they arrived), the longest time without any answer, the
 *    slowest answer, failed answers, and how long `/readyz` was not ready. With the shipped defaults
 *    (an adaptive hedge, a 3 s attempt timeout) and with the hedge off (`CONVOCORE_HEDGE_DELAY=off`).
 * 2. **Slow clients.** 2,000 connections open and dribble their headers (a byte a second, never
 *    finishing), while a normal caller asks for a cached conversation every 50 ms. Reported: how many of
 *    the slow connections the gateway still holds each few seconds and when it had cut them all, and the
 *    normal caller's answers (p50, p99, slowest, failures).
 *
 *   cd bench && npx tsx gateway-faults.bench.ts      (after a build; about 1.5 minutes)
 *
 * Goals (issue 16): when EU starts hanging, no second passes without answers and no caller waits more
 * than a few seconds; dribbling connections are cut within seconds while other callers keep being served.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"
import * as Os from "node:os"
import { fileURLToPath } from "node:url"
import { Pool } from "undici"
import { median } from "./lib/children.js"
import { startGateway, waitFor } from "./lib/http-load.js"
import { machine, table } from "./lib/report.js"

const benchDir = fileURLToPath(new URL(".", import.meta.url))
const key = "vg_sandbox_demo_key"
const auth = { authorization: `Bearer ${key}` }
const seedPath = "/v3/agents/agent123/convos/convo456"
const steadyRate = 100
const hangAfterS = 10
const steadyRunS = 30
const slowConnections = 2_000
const slowRunS = 20

const children: Array<ChildProcess> = []
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL")
})
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const sandboxScript = `
import { Sandbox } from "@convocore-effect/sandbox"
import { Effect } from "effect"
await Effect.runPromise(
  Effect.scoped(
    Effect.gen(function* () {
      const listening = yield* Sandbox.listen({ port: 0 })
      process.stdout.write(JSON.stringify({ urls: listening.urls, admin: listening.admin }) + "\\n")
      return yield* Effect.never
    })
  ).pipe(Effect.provide(Sandbox.layer()))
)
`

/** The sandbox in a process of its own: its base URLs and admin origin. */
const startSandbox = () =>
  new Promise<{ urls: { eu: string; na: string }; admin: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", sandboxScript], {
      cwd: benchDir,
      env: { PATH: process.env.PATH ?? "" },
      stdio: ["ignore", "pipe", "inherit"]
    })
    children.push(child)
    child.once("exit", (code) => reject(new Error(`the sandbox exited with ${code}`)))
    child.stdout.once("data", (chunk: Buffer) => resolve(JSON.parse(chunk.toString())))
  })

const gatewayInFrontOf = (upstream: { eu: string; na: string }, env: Record<string, string>) =>
  startGateway({ CONVOCORE_EU_URL: upstream.eu, CONVOCORE_NA_URL: upstream.na, ...env })

const setFaults = async (admin: string, faults: Record<string, string>) => {
  const response = await fetch(`${admin}/_sandbox/faults`, { method: "PUT", body: JSON.stringify(faults) })
  if (!response.ok)
    throw new Error(`the sandbox refused faults ${JSON.stringify(faults)}: ${await response.text()}`)
}

// --- 1. EU starts to hang under steady load -------------------------------------------------------------
interface Answer {
  readonly sentAt: number
  readonly ms: number
  readonly status: number | "error"
}

const steadyRun = async (name: string, env: Record<string, string>) => {
  const sandbox = await startSandbox()
  const gateway = await gatewayInFrontOf(sandbox.urls, {
    GATEWAY_CACHE_TTL: "0",
    GATEWAY_STALE_IF_ERROR: "0",
    ...env
  })
  const pool = new Pool(gateway.url, { connections: 256 })
  const answers: Array<Answer> = []
  const inFlight = new Set<Promise<void>>()
  // Readiness, sampled every 250 ms.
  const readiness: Array<{ readonly at: number; readonly ready: boolean }> = []
  const start = performance.now()
  const readySampler = setInterval(() => {
    const at = performance.now() - start
    fetch(`${gateway.url}/readyz`)
      .then(async (r) => {
        await r.arrayBuffer()
        readiness.push({ at, ready: r.ok })
      })
      .catch(() => readiness.push({ at, ready: false }))
  }, 250)

  let sent = 0
  let hung = false
  // Open loop: requests leave on schedule whether or not earlier ones were answered, as real callers do.
  while (performance.now() - start < steadyRunS * 1000) {
    const elapsed = performance.now() - start
    if (!hung && elapsed >= hangAfterS * 1000) {
      hung = true
      void setFaults(sandbox.admin, { eu: "hang" })
    }
    const due = Math.floor((elapsed / 1000) * steadyRate)
    for (; sent < due; sent++) {
      const sentAt = performance.now() - start
      const request = pool
        .request({ path: `/v3/agents/agent123/convos/steady-${sent % 500}`, method: "GET", headers: auth })
        .then(async (response) => {
          await response.body.arrayBuffer()
          answers.push({ sentAt, ms: performance.now() - start - sentAt, status: response.statusCode })
        })
        .catch(() => {
          answers.push({ sentAt, ms: performance.now() - start - sentAt, status: "error" })
        })
      inFlight.add(request)
      void request.finally(() => inFlight.delete(request))
    }
    await sleep(5)
  }
  clearInterval(readySampler)
  await Promise.race([Promise.all(inFlight), sleep(35_000)])
  await pool.close()
  gateway.child.kill("SIGKILL")

  // Answers per second by the second they arrived.
  const perSecond = Array.from({ length: steadyRunS }, () => 0)
  const arrivals = answers
    .filter((a) => a.status === 200)
    .map((a) => a.sentAt + a.ms)
    .sort((a, b) => a - b)
  for (const at of arrivals) {
    const second = Math.floor(at / 1000)
    if (second < steadyRunS) perSecond[second] = (perSecond[second] ?? 0) + 1
  }
  let longestGap = 0
  for (let i = 1; i < arrivals.length; i++) longestGap = Math.max(longestGap, arrivals[i]! - arrivals[i - 1]!)
  const before = perSecond.slice(1, hangAfterS)
  const after = perSecond.slice(hangAfterS, steadyRunS)
  const afterHang = answers.filter((a) => a.sentAt >= hangAfterS * 1000)
  const notReadyMs = readiness.filter((r) => !r.ready && r.at >= hangAfterS * 1000).length * 250
  return {
    name,
    sent,
    answered: answers.length,
    failed: answers.filter((a) => a.status !== 200).length,
    before: `${median(before)} (${Math.min(...before)}-${Math.max(...before)})`,
    after: `${median(after)} (${Math.min(...after)}-${Math.max(...after)})`,
    secondsWithoutAnswers: perSecond.slice(1).filter((n) => n === 0).length,
    longestGapMs: longestGap,
    slowestMs: Math.max(...answers.map((a) => a.ms)),
    slowestAfterHangMs: Math.max(...afterHang.map((a) => a.ms)),
    p99AfterHangMs:
      [...afterHang.map((a) => a.ms)].sort((a, b) => a - b)[Math.floor(afterHang.length * 0.99)] ?? 0,
    notReadyMs
  }
}

// --- 2. slow clients ---------------------------------------------------------------------------------------
const slowRun = async () => {
  const sandbox = await startSandbox()
  const gateway = await gatewayInFrontOf(sandbox.urls, { GATEWAY_CACHE_TTL: "10m" })
  await waitFor(`${gateway.url}${seedPath}`, { headers: auth })
  const port = Number(new URL(gateway.url).port)

  let open = 0
  let cut = 0
  let lastCutAt = 0
  const start = performance.now()
  const sockets: Array<net.Socket> = []
  for (let i = 0; i < slowConnections; i++) {
    const socket = net.connect(port, "127.0.0.1")
    sockets.push(socket)
    socket.on("connect", () => {
      open++
      socket.write(`GET ${seedPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Dribble: `)
    })
    socket.on("error", () => {})
    socket.on("data", () => {})
    socket.on("close", () => {
      open--
      cut++
      lastCutAt = performance.now() - start
    })
  }
  const dribble = setInterval(() => {
    for (const socket of sockets) if (!socket.destroyed) socket.write("a")
  }, 1_000)

  const held: Array<{ readonly s: number; readonly open: number }> = []
  const normal: Array<{ readonly ms: number; readonly ok: boolean }> = []
  const pool = new Pool(gateway.url, { connections: 1 })
  while (performance.now() - start < slowRunS * 1000) {
    const s = (performance.now() - start) / 1000
    if (held.length === 0 || s - held[held.length - 1]!.s >= 2) held.push({ s: Math.round(s), open })
    const t0 = performance.now()
    try {
      const response = await pool.request({
        path: seedPath,
        method: "GET",
        headers: auth,
        headersTimeout: 5_000
      })
      await response.body.arrayBuffer()
      normal.push({ ms: performance.now() - t0, ok: response.statusCode === 200 })
    } catch {
      normal.push({ ms: performance.now() - t0, ok: false })
    }
    await sleep(50)
  }
  clearInterval(dribble)
  for (const socket of sockets) socket.destroy()
  await pool.close()
  gateway.child.kill("SIGKILL")
  const times = normal.map((n) => n.ms).sort((a, b) => a - b)
  return {
    held,
    cutAll:
      cut >= slowConnections
        ? `${(lastCutAt / 1000).toFixed(1)} s`
        : `not within ${slowRunS} s (${slowConnections - cut} still open)`,
    normal: {
      count: normal.length,
      failed: normal.filter((n) => !n.ok).length,
      p50: median(times),
      p99: times[Math.floor(times.length * 0.99)] ?? 0,
      max: times[times.length - 1] ?? 0
    }
  }
}

const loadBefore = Os.loadavg()
const steady = [
  await steadyRun("defaults (adaptive hedge, 3 s attempt timeout)", {}),
  await steadyRun("CONVOCORE_HEDGE_DELAY=off (the 3 s attempt timeout alone)", {
    CONVOCORE_HEDGE_DELAY: "off"
  })
]
const slow = await slowRun()
const loadAfter = Os.loadavg()

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`)
console.log(
  `## Gateway under faults (${machine()}, ${Os.cpus().length} CPUs; load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")} before, ` +
    `${loadAfter.map((l) => l.toFixed(2)).join(" ")} after)\n`
)
console.log(
  `### EU starts to hang after ${hangAfterS} s of a steady ${steadyRate} requests/s (cache misses; ${steadyRunS} s in all)\n`
)
console.log(
  table(
    [
      "gateway",
      "sent",
      "failed",
      "answers/s before: median (range)",
      "answers/s after",
      "seconds without answers",
      "longest gap",
      "slowest answer after the hang",
      "p99 after the hang",
      "/readyz not ready"
    ],
    steady.map((r) => [
      r.name,
      String(r.sent),
      String(r.failed),
      r.before,
      r.after,
      String(r.secondsWithoutAnswers),
      fmt(r.longestGapMs),
      fmt(r.slowestAfterHangMs),
      fmt(r.p99AfterHangMs),
      fmt(r.notReadyMs)
    ])
  )
)
console.log(
  `\n### ${slowConnections} connections dribbling their headers, a normal caller every 50 ms (${slowRunS} s; GATEWAY_HEADERS_TIMEOUT at its default)\n`
)
console.log(
  table(
    ["second", ...slow.held.map((h) => String(h.s))],
    [["slow connections held", ...slow.held.map((h) => String(h.open))]]
  )
)
console.log(
  `\nAll slow connections cut by: ${slow.cutAll}. Normal caller: ${slow.normal.count} requests, ${slow.normal.failed} failed, ` +
    `p50 ${fmt(slow.normal.p50)}, p99 ${fmt(slow.normal.p99)}, slowest ${fmt(slow.normal.max)}.`
)
for (const child of children) child.kill("SIGTERM")
process.exit(0)
