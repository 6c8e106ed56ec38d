/**
 * A child process's own resource usage, as the child reports it at exit: a script preloaded with
 * `--require` writes its CPU time (user + system), its peak RSS and, in a child started with
 * `--expose-gc`, the heap still in use after a full collection, to the file named by `BENCH_USAGE_FILE`.
 * On a machine other work shares, wall time grows with the waiting; CPU time says what the work costs.
 * Peak RSS also follows how far V8 let the heap grow before collecting; the heap kept after a collection
 * is what the process holds.
 */
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
