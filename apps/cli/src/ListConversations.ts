/**
 * `convocore conversations list <agentId>`: the agent's conversations as the upstream lists them (newest
 * first), page after page by cursor, as NDJSON (one row a line, the default when piped), a JSON array,
 * CSV (the row's lead columns), or a table on a terminal. Rows are written as their pages arrive, so a
 * long listing never sits in memory.
 */
import { Convocore } from "@convocore-effect/client"
import { Effect, Option, Stream } from "effect"
import type { UsageError } from "./CliError.js"
import * as Connection from "./Connection.js"
import * as CsvRecord from "./CsvRecord.js"
import * as ErrorReport from "./ErrorReport.js"
import { ExitWith, ofError } from "./ExitCode.js"
import type { SharedFlags } from "./Flags.js"
import * as Output from "./Output.js"

export type Format = "ndjson" | "json" | "csv" | "pretty"

export interface ListFlags extends SharedFlags {
  readonly agentId: string
  readonly format: Option.Option<Format>
  readonly limit: Option.Option<number>
  /** CSV: keep cells that start like a formula as they are. */
  readonly csvRaw: boolean
}

/** The columns a list row has that an analyst reads first (rows carry fewer fields than documents). */
const columns = ["ID", "origin", "state", "messagesNum", "ts", "lastMessageTS", "leadScore", "tags"].map(
  (column) => [column]
)

const dateOf = (seconds: unknown) =>
  typeof seconds === "number" ? new Date(seconds * 1000).toISOString().replace(".000Z", "Z") : ""

/** One row of the terminal table: id, when it started and last moved, how many messages, where from. */
const tableLine = (row: Record<string, unknown>) =>
  [
    String(row.ID ?? "").padEnd(24),
    dateOf(row.ts).padEnd(21),
    dateOf(row.lastMessageTS).padEnd(21),
    String(row.messagesNum ?? "").padStart(8),
    `  ${String(row.origin ?? "")}`
  ].join(" ")

const tableHeader = `${"ID".padEnd(24)} ${"started".padEnd(21)} ${"last message".padEnd(21)} ${"messages".padStart(8)}  origin\n`

export const run = (flags: ListFlags): Effect.Effect<void, ExitWith> => {
  const format = Option.getOrElse(
    flags.format,
    (): Format => (process.stdout.isTTY === true ? "pretty" : "ndjson")
  )
  const fail = (error: ErrorReport.Reportable) =>
    Effect.zipRight(
      Output.stderr(`${ErrorReport.line(error, format === "json" ? "json" : "text")}\n`),
      Effect.fail(new ExitWith(ofError(error)))
    )
  return Effect.gen(function* () {
    const convocore = yield* Convocore
    const rows = convocore.listConversations(flags.agentId, { max: Option.getOrUndefined(flags.limit) })
    let written = 0
    const write = (text: string) => Output.stdout(text)
    if (format === "csv") yield* write(CsvRecord.header(columns))
    if (format === "pretty") yield* write(tableHeader)
    if (format === "json") yield* write("[")
    yield* Stream.runForEach(rows, ({ row }) => {
      const first = written === 0
      written++
      switch (format) {
        case "ndjson":
          return write(`${JSON.stringify(row)}\n`)
        case "json":
          return write(`${first ? "\n" : ",\n"}${JSON.stringify(row)}`)
        case "csv":
          return write(CsvRecord.record(columns, String(row.ID ?? ""), row, { raw: flags.csvRaw }))
        case "pretty":
          return write(`${tableLine(row)}\n`)
      }
    })
    if (format === "json") yield* write(written === 0 ? "]\n" : "\n]\n")
    if (format === "pretty")
      yield* Output.stderr(`convocore: ${written} conversation${written === 1 ? "" : "s"}\n`)
  }).pipe(
    Effect.catchAll((error) => fail(error)),
    Effect.provide(Connection.layer(flags)),
    Effect.catchTag("UsageError", (error: UsageError) => fail(error))
  )
}
