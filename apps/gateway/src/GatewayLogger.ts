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

/** The fields of a request's log line, as `Lifecycle.requestLifecycle` annotates it. */
export type RequestFields = {
  readonly requestId: string
  readonly method: string
  readonly route: string
  readonly path: string
  readonly status: number
  readonly durationMs: number
  readonly cacheStatus?: string | undefined
  readonly region?: string | undefined
}

// Whether `JSON.stringify` would write the string as it is, between quotes: no quote, backslash, control
// character or surrogate (it escapes lone ones; any at all sends the string the slow way, which is exact).
const plain = (value: string): boolean => {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code < 0x20 || code === 0x22 || code === 0x5c || (code >= 0xd800 && code <= 0xdfff)) return false
  }
  return true
}
const quoted = (value: string): string => (plain(value) ? `"${value}"` : JSON.stringify(value))
const number = (value: number): string => (Number.isFinite(value) ? String(value) : "null")

// A request line is mostly pieces that repeat from one request to the next: the time within a millisecond,
// the method and route, the status, a hot document's cache status and region. The last of each is kept, so
// that a line costs a few joins rather than a score of them (this runs once per cache hit).
let headMillis = Number.NaN
let head = ""
const headAt = (millis: number): string => {
  if (millis !== headMillis) {
    headMillis = millis
    head = `{"time":"${new Date(millis).toISOString()}","level":"info","msg":"request","requestId":`
  }
  return head
}

let middleMethod = ""
let middleRoute = ""
let middle = ""
const middleOf = (method: string, route: string): string => {
  if (method !== middleMethod || route !== middleRoute || middle === "") {
    middleMethod = method
    middleRoute = route
    middle = `,"method":${quoted(method)},"route":${quoted(route)},"path":`
  }
  return middle
}

let statusCode = Number.NaN
let statusPart = ""
const statusOf = (status: number): string => {
  if (status !== statusCode) {
    statusCode = status
    statusPart = `,"status":${number(status)},"durationMs":`
  }
  return statusPart
}

let tailCacheStatus: string | undefined
let tailRegion: string | undefined
let tail = "}\n"
const tailOf = (cacheStatus: string | undefined, region: string | undefined): string => {
  if (cacheStatus !== tailCacheStatus || region !== tailRegion) {
    tailCacheStatus = cacheStatus
    tailRegion = region
    tail =
      (cacheStatus === undefined ? "" : `,"cacheStatus":${quoted(cacheStatus)}`) +
      (region === undefined ? "" : `,"region":${quoted(region)}`) +
      "}\n"
  }
  return tail
}

/**
 * A request's line, exactly as `JSON.stringify({ time, level: "info", msg: "request", ...fields })` writes
 * it (time being `millis` as an ISO date), without building the object.
 */
export const formatRequestLine = (fields: RequestFields, millis: number): string =>
  headAt(millis) +
  quoted(fields.requestId) +
  middleOf(fields.method, fields.route) +
  quoted(fields.path) +
  statusOf(fields.status) +
  number(fields.durationMs) +
  tailOf(fields.cacheStatus, fields.region)

/** A request line written directly, in the logger's exact shape: for the hot path of cache hits. */
export const requestLine = (fields: RequestFields): void => {
  ensureFlushOnExit()
  append(formatRequestLine(fields, Date.now()))
}

/** The gateway's logger, replacing Effect's default one; it shares the batch with `requestLine`. */
export const layer = Logger.replace(
  Logger.defaultLogger,
  jsonLine((line) => {
    ensureFlushOnExit()
    append(line)
  })
)
