/**
 * The fault spec: a short text that says how a region misbehaves, written the same way in a CLI flag
 * (`--fault-eu "status=503,first=3"`), an environment variable, the admin route and the
 * `x-sandbox-fault` request header. The grammar is documented in the package README; `parse` is its only
 * reader and `format` writes the canonical form back, so what the admin route shows can be pasted into a
 * flag.
 */
import { Excerpt, formatDurationMillis, parseDurationMillis } from "@convocore-effect/schema"
import { Data, Either } from "effect"

export interface RateLimit {
  /** Tokens added per period. */
  readonly tokens: number
  readonly periodMs: number
  /** Bucket capacity: how many requests may arrive at once; defaults to `tokens`. */
  readonly burst: number
}

export interface FaultSpec {
  /** Refuse connections (a real listener closes its socket). */
  readonly down: boolean
  /** Accept the request and never answer. */
  readonly hang: boolean
  /** Delay before the status line. */
  readonly latencyMs?: number
  /** Spread the body over this long, after the headers went out. */
  readonly slowBodyMs?: number
  /** Answer this status with an error body instead of the document. */
  readonly status?: number
  /** The error `code` of a `status` fault (default: the tRPC code for the status). */
  readonly code?: string
  /** A `Retry-After` to send with a `status` fault. */
  readonly retryAfterMs?: number
  /** A token bucket; requests finding it empty get 429 with `Retry-After`. */
  readonly rate?: RateLimit
  readonly malformed: boolean
  readonly truncated: boolean
  readonly contentType?: string
  /** Keys the spec does not list, an off-spec enum, a `null` summary: what the real API sends. */
  readonly drift: boolean
  /** `messagesNum` as a string: the contract broken. */
  readonly brokenPrimitive: boolean
  /** Only the first N requests after the fault was set get it. */
  readonly first?: number
  /** The fault lasts this long after it was set, then the region is healthy. */
  readonly forMs?: number
}

export const healthy: FaultSpec = {
  down: false,
  hang: false,
  malformed: false,
  truncated: false,
  drift: false,
  brokenPrimitive: false
}

export class FaultSpecError extends Data.TaggedError("FaultSpecError")<{
  readonly input: string
  readonly reason: string
}> {
  override get message(): string {
    return `Invalid fault spec ${Excerpt.quote(this.input)}: ${this.reason}`
  }
}

/** Durations in the grammar every package shares (`200ms`, `1.5s`, `10 seconds`); the unit is required. */
const parseDuration = (text: string): Either.Either<number, string> => parseDurationMillis(text, "refuse")

const positiveInteger = (text: string): number | undefined =>
  /^\d+$/.test(text) && Number(text) > 0 && Number.isSafeInteger(Number(text)) ? Number(text) : undefined

const parsePeriod = (text: string): number | undefined =>
  text === "s" ? 1000 : text === "m" || text === "min" ? 60_000 : Either.getOrUndefined(parseDuration(text))

const flags = ["down", "hang", "malformed", "truncated", "drift", "broken-primitive"] as const
const keyed = [
  "latency",
  "slow-body",
  "status",
  "code",
  "retry-after",
  "rate",
  "burst",
  "content-type",
  "first",
  "for"
] as const
type Clause = (typeof flags)[number] | (typeof keyed)[number]

// Widening a tuple of literals to strings is safe; it lets `includes` take any string.
const isFlag = (name: string): name is (typeof flags)[number] =>
  (flags as ReadonlyArray<string>).includes(name)
const isKeyed = (name: string): name is (typeof keyed)[number] =>
  (keyed as ReadonlyArray<string>).includes(name)

/** Clauses that only shape or bound other faults: alone they do nothing, so alone they are refused. */
const modifiers: ReadonlyArray<Clause> = ["code", "retry-after", "burst", "first", "for"]

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

export const parse = (input: string): Either.Either<FaultSpec, FaultSpecError> => {
  const fail = (reason: string) => Either.left(new FaultSpecError({ input, reason }))
  const text = input.trim()
  if (text === "" || text === "healthy" || text === "none") return Either.right(healthy)
  const spec: Mutable<FaultSpec> = { ...healthy }
  const seen = new Set<Clause>()
  let burst: number | undefined
  for (const raw of text.split(",")) {
    const clause = raw.trim()
    if (clause === "") return fail("empty clause (two commas in a row, or a trailing comma)")
    const eq = clause.indexOf("=")
    const name = (eq === -1 ? clause : clause.slice(0, eq)).trim().toLowerCase()
    const value = eq === -1 ? undefined : clause.slice(eq + 1).trim()
    if (!isFlag(name) && !isKeyed(name))
      return fail(`unknown fault ${Excerpt.quote(name)}; expected one of ${[...flags, ...keyed].join(", ")}`)
    if (seen.has(name)) return fail(`"${name}" is given twice`)
    seen.add(name)
    if (isFlag(name)) {
      if (value !== undefined) return fail(`"${name}" takes no value`)
      switch (name) {
        case "down":
          spec.down = true
          break
        case "hang":
          spec.hang = true
          break
        case "malformed":
          spec.malformed = true
          break
        case "truncated":
          spec.truncated = true
          break
        case "drift":
          spec.drift = true
          break
        case "broken-primitive":
          spec.brokenPrimitive = true
          break
      }
      continue
    }
    if (value === undefined || value === "") return fail(`"${name}" needs a value, as in ${example[name]}`)
    switch (name) {
      case "latency":
      case "slow-body":
      case "retry-after":
      case "for": {
        const duration = parseDuration(value)
        if (Either.isLeft(duration)) return fail(`${name}=${Excerpt.cut(value)}: ${duration.left}`)
        const ms = duration.right
        if (name === "for" && ms === 0) return fail("for=0: the duration must be positive")
        if (name === "latency") spec.latencyMs = ms
        else if (name === "slow-body") spec.slowBodyMs = ms
        else if (name === "retry-after") spec.retryAfterMs = ms
        else spec.forMs = ms
        break
      }
      case "status": {
        const status = /^\d{3}$/.test(value) ? Number(value) : Number.NaN
        if (!(status >= 400 && status <= 599))
          return fail(`status=${Excerpt.cut(value)}: expected an HTTP error status, 400 to 599`)
        spec.status = status
        break
      }
      case "code":
        if (!/^[A-Z][A-Z0-9_]*$/.test(value))
          return fail(`code=${Excerpt.cut(value)}: expected an upper-case code such as TIMEOUT`)
        spec.code = value
        break
      case "content-type":
        if (!/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/.test(value))
          return fail(`content-type=${Excerpt.cut(value)}: expected a media type such as text/html`)
        spec.contentType = value
        break
      case "first": {
        const count = positiveInteger(value)
        if (count === undefined)
          return fail(`first=${Excerpt.cut(value)}: expected a positive whole number of requests`)
        spec.first = count
        break
      }
      case "burst": {
        const count = positiveInteger(value)
        if (count === undefined)
          return fail(`burst=${Excerpt.cut(value)}: expected a positive whole number of requests`)
        burst = count
        break
      }
      case "rate": {
        const slash = value.indexOf("/")
        const tokens = positiveInteger(slash === -1 ? value : value.slice(0, slash))
        const periodMs = slash === -1 ? undefined : parsePeriod(value.slice(slash + 1))
        if (tokens === undefined || periodMs === undefined || periodMs === 0)
          return fail(`rate=${Excerpt.cut(value)}: expected requests per period, such as 5/s, 100/m or 3/10s`)
        spec.rate = { tokens, periodMs, burst: tokens }
        break
      }
    }
  }
  if (spec.rate !== undefined && burst !== undefined) spec.rate = { ...spec.rate, burst }
  if (burst !== undefined && spec.rate === undefined) return fail('"burst" only applies to "rate"')
  if ((spec.code !== undefined || spec.retryAfterMs !== undefined) && spec.status === undefined)
    return fail(`"${spec.code !== undefined ? "code" : "retry-after"}" only applies to "status"`)
  const effective = [...seen].filter((clause) => !modifiers.includes(clause))
  if (effective.length === 0)
    return fail("bounds and modifiers alone describe no fault; add one, such as status=503")
  if (spec.down && effective.length > 1)
    return fail(
      `"down" refuses the connection, so ${effective.filter((c) => c !== "down").join(", ")} could never apply`
    )
  if (spec.down && spec.first !== undefined)
    return fail(
      '"down" cannot be bounded by "first": refused connections never reach the sandbox to be counted; use for='
    )
  if (spec.hang && effective.length > 1)
    return fail(
      `"hang" never answers, so ${effective.filter((c) => c !== "hang").join(", ")} could never apply`
    )
  return Either.right(spec)
}

const example: Record<(typeof keyed)[number], string> = {
  latency: "latency=200ms",
  "slow-body": "slow-body=2s",
  status: "status=503",
  code: "code=TIMEOUT",
  "retry-after": "retry-after=2s",
  rate: "rate=5/s",
  burst: "burst=10",
  "content-type": "content-type=text/html",
  first: "first=3",
  for: "for=30s"
}

/** Faults named in the `x-sandbox-fault` header apply to that one request, so counts and times mean nothing. */
export const parseRequestHeader = (input: string): Either.Either<FaultSpec, FaultSpecError> =>
  Either.flatMap(parse(input), (spec) =>
    spec.first !== undefined || spec.forMs !== undefined || spec.rate !== undefined
      ? Either.left(
          new FaultSpecError({
            input,
            reason:
              "first=, for= and rate= shape a region's faults over time; a request header applies to one request"
          })
        )
      : Either.right(spec)
  )

/** The canonical text of a spec; `parse(format(spec))` gives the spec back. */
export const format = (spec: FaultSpec): string => {
  const clauses: Array<string> = []
  if (spec.down) clauses.push("down")
  if (spec.hang) clauses.push("hang")
  if (spec.latencyMs !== undefined) clauses.push(`latency=${formatDurationMillis(spec.latencyMs)}`)
  if (spec.slowBodyMs !== undefined) clauses.push(`slow-body=${formatDurationMillis(spec.slowBodyMs)}`)
  if (spec.status !== undefined) clauses.push(`status=${spec.status}`)
  if (spec.code !== undefined) clauses.push(`code=${spec.code}`)
  if (spec.retryAfterMs !== undefined) clauses.push(`retry-after=${formatDurationMillis(spec.retryAfterMs)}`)
  if (spec.rate !== undefined) {
    const { burst, periodMs, tokens } = spec.rate
    const period = periodMs === 1000 ? "s" : periodMs === 60_000 ? "m" : formatDurationMillis(periodMs)
    clauses.push(`rate=${tokens}/${period}`)
    if (burst !== tokens) clauses.push(`burst=${burst}`)
  }
  if (spec.malformed) clauses.push("malformed")
  if (spec.truncated) clauses.push("truncated")
  if (spec.contentType !== undefined) clauses.push(`content-type=${spec.contentType}`)
  if (spec.drift) clauses.push("drift")
  if (spec.brokenPrimitive) clauses.push("broken-primitive")
  if (spec.first !== undefined) clauses.push(`first=${spec.first}`)
  if (spec.forMs !== undefined) clauses.push(`for=${formatDurationMillis(spec.forMs)}`)
  return clauses.length === 0 ? "healthy" : clauses.join(",")
}

export const isHealthy = (spec: FaultSpec): boolean => format(spec) === "healthy"

/**
 * A region's faults with one request's header faults laid over them: the header wins where both say
 * something, and flags add up.
 */
export const overlay = (region: FaultSpec, request: FaultSpec): FaultSpec => {
  const merged: Mutable<FaultSpec> = {
    down: region.down || request.down,
    hang: region.hang || request.hang,
    malformed: region.malformed || request.malformed,
    truncated: region.truncated || request.truncated,
    drift: region.drift || request.drift,
    brokenPrimitive: region.brokenPrimitive || request.brokenPrimitive
  }
  const latencyMs = request.latencyMs ?? region.latencyMs
  if (latencyMs !== undefined) merged.latencyMs = latencyMs
  const slowBodyMs = request.slowBodyMs ?? region.slowBodyMs
  if (slowBodyMs !== undefined) merged.slowBodyMs = slowBodyMs
  // status, code and retry-after travel together: a header status must not inherit the region's code.
  const statusSource = request.status !== undefined ? request : region
  if (statusSource.status !== undefined) merged.status = statusSource.status
  if (statusSource.code !== undefined) merged.code = statusSource.code
  if (statusSource.retryAfterMs !== undefined) merged.retryAfterMs = statusSource.retryAfterMs
  if (region.rate !== undefined) merged.rate = region.rate
  const contentType = request.contentType ?? region.contentType
  if (contentType !== undefined) merged.contentType = contentType
  return merged
}
