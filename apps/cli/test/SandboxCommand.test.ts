import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Fixtures } from "@convocore-effect/sandbox"
import { seedExampleResponse } from "@convocore-effect/schema"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { binary, run } from "./services/Binary.js"

interface RunningSandbox {
  readonly settings: Record<string, string>
  readonly stop: () => Promise<number | null>
}

/** Starts `convocore sandbox` and reads the settings it prints; the scope's end stops it. */
const startSandbox = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.async<RunningSandbox, Error>((resume) => {
      const child = spawn(process.execPath, [binary, "sandbox", "--port", "0", ...args], {
        env: { PATH: process.env.PATH ?? "" },
        stdio: ["ignore", "pipe", "pipe"]
      })
      const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)))
      const stop = () => {
        child.kill("SIGTERM")
        return exited
      }
      let stdout = ""
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk
        if (stdout.includes("CONVOCORE_SANDBOX_ADMIN_URL=") && stdout.endsWith("\n")) {
          const settings = Object.fromEntries(
            stdout
              .trim()
              .split("\n")
              .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)])
          )
          resume(Effect.succeed({ settings, stop }))
        }
      })
      child.on("exit", (code) => resume(Effect.fail(new Error(`convocore sandbox exited with ${code}`))))
      return Effect.sync(() => child.kill("SIGKILL"))
    }),
    (sandbox) => Effect.promise(() => sandbox.stop())
  )

describe("convocore sandbox", () => {
  it.scoped("serves both regions, prints their URLs and key, honours --fault-eu, stops on SIGTERM", () =>
    Effect.gen(function* () {
      const { settings, stop } = yield* startSandbox(["--fault-eu", "down"])
      assert.match(settings.CONVOCORE_EU_URL ?? "", /^http:\/\/127\.0\.0\.1:\d+\/v3$/)
      assert.match(settings.CONVOCORE_NA_URL ?? "", /^http:\/\/127\.0\.0\.1:\d+\/v3$/)
      assert.strictEqual(settings.CONVOCORE_API_KEY, Fixtures.demoApiKey)
      const result = yield* run(
        ["conversations", "get", Fixtures.demoAgent, Fixtures.ids.seedExample, "--verbose"],
        { env: settings }
      )
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout, `${JSON.stringify(seedExampleResponse.data)}\n`)
      assert.match(result.stderr, /region eu: connect-failed/)
      assert.match(result.stderr, /region na: ok 200/)
      assert.strictEqual(yield* Effect.promise(stop), 130)
    })
  )

  it.effect("refuses a bad fault spec with exit 2", () =>
    Effect.gen(function* () {
      const result = yield* run(["sandbox", "--port", "0", "--fault-eu", "explode"])
      assert.strictEqual(result.code, 2)
      assert.match(result.stderr, /--fault-eu: Invalid fault spec "explode": unknown fault "explode"/)
    })
  )
})

describe("--sandbox (in-process)", () => {
  it.effect("needs no key, and shows a failover when EU is down", () =>
    Effect.gen(function* () {
      const result = yield* run(
        ["conversations", "get", Fixtures.demoAgent, Fixtures.ids.seedExample, "--sandbox", "--verbose"],
        { env: { CONVOCORE_SANDBOX_FAULT_EU: "down" } }
      )
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout, `${JSON.stringify(seedExampleResponse.data)}\n`)
      assert.match(result.stderr, /attempt 1 region eu: connect-failed/)
      assert.match(result.stderr, /attempt 2 region na: ok 200/)
    })
  )

  // What a start costs (bench/README.md, CLI section): an in-process `get` has no use for Node's HTTP
  // stack (and its undici), for node:crypto, for node:readline or for standard input (which Node builds
  // as a stream when first read), so it must not load or read them.
  it.effect("loads neither Node's HTTP stack nor node:crypto nor node:readline, nor reads stdin", () =>
    Effect.gen(function* () {
      const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "convocore-builtins-"))
      const preload = Path.join(directory, "loaded.cjs")
      const loaded = Path.join(directory, "loaded.txt")
      Fs.writeFileSync(
        preload,
        [
          'const stdin = Object.getOwnPropertyDescriptor(process, "stdin")',
          "let stdinRead = false",
          'Object.defineProperty(process, "stdin", { configurable: true, get() { stdinRead = true; return stdin.get.call(process) } })',
          `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(loaded)}, [...process.moduleLoadList, "stdin read: " + stdinRead].join("\\n")))`
        ].join("\n")
      )
      const result = yield* run(
        ["conversations", "get", Fixtures.demoAgent, Fixtures.ids.seedExample, "--sandbox"],
        { env: { NODE_OPTIONS: `--require ${preload}` } }
      )
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout, `${JSON.stringify(seedExampleResponse.data)}\n`)
      const modules = Fs.readFileSync(loaded, "utf8").split("\n")
      Fs.rmSync(directory, { recursive: true, force: true })
      assert.include(modules, "NativeModule fs")
      assert.include(modules, "stdin read: false")
      for (const builtin of ["http", "internal/deps/undici/undici", "crypto", "readline"])
        assert.notInclude(modules, `NativeModule ${builtin}`)
    })
  )
})

describe("convocore sandbox admin", () => {
  it.scoped("prints its admin URL, which brings both regions back after both went down", () =>
    Effect.gen(function* () {
      const { settings } = yield* startSandbox(["--fault-eu", "down", "--fault-na", "down"])
      const admin = settings.CONVOCORE_SANDBOX_ADMIN_URL ?? ""
      assert.match(admin, /^http:\/\/127\.0\.0\.1:\d+$/)
      const args = ["conversations", "get", Fixtures.demoAgent, Fixtures.ids.seedExample]
      assert.strictEqual((yield* run(args, { env: settings })).code, 6)
      const healed = yield* Effect.promise(() => fetch(`${admin}/_sandbox/faults`, { method: "DELETE" }))
      assert.strictEqual(healed.status, 200)
      const result = yield* run(args, { env: settings })
      assert.strictEqual(result.code, 0, result.stderr)
    })
  )
})

describe("help", () => {
  it.effect("--help exits 0 without any key or config, data on stdout", () =>
    Effect.gen(function* () {
      const result = yield* run(["conversations", "export", "--help"])
      assert.strictEqual(result.code, 0, result.stderr)
      assert.include(result.stdout, "--resume")
      assert.include(result.stdout, "--concurrency")
      assert.notInclude(result.stdout, "\u001b[", "no colour escapes when piped")
    })
  )

  it.effect("--completions bash prints a completion script", () =>
    Effect.gen(function* () {
      const result = yield* run(["--completions", "bash"])
      assert.strictEqual(result.code, 0, result.stderr)
      assert.include(result.stdout, "convocore")
      assert.include(result.stdout, "complete")
    })
  )
})
