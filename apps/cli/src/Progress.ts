/**
 * The export's progress bar: on stderr, and only when stderr is a terminal (a pipe or a log file gets
 * nothing), as git shows progress. cli-progress is loaded only then. It shows conversations done out of
 * the total (an ids file) or out of those listed so far (`--all`), the rate, the 429s the upstream sent,
 * and an ETA when the total is known.
 */
import { Effect } from "effect"

export interface Snapshot {
  /** Conversations handled: written or failed in this run, and (`--all`) listed ones skipped. */
  readonly done: number
  /** Conversations written or failed in this run: the rate's count. */
  readonly fetched: number
  /** Rows listed so far (`--all`). */
  readonly listed: number
  /** 429s received so far. */
  readonly throttled: number
}

export interface Progress {
  readonly update: (snapshot: Snapshot) => void
  readonly stop: () => void
}

export const none: Progress = { update: () => {}, stop: () => {} }

export type Total =
  | { readonly _tag: "Known"; readonly count: number }
  | { readonly _tag: "Listing" }
  | { readonly _tag: "Unknown" }

const formats: Record<Total["_tag"], string> = {
  Known:
    "exporting [{bar}] {percentage}% | {value}/{total} | {rate}/s | 429s {throttled} | eta {eta_formatted}",
  Listing: "exporting {value} of {listed} listed so far | {rate}/s | 429s {throttled} | {duration_formatted}",
  Unknown: "exporting {value} conversations | {rate}/s | 429s {throttled} | {duration_formatted}"
}

export const start = (total: Total, alreadyDone: number): Effect.Effect<Progress> =>
  Effect.promise(async () => {
    const { default: CliProgress } = await import("cli-progress")
    const bar = new CliProgress.SingleBar(
      {
        stream: process.stderr,
        format: formats[total._tag],
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 200,
        fps: 10
      },
      CliProgress.Presets.shades_classic
    )
    const count = total._tag === "Known" ? total.count : 0
    const base = total._tag === "Known" ? Math.min(alreadyDone, count) : 0
    const startedAt = Date.now()
    bar.start(count, base, { listed: 0, rate: "0.0", throttled: 0 })
    let last: Snapshot | undefined
    let stopped = false
    return {
      update: (snapshot) => {
        if (
          last?.done === snapshot.done &&
          last.listed === snapshot.listed &&
          last.throttled === snapshot.throttled
        )
          return
        last = snapshot
        const seconds = (Date.now() - startedAt) / 1000
        bar.update(base + snapshot.done, {
          listed: snapshot.listed,
          rate: (seconds <= 0 ? 0 : snapshot.fetched / seconds).toFixed(1),
          throttled: snapshot.throttled
        })
      },
      stop: () => {
        if (stopped) return
        stopped = true
        bar.stop()
      }
    }
  })
