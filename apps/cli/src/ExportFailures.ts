/**
 * The ids an export could not get, split by whether trying again can help: an invalid id, a 400 or a
 * final 404 gets the same answer every time (permanent: `--resume` skips it), anything else (a refused
 * key, a rate limit past the deadline, an unavailable upstream, an unusable answer) may pass (retryable:
 * `--resume` asks again).
 */
import type { ConvocoreError } from "@convocore-effect/schema"
import * as ErrorReport from "./ErrorReport.js"
import type { Failure } from "./ExportJournal.js"

export const kindOf = (error: ConvocoreError): Failure =>
  error._tag === "InvalidInput" || error._tag === "BadRequest" || error._tag === "NotFound"
    ? "permanent"
    : "retryable"

/** Failures kept for the final listing, of each kind; past this only their number is. */
const listedPerKind = 500

export interface ExportFailures {
  readonly add: (convoId: string, error: ConvocoreError) => Failure
  readonly count: (kind?: Failure) => number
  /** The listing for stderr: each kind under its own heading, ending with a newline; "" for none. */
  readonly report: () => string
}

const headings: Record<Failure, string> = {
  retryable: "worth a --resume (the upstream may answer next time)",
  permanent: "not retried by --resume (the same answer every time)"
}

export const make = (): ExportFailures => {
  const kept: Record<Failure, Array<string>> = { retryable: [], permanent: [] }
  const counts: Record<Failure, number> = { retryable: 0, permanent: 0 }
  return {
    add: (convoId, error) => {
      const kind = kindOf(error)
      counts[kind]++
      if (kept[kind].length < listedPerKind)
        kept[kind].push(`    ${ErrorReport.subject(convoId)}: ${ErrorReport.message(error)}\n`)
      return kind
    },
    count: (kind) => (kind === undefined ? counts.retryable + counts.permanent : counts[kind]),
    report: () =>
      (["retryable", "permanent"] as const)
        .filter((kind) => counts[kind] > 0)
        .map((kind) => {
          const more = counts[kind] - kept[kind].length
          return `  ${counts[kind]} ${headings[kind]}:\n${kept[kind].join("")}${more > 0 ? `    ... and ${more} more\n` : ""}`
        })
        .join("")
  }
}
