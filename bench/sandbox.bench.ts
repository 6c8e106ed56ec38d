/**
 * The sandbox's own numbers: how many requests per second a listener serves for the seed's example
 * (so it is never mistaken for the bottleneck of the client and gateway benchmarks), and how long the
 * listeners take to start (until both regions accept a connection).
 *
 * The load comes from a separate Node process (a `fetch` loop at concurrency 32 over keep-alive
 * connections), so the load generator does not share the sandbox's event loop. Run with
 * `cd bench && npx tsx sandbox.bench.ts` after a build; it ends by itself in well under a minute.
 */

import { spawn } from "node:child_process"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { connect } from "node:net"
import * as Os from "node:os"
import { Fixtures, Sandbox } from "@convocore-effect/sandbox"
import { seedExampleResponse } from "@convocore-effect/schema"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect, Exit, Scope } from "effect"

const concurrency = 32
const warmupMs = 1_000
const durationMs = 4_000
const rounds = 2

/** The load generator, run by a child `node`: it reports requests, errors and latency percentiles. */
const loadScript = `
const { URL: url, KEY: key, CONCURRENCY, WARMUP_MS, DURATION_MS, EXPECTED_LENGTH } = process.env
const expected = Number(EXPECTED_LENGTH)
const headers = { authorization: "Bearer " + key }
let measuring = false, stop = false, requests = 0, errors = 0
const latencies = []
const worker = async () => {
  while (!stop) {
    const started = performance.now()
    try {
      const response = await fetch(url, { headers })
      const body = await response.arrayBuffer()
      if (response.status !== 200 || body.byteLength !== expected) errors++
    } catch { errors++ }
    if (measuring) { requests++; latencies.push(performance.now() - started) }
  }
}
const workers = Array.from({ length: Number(CONCURRENCY) }, worker)
await new Promise((r) => setTimeout(r, Number(WARMUP_MS)))
measuring = true
const begin = performance.now()
await new Promise((r) => setTimeout(r, Number(DURATION_MS)))
measuring = false
const elapsedMs = performance.now() - begin
stop = true
await Promise.all(workers)
latencies.sort((a, b) => a - b)
const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
process.stdout.write(JSON.stringify({ requests, errors, elapsedMs, p50: at(0.5), p99: at(0.99) }))
`

interface Load {
  readonly requests: number
  readonly errors: number
  readonly elapsedMs: number
  readonly p50: number
  readonly p99: number
}

const runLoad = (url: string, expectedLength: number): Promise<Load> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", loadScript], {
      env: {
        ...process.env,
        URL: url,
        KEY: Fixtures.demoApiKey,
        CONCURRENCY: String(concurrency),
        WARMUP_MS: String(warmupMs),
        DURATION_MS: String(durationMs),
        EXPECTED_LENGTH: String(expectedLength)
      },
      stdio: ["ignore", "pipe", "inherit"]
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    const guard = setTimeout(() => child.kill("SIGKILL"), warmupMs + durationMs + 15_000)
    child.on("exit", (code) => {
      clearTimeout(guard)
      // The child's only output is a Load as JSON (see loadScript).
      if (code === 0) resolve(JSON.parse(output) as Load)
      else reject(new Error(`load generator exited with ${code}`))
    })
  })

const accepts = (port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.destroy()
      resolve()
    })
    socket.on("error", reject)
  })

/** Milliseconds from nothing to both regions accepting connections, then the listeners are closed. */
const startUp = async (): Promise<number> => {
  const started = performance.now()
  const scope = Effect.runSync(Scope.make())
  const listening = await Effect.runPromise(
    Sandbox.listen({ port: 0 }).pipe(Effect.provide(Sandbox.layer()), Scope.extend(scope))
  )
  await Promise.all([accepts(listening.ports.eu), accepts(listening.ports.na)])
  const elapsed = performance.now() - started
  await Effect.runPromise(Scope.close(scope, Exit.void))
  return elapsed
}

/** Requests per second through the in-process client, sequential: the handler's cost without a socket. */
const inProcessRate = (url: string) =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const request = HttpClientRequest.get(url).pipe(HttpClientRequest.bearerToken(Fixtures.demoApiKey))
    const once = Effect.flatMap(client.execute(request), (response) => response.arrayBuffer)
    for (let i = 0; i < 2_000; i++) yield* once
    const started = performance.now()
    let count = 0
    while (performance.now() - started < 2_000) {
      yield* once
      count++
    }
    return (count * 1000) / (performance.now() - started)
  }).pipe(Effect.provide(Sandbox.layerInProcess()))

/** The floor of the comparison: a bare `node:http` server answering the same bytes, nothing else. */
const bareServer = (body: Uint8Array) =>
  new Promise<{ readonly url: string; readonly close: () => void }>((resolve) => {
    const server = createServer((_request, response) => {
      response.writeHead(200, {
        "content-type": "application/json; charset=utf-8",
        "content-length": body.length
      })
      response.end(body)
    })
    server.listen(0, "127.0.0.1", () => {
      // Listening on a TCP port, so the address is an AddressInfo.
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}/`,
        close: () => {
          server.closeAllConnections()
          server.close()
        }
      })
    })
  })

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

const main = async () => {
  const starts: Array<number> = []
  for (let i = 0; i < 7; i++) starts.push(await startUp())

  const seedLength = new TextEncoder().encode(JSON.stringify(seedExampleResponse)).length
  const scope = Effect.runSync(Scope.make())
  const listening = await Effect.runPromise(
    Sandbox.listen({ port: 0 }).pipe(Effect.provide(Sandbox.layer()), Scope.extend(scope))
  )
  const path = `/agents/${Fixtures.demoAgent}/convos/${Fixtures.ids.seedExample}`
  const bare = await bareServer(new TextEncoder().encode(JSON.stringify(seedExampleResponse)))
  // Alternated rounds, best of each kept: on a shared machine the best round is the least disturbed one.
  const seedRounds: Array<Load> = []
  const floorRounds: Array<Load> = []
  for (let round = 0; round < rounds; round++) {
    seedRounds.push(await runLoad(`${listening.urls.eu}${path}`, seedLength))
    floorRounds.push(await runLoad(bare.url, seedLength))
  }
  bare.close()
  await Effect.runPromise(Scope.close(scope, Exit.void))
  const best = (loads: ReadonlyArray<Load>): Load =>
    loads.reduce((a, b) => (b.requests / b.elapsedMs > a.requests / a.elapsedMs ? b : a))
  const seed = best(seedRounds)
  const floor = best(floorRounds)
  const local = await Effect.runPromise(inProcessRate(`http://eu.sandbox.invalid/v3${path}`))

  const rps = (load: Load) => Math.round((load.requests * 1000) / load.elapsedMs)
  const rows: ReadonlyArray<readonly [string, string]> = [
    [
      `listener, seed example, ${concurrency} concurrent keep-alive fetches from a child process`,
      `${rps(seed).toLocaleString("en-US")} req/s (p50 ${seed.p50.toFixed(2)} ms, p99 ${seed.p99.toFixed(2)} ms, ${seed.errors} errors)`
    ],
    [
      "baseline: bare node:http answering the same bytes, same load",
      `${rps(floor).toLocaleString("en-US")} req/s (p50 ${floor.p50.toFixed(2)} ms, p99 ${floor.p99.toFixed(2)} ms)`
    ],
    [
      "in-process client, seed example, sequential (no socket)",
      `${Math.round(local).toLocaleString("en-US")} req/s`
    ],
    ["start-up until both listeners accept, median of 7", `${median(starts).toFixed(1)} ms`],
    ["start-up, first (cold) start", `${(starts[0] ?? Number.NaN).toFixed(1)} ms`]
  ]
  console.log(
    `\n### Sandbox (Node ${process.version}, ${Os.cpus().length} CPUs, best of ${rounds} alternated rounds of ${durationMs / 1000} s after ${warmupMs / 1000} s warm-up)\n`
  )
  console.log("| measure | result |")
  console.log("|---|---|")
  for (const [measure, result] of rows) console.log(`| ${measure} | ${result} |`)
  if (seedRounds.some((load) => load.errors > 0)) process.exitCode = 1
}

await main()
