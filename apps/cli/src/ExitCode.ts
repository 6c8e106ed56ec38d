/**
 * Exit codes, as docs/design.md fixes them. Scripts branch on these, so each failure maps to exactly one.
 */
import type { ConvocoreError } from "@convocore-effect/schema"
import type { CliError } from "./CliError.js"

export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  notFound: 3,
  unauthorized: 4,
  rateLimited: 5,
  unavailable: 6,
  invalidResponse: 7,
  partialExport: 8
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

export const ofError = (error: ConvocoreError | CliError): ExitCode => {
  switch (error._tag) {
    case "InvalidInput":
    case "BadRequest":
    case "UsageError":
      return ExitCode.usage
    case "NotFound":
      return ExitCode.notFound
    case "Unauthorized":
    case "Forbidden":
      return ExitCode.unauthorized
    case "RateLimited":
      return ExitCode.rateLimited
    case "UpstreamServerError":
    case "TransportError":
    case "Timeout":
      return ExitCode.unavailable
    case "InvalidResponse":
      return ExitCode.invalidResponse
    case "AllRegionsFailed":
      // Every region refused for the same reason: say that reason, not just "unavailable".
      return error.attempts.length > 0 &&
        error.attempts.every((a) => a.outcome === "rate-limited" || a.outcome === "circuit-open") &&
        error.attempts.some((a) => a.outcome === "rate-limited")
        ? ExitCode.rateLimited
        : error.attempts.length > 0 && error.attempts.every((a) => a.outcome === "invalid-response")
          ? ExitCode.invalidResponse
          : ExitCode.unavailable
    case "PartialExport":
      return ExitCode.partialExport
    case "InternalError":
      return ExitCode.internal
  }
}

/** A command that already told the user what went wrong ends the program with this code. */
export class ExitWith {
  readonly _tag = "ExitWith"
  constructor(readonly code: ExitCode) {}
}
