#!/usr/bin/env node
/**
 * A fleet on one machine, in one command: a redis-server on a free port, the sandbox (EU and NA) and two
 * gateway replicas sharing that Redis, each on a free port; their URLs are printed, and Ctrl-C (or SIGTERM)
 * drains the replicas and stops everything.
 *
 *   node apps/gateway/fleet.mjs          (after a build; needs redis-server on PATH, or REDIS_SERVER=path)
 *
 * Environment: FLEET_REPLICAS (default 2), LOG_LEVEL for the replicas (default warn), and any GATEWAY_* or
 * CONVOCORE_* variable, passed on to every replica (GATEWAY_STALE_WHILE_REVALIDATE=30s, say).
 */
import { spawn } from "node:child_process"
import { once } from "node:events"
import { existsSync } from "node:fs"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import { Fixtures, Sandbox } from "@convocore-effect/sandbox"
import { Context, Effect, Exit, Layer, Scope } from "effect"

const bundle = fileURLToPath(new URL("./dist/convocore-gateway.mjs", import.meta.url))
const replicaCount = Number(process.env.FLEET_REPLICAS ?? 2)
const redisServer = process.env.REDIS_SERVER ?? "redis-server"

const fail = (message) => {
  process.stderr.write(`fleet: ${message}\n`)
  process.exit(1)
}
if (!existsSync(bundle)) fail(`${bundle} is missing: build first (npx -y pnpm@10.34.9 exec turbo run build)`)
if (!Number.isInteger(replicaCount) || replicaCount < 1 || replicaCount > 16)
  fail(`FLEET_REPLICAS: "${process.env.FLEET_REPLICAS}" is not a whole number from 1 to 16`)

const freePort = async () => {
  const server = net.createServer().listen(0, "127.0.0.1")
  await once(server, "listening")
  const { port } = server.address()
  server.close()
  await once(server, "close")
  return port
}

const answers = (port, path = "/") =>
  fetch(`http://127.0.0.1:${port}${path}`).then(
    () => true,
    () => false
  )

const children = []
let stopping = false
// The sandbox runs in this process, for the life of this scope.
const scope = Effect.runSync(Scope.make())

const stopAll = async (code) => {
  if (stopping) return
  stopping = true
  // Replicas first (they drain), Redis and the sandbox last.
  const running = (role) =>
    children.filter(
      (child) => role(child.role) && child.process.exitCode === null && child.process.signalCode === null
    )
  const stop = (group) => {
    for (const { process: child } of group) child.kill("SIGTERM")
    return Promise.all(group.map(({ process: child }) => once(child, "exit")))
  }
  await stop(running((role) => role !== "redis"))
  await stop(running((role) => role === "redis"))
  await Effect.runPromise(Scope.close(scope, Exit.void))
  process.exit(code)
}

const start = (role, command, args, env = {}) => {
  // Redis's start-up banner is noise here; its errors go to stderr all the same.
  const stdout = role === "redis" ? "ignore" : "inherit"
  // Each child in a process group of its own: Ctrl-C signals the terminal's whole group, which would stop
  // Redis under replicas still draining, and send each replica a second signal after this script's.
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", stdout, "inherit"],
    detached: true
  })
  children.push({ role, process: child })
  child.on("error", (error) => {
    process.stderr.write(`fleet: could not start ${role} (${command}): ${error.message}\n`)
    void stopAll(1)
  })
  child.on("exit", (code, signal) => {
    if (stopping) return
    process.stderr.write(`fleet: ${role} stopped (${signal ?? `exit ${code}`}); stopping the rest\n`)
    void stopAll(1)
  })
  return child
}

const waitFor = async (what, check) => {
  const deadline = Date.now() + 15_000
  while (!(await check())) {
    if (stopping) return
    if (Date.now() > deadline) {
      process.stderr.write(`fleet: ${what} did not come up within 15 s\n`)
      await stopAll(1)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

process.on("SIGINT", () => void stopAll(0))
process.on("SIGTERM", () => void stopAll(0))
// Outside the terminal's group, the children would outlive a script that exits any other way.
process.on("exit", () => {
  for (const { process: child } of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
})

const sandbox = Context.get(
  await Effect.runPromise(
    Layer.buildWithScope(Sandbox.layerListening({ host: "127.0.0.1", port: 0 }), scope)
  ),
  Sandbox.Listening
)

const redisPort = await freePort()
start("redis", redisServer, [
  "--port",
  String(redisPort),
  "--bind",
  "127.0.0.1",
  "--save",
  "",
  "--appendonly",
  "no",
  "--loglevel",
  "warning"
])
const redisUrl = `redis://127.0.0.1:${redisPort}`
await waitFor(
  "redis-server",
  () =>
    new Promise((resolve) => {
      const socket = net.connect(redisPort, "127.0.0.1", () => {
        socket.destroy()
        resolve(true)
      })
      socket.on("error", () => resolve(false))
    })
)

const urls = []
for (let i = 1; i <= replicaCount; i++) {
  const port = await freePort()
  start(`replica ${i}`, process.execPath, [bundle], {
    HOST: "127.0.0.1",
    PORT: String(port),
    GATEWAY_REDIS_URL: redisUrl,
    CONVOCORE_EU_URL: sandbox.urls.eu,
    CONVOCORE_NA_URL: sandbox.urls.na,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn"
  })
  urls.push({ port, url: `http://127.0.0.1:${port}` })
}
for (const { port, url } of urls) await waitFor(url, () => answers(port, "/healthz"))

const path = `/v3/agents/${Fixtures.demoAgent}/convos/${Fixtures.ids.seedExample}`
process.stdout.write(
  [
    `fleet: redis     ${redisUrl}`,
    `fleet: sandbox   eu=${sandbox.urls.eu} na=${sandbox.urls.na}`,
    ...urls.map(({ url }, i) => `fleet: replica ${i + 1} ${url}`),
    `fleet: try       curl -i -H 'Authorization: Bearer ${Fixtures.demoApiKey}' ${urls[0].url}${path}`,
    `                 then the same through ${urls[urls.length - 1].url} (Cache-Status: ...; detail=l2)`,
    "fleet: Ctrl-C stops every part",
    ""
  ].join("\n")
)
