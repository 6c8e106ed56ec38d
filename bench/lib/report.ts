/** Prints tinybench results as the markdown tables the README publishes: medians and ratios of one run. */
import * as Os from "node:os"
import type { Bench } from "tinybench"

export const medianOpsPerSecond = (bench: Bench, name: string): number => {
  const median = bench.getTask(name)?.result?.throughput.p50
  if (median === undefined) throw new Error(`benchmark task "${name}" produced no result`)
  return median
}

export const formatRate = (opsPerSecond: number): string =>
  opsPerSecond >= 1000 ? `${Math.round(opsPerSecond).toLocaleString("en-US")}` : opsPerSecond.toFixed(1)

export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [header, header.map(() => "---"), ...rows].map((row) => `| ${row.join(" | ")} |`).join("\n")

export const machine = (): string =>
  `Node ${process.version}, ${process.platform}/${process.arch}, ${new Date().toISOString().slice(0, 10)}`

/** The load averages over 1, 5 and 15 minutes, as the published runs quote them. */
export const loadAverage = (): string =>
  Os.loadavg()
    .map((load) => load.toFixed(2))
    .join(" ")
