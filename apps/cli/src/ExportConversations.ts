/**
 * `convocore conversations export <agentId> --ids FILE|-`: many conversations, `--concurrency` at a
 * time, each written as soon as it arrives (NDJSON or CSV), so memory holds only what is in flight.
 * A failed id does not stop the export: failures are listed at the end and the exit code is 8.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Convocore } from "@convocore-effect/client"
import type { ConvocoreError } from "@convocore-effect/schema"
import { Effect, Either, Option, Stream } from "effect"
import { InternalError, PartialExport, UsageError } from "./CliError.js"
import * as Connection from "./Connection.js"
import * as CsvRecord from "./CsvRecord.js"
import { jsonLine } from "./DocumentOutput.js"
import * as ErrorReport from "./ErrorReport.js"
import { ExitWith, ofError } from "./ExitCode.js"
import * as ExportMetrics from "./ExportMetrics.js"
import * as FieldPaths from "./FieldPaths.js"
import type { SharedFlags } from "./Flags.js"
import * as IdSource from "./IdSource.js"
import * as Output from "./Output.js"
import * as Progress from "./Progress.js"
import * as ResumableOutput from "./ResumableOutput.js"

export interface ExportFlags extends SharedFlags {
  readonly agentId: string
  readonly ids: string
  readonly format: "ndjson" | "csv"
  readonly output: Option.Option<string>
  readonly concurrency: number
  readonly resume: boolean
  readonly fields: Option.Option<ReadonlyArray<FieldPaths.FieldPath>>
  /** CSV: keep cells that start like a formula as they are. */
  readonly csvRaw: boolean
  /** Start afresh over an output that holds an earlier export. */
  readonly force: boolean
}

/** The file a path names, links followed; the path itself when nothing is there yet. */
const fileOf = (path: string) => (Fs.existsSync(path) ? Fs.realpathSync(path) : Path.resolve(path))

/** Refusals (401/403) in a row, no document between them, after which an export stops. */
const refusalsThatStop = 3

/** Failures kept for the final listing; past this only their number is. */
const listedFailures = 1000

interface Sink {
  readonly done: ReadonlySet<string>
  readonly write: (record: string, id: string | null) => Effect.Effect<void, InternalError>
  readonly close: Effect.Effect<void>
}

const ioError = (cause: unknown) =>
  new InternalError({
    message: `cannot write the export: ${cause instanceof Error ? cause.message : String(cause)}`
  })

const openSink = (
  flags: ExportFlags,
  header: string | undefined
): Effect.Effect<Sink, UsageError | InternalError> =>
  Option.match(flags.output, {
    onNone: () =>
      flags.resume
        ? Effect.fail(new UsageError({ message: "--resume needs --output FILE: stdout cannot be resumed" }))
        : Effect.as(header === undefined ? Effect.void : Output.stdout(header), {
            done: new Set<string>(),
            write: (record: string) => Output.stdout(record),
            close: Effect.void
          }),
    onSome: (path) =>
      Effect.try({
        try: () => {
          // Opening the output would empty the ids before they are read.
          if (flags.ids !== "-" && fileOf(flags.ids) === fileOf(path))
            throw new UsageError({
              message: `--output ${path} is the --ids file: write the export elsewhere`
            })
          return ResumableOutput.open(path, { resume: flags.resume, force: flags.force, header })
        },
        catch: (cause) =>
          cause instanceof UsageError
            ? cause
            : new UsageError({
                message: `cannot open --output ${path}: ${cause instanceof Error ? cause.message : String(cause)}`
              })
      }).pipe(
        Effect.tap((output) => {
          if (header !== undefined && output.empty)
            return Effect.try({ try: () => output.append(header, null), catch: ioError })
          return Effect.void
        }),
        Effect.map((output) => ({
          done: output.done,
          write: (record: string, id: string | null) =>
            Effect.try({ try: () => output.append(record, id), catch: ioError }),
          close: Effect.sync(() => output.close())
        }))
      )
  })

export const run = (flags: ExportFlags): Effect.Effect<void, ExitWith> => {
  const columns =
    flags.format === "csv" ? Option.getOrElse(flags.fields, () => CsvRecord.defaultColumns) : undefined
  const fields = Option.getOrUndefined(flags.fields)
  const render = (convoId: string, document: unknown): string =>
    columns !== undefined
      ? CsvRecord.record(columns, convoId, document, { raw: flags.csvRaw })
      : jsonLine(fields === undefined ? document : FieldPaths.select(document, fields))

  const program = Effect.gen(function* () {
    yield* IdSource.check(flags.ids)
    if (flags.ids === "-" && process.stdin.isTTY === true)
      yield* Output.stderr("convocore: reading ids from the terminal, one per line; end with Ctrl-D\n")
    const convocore = yield* Convocore
    const sink = yield* Effect.acquireRelease(
      openSink(flags, columns === undefined ? undefined : CsvRecord.header(columns)),
      (sink) => sink.close
    )
    const showProgress = process.stderr.isTTY === true
    const total = showProgress && flags.ids !== "-" ? yield* IdSource.count(flags.ids) : undefined
    // Stopped however the export ends, so that an interrupted bar gives the terminal its cursor back.
    const progress = showProgress
      ? yield* Effect.acquireRelease(Progress.start(total, sink.done.size), (bar) => Effect.sync(bar.stop))
      : Progress.none

    let exported = 0
    let skipped = 0
    let failed = 0
    const failures: Array<{ readonly convoId: string; readonly error: ConvocoreError }> = []

    // Each id once, whether or not an earlier run was interrupted: a repeated id is skipped like one
    // already written.
    const seen = new Set<string>()
    let repeated = 0
    const ids = IdSource.lines(flags.ids).pipe(
      Stream.filter((id) => {
        if (seen.has(id)) {
          repeated++
          return false
        }
        seen.add(id)
        if (!sink.done.has(id)) return true
        skipped++
        return false
      })
    )
    // A refused key answers every id alike: stop at once rather than send a request per id. One 401 among
    // answers is not that (Convocore answers 401 for a deleted conversation too), so the export stops after
    // a run of refusals with no document between them.
    let refusalsInARow = 0
    yield* convocore
      .getConversations(flags.agentId, ids, { concurrency: flags.concurrency, order: "completion" })
      .pipe(
        Stream.runForEach((result) =>
          Effect.gen(function* () {
            if (flags.verbose) {
              for (const attempt of result.attempts)
                yield* Output.stderr(`${ErrorReport.attemptLine(attempt, result.convoId)}\n`)
            }
            if (Either.isRight(result.result)) {
              yield* sink.write(render(result.convoId, result.result.right), result.convoId)
              exported++
              refusalsInARow = 0
              yield* ExportMetrics.record("exported")
            } else {
              const error = result.result.left
              const refused = error._tag === "Unauthorized" || error._tag === "Forbidden"
              refusalsInARow = refused ? refusalsInARow + 1 : 0
              if (refusalsInARow >= refusalsThatStop) return yield* Effect.fail(error)
              failed++
              yield* ExportMetrics.record("failed")
              if (failures.length < listedFailures)
                failures.push({ convoId: result.convoId, error: result.result.left })
            }
            progress.update(exported + failed)
          })
        )
      )
    progress.stop()
    yield* sink.close

    yield* Effect.annotateCurrentSpan({
      "convocore.export.exported": exported,
      "convocore.export.failed": failed,
      "convocore.export.skipped": skipped
    })
    const conversations = (n: number) => `${n} conversation${n === 1 ? "" : "s"}`
    const already =
      (skipped > 0 ? ` (${skipped} already written, skipped)` : "") +
      (repeated > 0 ? ` (${repeated} repeated id${repeated === 1 ? "" : "s"} skipped)` : "")
    if (failed === 0) {
      yield* Output.stderr(`convocore: exported ${conversations(exported)}${already}\n`)
      return
    }
    const lines = failures.map(
      ({ convoId, error }) => `  ${ErrorReport.subject(convoId)}: ${ErrorReport.message(error)}\n`
    )
    const more = failed > failures.length ? `  ... and ${failed - failures.length} more\n` : ""
    yield* Output.stderr(
      `convocore: exported ${conversations(exported)}${already}; ${failed} failed:\n${lines.join("")}${more}`
    )
    return yield* new PartialExport({
      exported,
      failed,
      message: `${failed} of ${conversations(exported + failed)} failed${Option.isSome(flags.output) ? "; run again with --resume to retry them" : ""}`
    })
  })

  return program.pipe(
    // The export as one span (its counts at the end), the calls for its conversations below it.
    Effect.withSpan("Convocore.export", { captureStackTrace: false }),
    Effect.scoped,
    Effect.provide(Connection.layer(flags)),
    Effect.catchAll((error: UsageError | InternalError | PartialExport | ConvocoreError) =>
      Effect.zipRight(
        Output.stderr(`${ErrorReport.line(error, "text")}\n`),
        Effect.fail(new ExitWith(ofError(error)))
      )
    ),
    Effect.onInterrupt(() =>
      Output.stderr(
        `convocore: export interrupted${Option.isSome(flags.output) ? "; run the same command with --resume to continue" : ""}\n`
      )
    )
  )
}
