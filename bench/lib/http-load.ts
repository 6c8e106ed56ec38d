/**
 * HTTP load for the server benchmarks: autocannon (in this process) against a server in another process,
 * with the server's CPU time per request read from /proc, which a busy machine disturbs far less than
 * requests per second.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"

export interface LoadResult {
  readonly requests: { readonly average: number; readonly total: number }
  readonly latency: {
    readonly p50: number
    readonly p99: number
    readonly average: number
    readonly max: number
  }
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
}
export interface RequestSpec {
  readonly setupRequest?: (request: { path: string }) => { path: string }
}
export type Autocannon = (options: {
  readonly url: string
  readonly connections: number
  readonly duration: number
  readonly headers?: Record<string, string>
  readonly requests?: ReadonlyArray<RequestSpec>
}) => Promise<LoadResult>
// autocannon ships no types; this is the part of its API the benchmarks use.
export const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon

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

/** Resolves once `url` answers 2xx (15 s at most). */
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

export const rssMb = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1] ?? Number.NaN)
  return kb / 1024
}

/** Seconds of CPU (user + system) a process has used so far; undefined where /proc is not there. */
export const cpuSeconds = (pid: number | undefined): number | undefined => {
  if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return undefined
  // Fields 14 and 15 (utime, stime) in clock ticks, counted after the parenthesised command name.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** The CPU seconds of several processes together (say, nginx's master and worker). */
export const cpuSecondsOf = (pids: ReadonlyArray<number>): number | undefined => {
  let total = 0
  for (const pid of pids) {
    const seconds = cpuSeconds(pid)
    if (seconds === undefined) return undefined
    total += seconds
  }
  return total
}

/** Fails the benchmark when a run had any non-2xx answer, error or timeout: its numbers would mislead. */
export const checkClean = (name: string, result: LoadResult) => {
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0)
    throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`)
  return result
}

const gatewayBundle = fileURLToPath(new URL("../../apps/gateway/dist/convocore-gateway.mjs", import.meta.url))
const gatewayChildren: Array<ChildProcess> = []
process.once("exit", () => {
  for (const child of gatewayChildren) child.kill("SIGKILL")
})

/**
 * The built gateway in a process of its own on a free loopback port, in forward mode with its request
 * logs off and no per-connection request limit, and `env` over that; killed when the benchmark exits. Resolves once `/healthz` answers.
 */
export const startGateway = async (env: Record<string, string>, bundle: string = gatewayBundle) => {
  const port = await freePort()
  const child = spawn(process.execPath, [bundle], {
    env: {
      PATH: process.env.PATH ?? "",
      PORT: String(port),
      HOST: "127.0.0.1",
      GATEWAY_AUTH: "forward",
      LOG_LEVEL: "none",
      // autocannon keeps sending on a connection the server asked to close (as nginx's keepalive_requests
      // is raised in its benchmark); the gateway would answer 503 past its per-connection limit.
      GATEWAY_MAX_REQUESTS_PER_CONNECTION: "0",
      ...env
    },
    stdio: ["ignore", "ignore", "inherit"]
  })
  gatewayChildren.push(child)
  const url = `http://127.0.0.1:${port}`
  await waitFor(`${url}/healthz`)
  return { child, url }
}
