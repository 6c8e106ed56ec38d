/**
 * Structured logs: one JSON object per line on stdout (`time`, `level`, `msg`, then the annotations), the
 * shape log shippers expect. Nothing logged carries a token: the request line names the route and path
 * only, and tenants are hashes.
 *
 * Lines are written in batches, once per turn of the event loop, rather than one `write` per line: at tens
 * of thousands of requests per second the per-line system call was a visible share of a cache hit's cost.
 * The batch is flushed on exit, so no line is lost when the process ends.
 */
import { Cause, HashMap, Logger } from "effect"

const text = (message: unknown): string =>
  Array.isArray(message)
    ? message.map(text).join(" ")
    : typeof message === "string"
      ? message
      : JSON.stringify(message)

let pending = ""
let scheduled = false

/** Writes what is pending now; also run on process exit. */
export const flush = (): void => {
  scheduled = false
  if (pending.length === 0) return
  const out = pending
  pending = ""
  process.stdout.write(out)
}

const append = (line: string): void => {
  pending += line
  if (!scheduled) {
    scheduled = true
    setImmediate(flush)
  }
}

let flushOnExit = false
const ensureFlushOnExit = () => {
  if (flushOnExit) return
  flushOnExit = true
  process.once("exit", flush)
}

export const jsonLine = (write: (line: string) => void) =>
  Logger.make(({ annotations, cause, date, logLevel, message }) => {
    const line: Record<string, unknown> = {
      time: date.toISOString(),
      level: logLevel.label.toLowerCase(),
      msg: text(message)
    }
    for (const [key, value] of HashMap.toEntries(annotations)) line[key] = value
    if (!Cause.isEmpty(cause)) line.error = Cause.pretty(cause)
    write(`${JSON.stringify(line)}\n`)
  })

/** A request line written directly, in the logger's exact shape: for the hot path of cache hits. */
export const requestLine = (fields: Record<string, unknown>): void => {
  ensureFlushOnExit()
  append(`${JSON.stringify({ time: new Date().toISOString(), level: "info", msg: "request", ...fields })}\n`)
}

/** The gateway's logger, replacing Effect's default one; it shares the batch with `requestLine`. */
export const layer = Logger.replace(
  Logger.defaultLogger,
  jsonLine((line) => {
    ensureFlushOnExit()
    append(line)
  })
)
