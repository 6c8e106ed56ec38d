/**
 * A real `redis-server` for a test, on a free loopback port, with no persistence; stopped with the test's
 * scope. It can be paused (SIGSTOP: Redis accepts connections and answers nothing, as a slow one does),
 * stopped and started again on the same port, to test what the gateway does when Redis is slow or gone.
 *
 * `.ci/run` installs Debian's `redis-server` when it is missing. Elsewhere, without one, the Redis tests
 * are skipped and say so; under CI a missing `redis-server` fails them instead.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { once } from "node:events"
import * as net from "node:net"
import { Effect, type Scope } from "effect"

const locate = (): string | undefined => {
  try {
    return execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
}

export const redisServerPath: string | undefined = locate()

/** Whether the Redis tests run here; a CI without `redis-server` is an error, not a skip. */
export const redisAvailable: boolean = (() => {
  if (redisServerPath !== undefined) return true
  if (process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false")
    throw new Error("redis-server is not installed, and CI must run the Redis tests (.ci/run installs it)")
  console.warn("redis-server is not installed: the Redis tests are skipped (apt-get install redis-server)")
  return false
})()

const freePort = async (): Promise<number> => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const address = server.address()
  server.close()
  await once(server, "close")
  if (address === null || typeof address === "string") throw new Error("no port")
  return address.port
}

export interface RunningRedis {
  readonly port: number
  readonly url: string
  /** SIGSTOP: connections open, no answers. */
  readonly pause: () => void
  readonly resume: () => void
  /** Stops the server; `start` brings it back on the same port, empty. */
  readonly stop: () => Promise<void>
  readonly start: () => Promise<void>
}

export interface ServerOptions {
  /** `requirepass`: clients must send this password. */
  readonly password?: string
}

const launch = async (port: number, options: ServerOptions): Promise<ChildProcess> => {
  if (redisServerPath === undefined) throw new Error("redis-server is not installed")
  const child = spawn(
    redisServerPath,
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--loglevel",
      "warning",
      ...(options.password === undefined ? [] : ["--requirepass", options.password])
    ],
    { stdio: ["ignore", "pipe", "pipe"] }
  )
  let output = ""
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  // Ready once it accepts a connection and answers PING.
  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${output.trim()}`)
    const answered = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1")
      socket.setTimeout(500)
      socket.once("connect", () => socket.write("PING\r\n"))
      // With a password set, an unauthenticated PING is answered NOAUTH: the server is up all the same.
      socket.once("data", (data) => {
        socket.destroy()
        resolve(/^(\+PONG|-NOAUTH)/.test(data.toString()))
      })
      socket.once("error", () => resolve(false))
      socket.once("timeout", () => {
        socket.destroy()
        resolve(false)
      })
    })
    if (answered) return child
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`redis-server did not answer on port ${port} within 10 s: ${output.trim()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const halt = async (child: ChildProcess): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill("SIGCONT")
  child.kill("SIGKILL")
  await once(child, "exit")
}

export const startRedisServer = async (options: ServerOptions = {}): Promise<RunningRedis> => {
  const port = await freePort()
  let child = await launch(port, options)
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pause: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
    stop: () => halt(child),
    start: async () => {
      await halt(child)
      child = await launch(port, options)
    }
  }
}

/** A Redis server for the life of the current scope. */
export const redisServer = (options: ServerOptions = {}): Effect.Effect<RunningRedis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => startRedisServer(options)),
    (redis) => Effect.promise(redis.stop)
  )
