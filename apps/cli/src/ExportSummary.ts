/**
 * What an export says when it ends, on stderr: what it wrote and skipped, then, last, what it asked of
 * the upstream (requests sent, 429s received, the rate achieved), from the client's rate controller.
 */
import type { RateStats } from "@convocore-effect/client"
import type { Counts } from "./ExportSource.js"

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

export const conversations = (n: number): string => plural(n, "conversation")

/** `exported 12 conversations (3 already written, skipped)`. */
export const exported = (count: number, skipped: Readonly<Counts>): string => {
  const notes = [
    skipped.alreadyWritten > 0 ? `${skipped.alreadyWritten} already written, skipped` : "",
    skipped.failedForGood > 0 ? `${skipped.failedForGood} failed for good in an earlier run, skipped` : "",
    skipped.repeated > 0 ? `${plural(skipped.repeated, "repeated id")} skipped` : "",
    skipped.withoutId > 0 ? `${plural(skipped.withoutId, "listed row")} without an ID skipped` : ""
  ]
  return `exported ${conversations(count)}${notes
    .filter((note) => note !== "")
    .map((note) => ` (${note})`)
    .join("")}`
}

const perSecond = (count: number, ms: number) => (ms <= 0 ? 0 : (count * 1000) / ms).toFixed(1)

/** `2105 requests sent, 105 answered 429 (5.0%), 98.6 requests/s achieved over 21.3 s`. */
export const requests = (stats: RateStats, elapsedMs: number): string => {
  const share = stats.sent === 0 ? "" : ` (${((stats.throttled * 100) / stats.sent).toFixed(1)}%)`
  return `${plural(stats.sent, "request")} sent, ${stats.throttled} answered 429${share}, ${perSecond(stats.sent, elapsedMs)} requests/s achieved over ${(elapsedMs / 1000).toFixed(1)} s`
}
