/**
 * Server children for the benchmarks: each server runs in its own process, so its work shares neither the
 * event loop nor the CPU time accounting of the client being measured. Every child is killed when the
 * benchmark exits, after an error too.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"
import { seedExampleResponse } from "@convocore-effect/schema"

const children: Array<ChildProcess> = []
process.once("exit", () => {
  for (const child of children) child.kill()
})

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

/**
 * `convocore sandbox` (the built CLI at `binary`) on free ports, with `env` over this process's; resolves
 * with the settings it prints (`CONVOCORE_EU_URL`, ...) and a way to stop it.
 */
export const startCliSandbox = (binary: string, env: Record<string, string> = {}) =>
  new Promise<{ readonly env: Record<string, string>; readonly stop: () => void }>((resolve, reject) => {
    const child = spawn(process.execPath, [binary, "sandbox", "--port", "0"], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "ignore"]
    })
    children.push(child)
    let stdout = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
      if (!stdout.includes("CONVOCORE_SANDBOX_ADMIN_URL=") || !stdout.endsWith("\n")) return
      const settings = Object.fromEntries(
        stdout
          .trim()
          .split("\n")
          .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)])
      )
      resolve({ env: settings, stop: () => child.kill("SIGTERM") })
    })
    child.on("exit", (code) => reject(new Error(`convocore sandbox exited ${code}`)))
  })

/** The built `convocore` entry; the benchmark stops with a hint when it is not built. */
export const cliBinary = (): string => {
  const binary = fileURLToPath(new URL("../../apps/cli/dist/convocore.mjs", import.meta.url))
  if (!Fs.existsSync(binary)) {
    console.error(`${binary} is missing: build the CLI first (npx -y pnpm@10.34.9 exec turbo run build)`)
    process.exit(1)
  }
  return binary
}
