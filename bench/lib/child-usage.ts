/**
 * A child process's own resource usage, as the child reports it at exit: a script preloaded with
 * `--require` writes its CPU time (user + system), its peak RSS and, in a child started with
 * `--expose-gc`, the heap still in use after a full collection, to the file named by `BENCH_USAGE_FILE`.
 * On a machine other work shares, wall time grows with the waiting; CPU time says what the work costs.
 * Peak RSS also follows how far V8 let the heap grow before collecting; the heap kept after a collection
 * is what the process holds.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

export interface ChildUsage {
  readonly cpuMs: number
  readonly peakRssMb: number
  /** Only for a child started with `--expose-gc`. */
  readonly heapMb: number | undefined
}

const reporterSource = `process.on("exit", () => {
  const usage = process.resourceUsage()
  const collect = typeof global.gc === "function"
  if (collect) global.gc()
  require("node:fs").writeFileSync(process.env.BENCH_USAGE_FILE, JSON.stringify({
    cpu: usage.userCPUTime + usage.systemCPUTime,
    maxRSS: usage.maxRSS,
    heap: collect ? process.memoryUsage().heapUsed : null
  }))
})
`

/** The reporter script, written into `dir`: pass `["--require", path]` to the child's node. */
export const usageReporter = (dir: string): string => {
  const path = Path.join(dir, "usage-reporter.cjs")
  Fs.writeFileSync(path, reporterSource)
  return path
}

/** What a child wrote to its `BENCH_USAGE_FILE`. */
export const readUsage = (file: string): ChildUsage => {
  const usage = JSON.parse(Fs.readFileSync(file, "utf8")) as {
    cpu: number
    maxRSS: number
    heap: number | null
  }
  return {
    cpuMs: usage.cpu / 1000,
    peakRssMb: usage.maxRSS / 1024,
    heapMb: usage.heap === null ? undefined : usage.heap / 2 ** 20
  }
}

/**
 * A runner of Node children that report their usage: each run is `node [...nodeArgs] --require <reporter>
 * ...args` with `env` over this process's, to its end. It resolves with the wall time from spawn to exit and
 * what the child reported, and rejects with the end of the child's stderr when it fails. The reporter and
 * the usage file live in `dir`; runs go one at a time.
 */
export const usageRunner = (dir: string) => {
  const reporter = usageReporter(dir)
  const usageFile = Path.join(dir, "usage.json")
  return (
    args: ReadonlyArray<string>,
    env: Record<string, string>,
    nodeArgs: ReadonlyArray<string> = []
  ): Promise<{ readonly wallMs: number; readonly usage: ChildUsage }> =>
    new Promise((resolve, reject) => {
      const start = performance.now()
      const child = spawn(process.execPath, [...nodeArgs, "--require", reporter, ...args], {
        env: { ...process.env, ...env, BENCH_USAGE_FILE: usageFile },
        stdio: ["ignore", "ignore", "pipe"]
      })
      let stderr = ""
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk
      })
      child.once("error", reject)
      child.once("close", (code) => {
        const wallMs = performance.now() - start
        if (code !== 0) reject(new Error(`${args.join(" ")} exited ${code}: ${stderr.slice(-500)}`))
        else resolve({ wallMs, usage: readUsage(usageFile) })
      })
    })
}
