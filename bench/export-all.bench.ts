/**
 * `convocore conversations export <agentId> --all`: the whole history of an agent, listed page by page
 * and each document fetched, from the sandbox listener (its own process, seeded with N conversations per
 * agent by CONVOCORE_SANDBOX_CONVERSATIONS) at concurrency 16, into an NDJSON file. Measured at two sizes:
 * conversations per second, the CLI process's CPU time (user+sys) per conversation and its peak RSS,
 * which should not grow with the number of conversations (memory holds the pages in flight and a bounded
 * window of recent ids, not the history).
 *
 *   cd bench && npx tsx export-all.bench.ts     (build first: the entry is apps/cli/dist/convocore.mjs)
 *
 * BENCH_EXPORT_ALL_SIZES (default 2500,10000), BENCH_EXPORT_ALL_RUNS (runs per size, default 3; medians).
 * Goal: peak RSS within 20% between the sizes, and the heap kept (after a full collection at exit) within
 * a few megabytes. The machine's load average is printed with the numbers.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { usageRunner } from "./lib/child-usage.js"
import { cliBinary, median, startCliSandbox } from "./lib/children.js"
import { loadAverage, machine, table } from "./lib/report.js"

const binary = cliBinary()
const sizes = (process.env.BENCH_EXPORT_ALL_SIZES ?? "2500,10000").split(",").map(Number)
const runs = Number(process.env.BENCH_EXPORT_ALL_RUNS ?? 3)
const concurrency = 16
const agent = "agent-history"
const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "convocore-export-all-bench-"))

const runWithUsage = usageRunner(work)

interface Measured {
  readonly seconds: number
  readonly cpuSeconds: number
  readonly peakRssMb: number
  readonly heapMb: number
  readonly lines: number
}

const exportAll = async (env: Record<string, string>, label: string): Promise<Measured> => {
  const output = Path.join(work, `out-${label}.ndjson`)
  const args = ["conversations", "export", agent, "--all", "-o", output, "--force"]
  // `--expose-gc`: the reporter collects before it reads the heap that stays.
  const { wallMs, usage } = await runWithUsage([binary, ...args, "--concurrency", String(concurrency)], env, [
    "--expose-gc"
  ])
  if (usage.heapMb === undefined) throw new Error(`export ${label}: the child reported no heap`)
  let lines = 0
  for (const byte of Fs.readFileSync(output)) if (byte === 10) lines++
  Fs.rmSync(output)
  Fs.rmSync(`${output}.journal`)
  return {
    seconds: wallMs / 1000,
    cpuSeconds: usage.cpuMs / 1000,
    peakRssMb: usage.peakRssMb,
    heapMb: usage.heapMb,
    lines
  }
}

const rows: Array<Array<string>> = []
const peaks: Array<number> = []
for (const size of sizes) {
  const sandbox = await startCliSandbox(binary, { CONVOCORE_SANDBOX_CONVERSATIONS: String(size) })
  try {
    const measured: Array<Measured> = []
    for (let run = 0; run < runs; run++) {
      const result = await exportAll(sandbox.env, `${size}-${run}`)
      if (result.lines !== size) throw new Error(`export of ${size} wrote ${result.lines} lines`)
      measured.push(result)
    }
    const seconds = median(measured.map((m) => m.seconds))
    const cpu = median(measured.map((m) => m.cpuSeconds))
    const peak = median(measured.map((m) => m.peakRssMb))
    const heap = median(measured.map((m) => m.heapMb))
    peaks.push(peak)
    rows.push([
      size.toLocaleString("en-US"),
      (size / seconds).toFixed(0),
      seconds.toFixed(1),
      ((cpu * 1e6) / size).toFixed(0),
      peak.toFixed(0),
      heap.toFixed(1),
      loadAverage()
    ])
  } finally {
    sandbox.stop()
  }
}

const spread = ((Math.max(...peaks) - Math.min(...peaks)) / Math.min(...peaks)) * 100
console.log(`${machine()}, ${Os.cpus().length} cores; medians of ${runs} runs`)
console.log(`\nexport --all from the sandbox listener, concurrency ${concurrency}\n`)
console.log(
  table(
    [
      "conversations",
      "conversations/s",
      "seconds",
      "CLI CPU µs/conversation",
      "peak RSS MB",
      "heap after GC MB",
      "load average"
    ],
    rows
  )
)
console.log(`\npeak RSS spread between sizes: ${spread.toFixed(0)}% (goal: at most 20%)`)
Fs.rmSync(work, { recursive: true, force: true })
