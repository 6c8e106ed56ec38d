/**
 * Runs the built `convocore` binary as a subprocess, asynchronously: the sandbox it talks to runs in
 * the test process, so the test's event loop must stay free while the CLI waits for answers.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"

export const binary = fileURLToPath(new URL("../../dist/convocore.mjs", import.meta.url))

export interface Result {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  readonly env?: Record<string, string | undefined>
  readonly stdin?: string
  /** Leave stdin open after writing `stdin`, as a terminal nobody has typed Ctrl-D into. */
  readonly holdStdin?: boolean
  /** Called with the child once it started (to kill it mid-run). */
  readonly onStart?: (child: ChildProcess) => void
}

/** The environment of every run: nothing inherited that could change the CLI's behaviour. */
const baseEnv = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const name of ["PATH", "HOME", "TMPDIR", "SYSTEMROOT"]) {
    const value = process.env[name]
    if (value !== undefined) env[name] = value
  }
  return env
}

export const run = (args: ReadonlyArray<string>, options: RunOptions = {}): Effect.Effect<Result> =>
  Effect.async<Result>((resume) => {
    const env: Record<string, string> = baseEnv()
    for (const [name, value] of Object.entries(options.env ?? {})) if (value !== undefined) env[name] = value
    const child = spawn(process.execPath, [binary, ...args], { env, stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
    })
    child.stdin.on("error", () => {})
    if (options.holdStdin === true) child.stdin.write(options.stdin ?? "")
    else child.stdin.end(options.stdin ?? "")
    child.on("close", (code, signal) => resume(Effect.succeed({ code, signal, stdout, stderr })))
    options.onStart?.(child)
    return Effect.sync(() => {
      child.kill("SIGKILL")
    })
  })
