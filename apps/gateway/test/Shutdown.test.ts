/**
 * The built bundle as a subprocess, as operators run it: `convocore-gateway --sandbox` with a slow EU, a
 * SIGTERM while requests are in flight, and what a client sees; and `fleet.mjs`, which runs the bundle as
 * two replicas over Redis (here, in this file, so that one build serves both).
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Agent, request } from "undici"
import { redisAvailable } from "./services/RedisServer.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const bundle = fileURLToPath(new URL("../dist/convocore-gateway.mjs", import.meta.url))
const tenantKey = "vg_shutdown_test_tenant_key"

let built = false
/** Builds the bundle once per test file run, as `npm run build` does. */
const ensureBuilt = () => {
  if (!built) execFileSync(process.execPath, ["build.mjs"], { cwd: root, stdio: "pipe" })
  built = true
}

interface Running {
  readonly child: ChildProcess
  readonly url: string
  readonly lines: Array<string>
  readonly exited: Promise<number | null>
}

/** Starts the bundle and resolves once its "listening" line names its URL. */
const startBundle = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.async<Running, Error>((resume) => {
      const child = spawn(process.execPath, [bundle, "--sandbox"], {
        cwd: root,
        env: { PATH: process.env.PATH ?? "", PORT: "0", HOST: "127.0.0.1", ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      const lines: Array<string> = []
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      let buffered = ""
      let stderr = ""
      child.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString()
      })
      child.stdout?.on("data", (chunk: Buffer) => {
        buffered += chunk.toString()
        let newline = buffered.indexOf("\n")
        while (newline !== -1) {
          const line = buffered.slice(0, newline)
          buffered = buffered.slice(newline + 1)
          lines.push(line)
          const parsed = JSON.parse(line) as { msg?: string; url?: string }
          if (parsed.msg === "convocore-gateway listening" && parsed.url !== undefined)
            resume(Effect.succeed({ child, url: parsed.url, lines, exited }))
          newline = buffered.indexOf("\n")
        }
      })
      void exited.then((code) =>
        resume(Effect.fail(new Error(`the gateway exited (${code}) before listening: ${stderr}`)))
      )
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
  )

describe("the bundled binary", () => {
  it.scopedLive(
    "finishes in-flight requests on SIGTERM, refuses new connections, exits 0, and never logs a token",
    () =>
      Effect.gen(function* () {
        ensureBuilt()
        const gateway = yield* startBundle({
          CONVOCORE_SANDBOX_API_KEYS: tenantKey,
          // Both regions slow: the gateway's hedge to the other region must not answer before the signal.
          // Under the gateway's 3 s attempt timeout, so that the answers are documents.
          CONVOCORE_SANDBOX_FAULT_EU: "latency=2s",
          CONVOCORE_SANDBOX_FAULT_NA: "latency=2s"
        })
        const headers = { authorization: `Bearer ${tenantKey}` }
        // Distinct ids, so that each is its own upstream call held by the slow region.
        const inFlight = Array.from({ length: 5 }, (_, i) =>
          fetch(`${gateway.url}/v3/agents/agent123/convos/slow-${i}`, { headers }).then(async (response) => ({
            status: response.status,
            body: await response.text(),
            at: Date.now()
          }))
        )
        // SIGTERM once all five are being answered (the scrape itself is the sixth request in flight).
        const inFlightNow = Effect.promise(() =>
          fetch(`${gateway.url}/metrics`)
            .then((response) => response.text())
            .then((text) => Number(/^convocore_gateway_requests_in_flight (\d+)$/m.exec(text)?.[1] ?? 0))
        )
        while ((yield* inFlightNow) < 6) yield* Effect.sleep("20 millis")
        const signalledAt = Date.now()
        gateway.child.kill("SIGTERM")
        yield* Effect.sleep("150 millis")
        // A new connection (a fresh agent: fetch's pool may still hold an idle one, which gets a 503).
        const fresh = new Agent()
        const refused = yield* Effect.promise(() =>
          request(`${gateway.url}/healthz`, { dispatcher: fresh }).then(
            (response) => `answered ${response.statusCode}`,
            (error: unknown) => String((error as { code?: string }).code ?? error)
          )
        )
        yield* Effect.promise(() => fresh.close())
        const answers = yield* Effect.promise(() => Promise.all(inFlight))
        const code = yield* Effect.promise(() => gateway.exited)

        for (const [i, answer] of answers.entries()) {
          assert.strictEqual(answer.status, 200)
          assert.strictEqual((JSON.parse(answer.body) as { data: { ID: string } }).data.ID, `slow-${i}`)
          // Answered after the signal: the drain waited for it.
          assert.isAbove(answer.at, signalledAt)
        }
        assert.strictEqual(refused, "ECONNREFUSED")
        assert.strictEqual(code, 0)

        const logs = gateway.lines.map(
          (line) => JSON.parse(line) as { msg: string; status?: number; path?: string }
        )
        const answered = logs.filter((l) => l.msg === "request" && l.path?.startsWith("/v3/") === true)
        assert.deepStrictEqual(
          answered.map((l) => l.status),
          [200, 200, 200, 200, 200]
        )
        assert.includeMembers(
          logs.map((l) => l.msg),
          ["draining", "stopped"]
        )
        assert.notInclude(gateway.lines.join("\n"), tenantKey)
      }),
    30_000
  )

  it.scopedLive(
    "a second SIGTERM does not cut the drain; kept-alive callers get 503; a drain that times out answers 503 and exits 1",
    () =>
      Effect.gen(function* () {
        ensureBuilt()
        const gateway = yield* startBundle({
          CONVOCORE_SANDBOX_API_KEYS: tenantKey,
          CONVOCORE_SANDBOX_FAULT_EU: "latency=4s",
          CONVOCORE_SANDBOX_FAULT_NA: "latency=4s",
          GATEWAY_SHUTDOWN_TIMEOUT: "1500ms"
        })
        const headers = { authorization: `Bearer ${tenantKey}` }
        // One connection kept alive and idle: the request sent on it after the signal must be answered.
        const keptAlive = new Agent({ connections: 1, keepAliveTimeout: 60_000 })
        const onKeptAlive = (path: string) =>
          request(`${gateway.url}${path}`, { dispatcher: keptAlive }).then(
            async (response) => ({
              status: response.statusCode,
              connection: response.headers.connection,
              body: await response.body.text()
            }),
            (error: unknown) => ({ status: 0, connection: undefined, body: String(error) })
          )
        assert.strictEqual((yield* Effect.promise(() => onKeptAlive("/healthz"))).status, 200)
        const inFlight = Array.from({ length: 3 }, (_, i) =>
          fetch(`${gateway.url}/v3/agents/agent123/convos/cut-${i}`, { headers }).then(
            async (response) => ({ status: response.status, body: await response.text() }),
            (error: unknown) => ({ status: 0, body: String(error) })
          )
        )
        const inFlightNow = Effect.promise(() =>
          fetch(`${gateway.url}/metrics`)
            .then((response) => response.text())
            .then((text) => Number(/^convocore_gateway_requests_in_flight (\d+)$/m.exec(text)?.[1] ?? 0))
        )
        while ((yield* inFlightNow) < 4) yield* Effect.sleep("20 millis")
        gateway.child.kill("SIGTERM")
        yield* Effect.sleep("100 millis")
        gateway.child.kill("SIGTERM")
        const late = yield* Effect.promise(() => onKeptAlive("/healthz"))
        const answers = yield* Effect.promise(() => Promise.all(inFlight))
        const code = yield* Effect.promise(() => gateway.exited)
        yield* Effect.promise(() => keptAlive.close())

        assert.strictEqual(late.status, 503, late.body)
        assert.strictEqual(late.connection, "close")
        for (const answer of answers) {
          assert.strictEqual(answer.status, 503, answer.body)
          assert.strictEqual((JSON.parse(answer.body) as { code: string }).code, "SERVICE_UNAVAILABLE")
        }
        assert.strictEqual(code, 1, "the exit code says the drain was cut short")
      }),
    30_000
  )

  it.scopedLive("refuses an invalid configuration with exit code 2 and a message per problem", () =>
    Effect.sync(() => {
      ensureBuilt()
      const result = (() => {
        try {
          execFileSync(process.execPath, [bundle], {
            env: { PATH: process.env.PATH ?? "", PORT: "eighty", GATEWAY_AUTH: "own-key" },
            stdio: "pipe"
          })
          return { status: 0, stderr: "" }
        } catch (error) {
          const failed = error as { status: number; stderr: Buffer }
          return { status: failed.status, stderr: failed.stderr.toString() }
        }
      })()
      assert.strictEqual(result.status, 2)
      assert.include(result.stderr, 'PORT: "eighty" is not a whole number')
      assert.include(result.stderr, "GATEWAY_CALLER_TOKENS: own-key mode accepts only configured callers")
      assert.notInclude(result.stderr, "    at ")
    })
  )
})

describe.skipIf(!redisAvailable)("the fleet command (node fleet.mjs)", () => {
  it.scopedLive(
    "starts Redis, the sandbox and two replicas sharing it, prints their URLs, and stops all on Ctrl-C",
    () =>
      Effect.gen(function* () {
        ensureBuilt()
        const fleet = spawn(process.execPath, ["fleet.mjs"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
        yield* Effect.addFinalizer(() => Effect.sync(() => fleet.exitCode === null && fleet.kill("SIGKILL")))
        const exited = new Promise<number | null>((resolve) => fleet.once("exit", (code) => resolve(code)))
        let output = ""
        fleet.stdout?.on("data", (chunk: Buffer) => {
          output += chunk.toString()
        })
        fleet.stderr?.on("data", (chunk: Buffer) => {
          output += chunk.toString()
        })
        for (let i = 0; !output.includes("Ctrl-C") && i < 600; i++) yield* Effect.sleep("50 millis")
        const replicas = [...output.matchAll(/^fleet: replica \d+ (\S+)$/gm)].map((m) => m[1])
        const redisPort = Number(/^fleet: redis +redis:\/\/127\.0\.0\.1:(\d+)$/m.exec(output)?.[1])
        assert.strictEqual(replicas.length, 2, output)

        const headers = { authorization: "Bearer vg_sandbox_demo_key" }
        const statusVia = (url: string | undefined) =>
          Effect.promise(() =>
            fetch(`${url}/v3/agents/agent123/convos/convo456`, { headers }).then((r) =>
              r.headers.get("cache-status")
            )
          )
        assert.strictEqual(yield* statusVia(replicas[0]), "convocore-gateway; fwd=miss; stored; ttl=30")
        // The replicas connect to Redis as they start; the second finds the first one's entry there.
        let second = yield* statusVia(replicas[1])
        for (let i = 0; second?.endsWith("detail=l2") !== true && i < 50; i++) {
          yield* Effect.sleep("100 millis")
          yield* statusVia(replicas[0])
          second = yield* statusVia(replicas[1])
        }
        assert.match(second ?? "", /^convocore-gateway; hit; ttl=\d+; detail=l2$/)

        fleet.kill("SIGINT")
        assert.strictEqual(yield* Effect.promise(() => exited), 0, output)
        const refused = (url: string) =>
          fetch(`${url}/healthz`).then(
            () => false,
            () => true
          )
        for (const url of replicas) assert.isTrue(yield* Effect.promise(() => refused(url ?? "")))
        // Redis answers no HTTP: whether anything still accepts connections on its port.
        const accepts = (port: number) =>
          new Promise<boolean>((resolve) => {
            const socket = net.connect(port, "127.0.0.1", () => {
              socket.destroy()
              resolve(true)
            })
            socket.on("error", () => resolve(false))
          })
        assert.isFalse(yield* Effect.promise(() => accepts(redisPort)))
      })
  )
})
