/**
 * The export's progress bar: on stderr, and only when stderr is a terminal (a pipe or a log file gets
 * nothing), as git shows progress. cli-progress is loaded only then.
 */
import { Effect } from "effect"

export interface Progress {
  readonly update: (processed: number) => void
  readonly stop: () => void
}

export const none: Progress = { update: () => {}, stop: () => {} }

/** `total` unknown (ids from stdin): the bar shows a count instead of a fraction. */
export const start = (total: number | undefined, alreadyDone: number): Effect.Effect<Progress> =>
  Effect.promise(async () => {
    const { default: CliProgress } = await import("cli-progress")
    const bar = new CliProgress.SingleBar(
      {
        stream: process.stderr,
        format:
          total === undefined
            ? "exporting {value} conversations | {duration_formatted}"
            : "exporting [{bar}] {percentage}% | {value}/{total} | eta {eta_formatted}",
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 200,
        fps: 10
      },
      CliProgress.Presets.shades_classic
    )
    const base = total === undefined ? 0 : Math.min(alreadyDone, total)
    bar.start(total ?? 0, base)
    let last = -1
    let stopped = false
    return {
      update: (processed) => {
        if (processed === last) return
        last = processed
        bar.update(base + processed)
      },
      stop: () => {
        if (stopped) return
        stopped = true
        bar.stop()
      }
    }
  })
