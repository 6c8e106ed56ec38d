/**
 * How a failure reads on stderr: one line a newcomer understands (`--format json`: one JSON object, the
 * encoded error). Messages are built from the error's fields only, and no error carries the API key, so
 * the key cannot leak through here.
 */
import { type Attempt, ConvocoreError, Excerpt, maxIdLength } from "@convocore-effect/schema"
import { Schema } from "effect"
import { CliError } from "./CliError.js"

export type Reportable = ConvocoreError | CliError

const upstream = (
  label: string,
  e: {
    readonly region: string
    readonly status: number
    readonly code?: string | undefined
    readonly message: string
    readonly issues: ReadonlyArray<{ readonly message: string }>
    readonly requestId?: string | undefined
  }
) => {
  const issues = e.issues.length === 0 ? "" : ` (${e.issues.map((i) => i.message).join("; ")})`
  const request = e.requestId === undefined ? "" : ` [request ${e.requestId}]`
  return `${label}: ${e.message}${issues} (HTTP ${e.status}${e.code === undefined ? "" : ` ${e.code}`}, region ${e.region})${request}`
}

export const message = (error: Reportable): string => {
  switch (error._tag) {
    case "InvalidInput":
      return `invalid ${error.field}: ${error.message}`
    case "Unauthorized":
      return upstream("unauthorized (check --api-key or CONVOCORE_API_KEY)", error)
    case "Forbidden":
      return upstream("forbidden", error)
    case "NotFound":
      return upstream("not found", error)
    case "BadRequest":
      return upstream("bad request", error)
    case "RateLimited":
      return `${upstream("rate limited", error)}${error.retryAfterMs === undefined ? "" : `; retry after ${Math.ceil(error.retryAfterMs / 1000)} s`}`
    case "UpstreamServerError":
      return upstream("upstream server error", error)
    case "TransportError":
      return `could not reach region ${error.region} (${error.phase} failed): ${error.message}`
    case "Timeout":
      return `timed out (${error.scope === "deadline" ? "deadline" : "attempt timeout"} of ${error.ms} ms${error.region === undefined ? "" : `, region ${error.region}`}): ${error.message}`
    case "InvalidResponse":
      return `invalid response from region ${error.region} (HTTP ${error.status}, ${error.reason}${error.path === undefined ? "" : ` at ${error.path}`}): ${error.message}`
    case "AllRegionsFailed":
      return `all regions failed: ${error.message}`
    case "UsageError":
    case "PartialExport":
    case "InternalError":
      return error.message
  }
}

const encode = Schema.encodeSync(Schema.Union(ConvocoreError, CliError))

/** The line written to stderr for a failure. */
export const line = (error: Reportable, format: "text" | "json"): string =>
  format === "json" ? JSON.stringify(encode(error)) : `convocore: ${message(error)}`

/**
 * An id as an error line names it: quoted, whole up to the longest valid id (so it can be copied), and cut
 * beyond, where it is invalid anyway: a 1 MB line of an ids file must not make a 1 MB error line.
 */
export const subject = (id: string): string => Excerpt.quote(id, maxIdLength)

/** One line of the attempt trail (`--verbose`); an export names the id the attempt was for. */
export const attemptLine = (attempt: Attempt, convoId?: string): string => {
  const status = attempt.status === undefined ? "" : ` ${attempt.status}`
  const code = attempt.code === undefined ? "" : ` ${attempt.code}`
  const about = convoId === undefined ? "" : `${subject(convoId)} `
  return `convocore: ${about}attempt ${attempt.attempt} region ${attempt.region}: ${attempt.outcome}${status}${code} (${Math.round(attempt.ms)} ms)`
}
