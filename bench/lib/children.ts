/**
 * Server children for the benchmarks: each server runs in its own process, so its work shares neither the
 * event loop nor the CPU time accounting of the client being measured. Every child is killed when the
 * benchmark exits, after an error too.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"
import { seedExampleResponse } from "@convocore-effect/schema"

const children: Array<ChildProcess> = []
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL")
})

/** Every child started here, for a benchmark that stops them itself before it exits. */
export const startedChildren: ReadonlyArray<ChildProcess> = children

/** A child whose stdout goes to /dev/null (so that it never blocks on a full pipe); killed on exit. */
export const spawnQuiet = (
  command: string,
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  cwd: string = fileURLToPath(new URL("..", import.meta.url))
) => {
  const child = spawn(command, args, {
    cwd,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "ignore", "inherit"]
  })
  children.push(child)
  return child
}

/** The sandbox as a child's script: EU and NA listening on `EU_PORT` and `NA_PORT`. */
export const sandboxScript = `
import { Sandbox } from "@convocore-effect/sandbox"
import { Effect, Layer } from "effect"
const layer = Sandbox.layerListening({ host: "127.0.0.1", ports: { eu: Number(process.env.EU_PORT), na: Number(process.env.NA_PORT) } })
await Effect.runPromise(Layer.launch(layer))
`

/** Starts a server child and resolves with the first line it prints (its address, once it listens). */
export const startChild = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      // Imports in the children's scripts resolve from bench/, whatever directory the benchmark was started in.
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"]
    })
    children.push(child)
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`a server child exited with ${code} before listening`)))
    child.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString().trim()))
  })

// The bare loopback server: keep-alive, the seed's example response with an exact content-length.
const bareServerSource = `
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
`

/** A bare `node:http` server answering the seed's example to every request, after `delayMs`; its port. */
export const startBareServer = async (delayMs = 0) =>
  Number(
    await startChild(["-e", bareServerSource], {
      BODY: JSON.stringify(seedExampleResponse),
      DELAY_MS: String(delayMs)
    })
  )

export const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

export const range = (values: ReadonlyArray<number>, digits = 0) =>
  `${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}`

/** A loopback port free now, for a child to listen on. */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** Resolves once `url` answers 2xx (a child that is listening), asking every 50 ms for 15 s. */
export const waitFor = async (url: string, init?: RequestInit) => {
  for (let i = 0; i < 300; i++) {
    try {
      const response = await fetch(url, init)
      await response.arrayBuffer()
      if (response.ok) return
    } catch {}
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${url} never answered`)
}
