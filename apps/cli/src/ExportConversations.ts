/**
 * `convocore conversations export <agentId> --ids FILE|- | --all`: many conversations, `--concurrency`
 * at a time, each written as soon as it arrives (NDJSON or CSV), so memory holds only what is in flight.
 * The ids come from a file or the agent's listing (./ExportSource.ts). A failed id does not stop the
 * export: failures are listed at the end and the exit code is 8.
 */
import { Convocore, RateController } from "@convocore-effect/client"
import type { ConvocoreError } from "@convocore-effect/schema"
import { Clock, Effect, Either, Option, Stream } from "effect"
import { type InternalError, PartialExport, UsageError } from "./CliError.js"
import * as Connection from "./Connection.js"
import * as CsvRecord from "./CsvRecord.js"
import { jsonLine } from "./DocumentOutput.js"
import * as ErrorReport from "./ErrorReport.js"
import { ExitWith, ofError } from "./ExitCode.js"
import * as ExportFailures from "./ExportFailures.js"
import * as ExportMetrics from "./ExportMetrics.js"
import * as ExportSink from "./ExportSink.js"
import * as ExportSource from "./ExportSource.js"
import * as ExportSummary from "./ExportSummary.js"
import * as FieldPaths from "./FieldPaths.js"
import type { SharedFlags } from "./Flags.js"
import * as IdSource from "./IdSource.js"
import * as Output from "./Output.js"
import * as Progress from "./Progress.js"

export interface ExportFlags extends SharedFlags {
  readonly agentId: string
  /** The ids file (`-`: stdin); none with `--all`. */
  readonly ids: Option.Option<string>
  /** Every conversation the agent lists. */
  readonly all: boolean
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

/** Refusals (401/403) in a row, no document between them, after which an export stops. */
const refusalsThatStop = 3

/** `--ids` or `--all`, exactly one. */
const idsSource = (flags: ExportFlags): Effect.Effect<string | undefined, UsageError> =>
  Option.match(flags.ids, {
    onNone: () =>
      flags.all
        ? Effect.succeed(undefined)
        : Effect.fail(
            new UsageError({
              message: "export needs --ids FILE (or - for stdin), or --all for every conversation"
            })
          ),
    onSome: (ids) =>
      flags.all
        ? Effect.fail(new UsageError({ message: "--all and --ids are two sources: give one of them" }))
        : Effect.as(IdSource.check(ids), ids)
  })

export const run = (flags: ExportFlags): Effect.Effect<void, ExitWith> => {
  const columns =
    flags.format === "csv" ? Option.getOrElse(flags.fields, () => CsvRecord.defaultColumns) : undefined
  const fields = Option.getOrUndefined(flags.fields)
  const render = (convoId: string, document: unknown): string =>
    columns !== undefined
      ? CsvRecord.record(columns, convoId, document, { raw: flags.csvRaw })
      : jsonLine(fields === undefined ? document : FieldPaths.select(document, fields))

  let requestsLine: string | undefined
  const program = Effect.gen(function* () {
    const ids = yield* idsSource(flags)
    if (ids === "-" && process.stdin.isTTY === true)
      yield* Output.stderr("convocore: reading ids from the terminal, one per line; end with Ctrl-D\n")
    const convocore = yield* Convocore
    const sink = yield* ExportSink.open(
      flags,
      ids,
      columns === undefined ? undefined : CsvRecord.header(columns)
    )
    const source =
      ids === undefined
        ? ExportSource.fromListing(convocore, flags.agentId, sink.earlier, sink.listed)
        : ExportSource.fromIds(ids, sink.earlier)
    const rate = yield* RateController
    const startedAt = yield* Clock.currentTimeMillis
    // Read when the export ends however it ends, for the last line on stderr.
    yield* Effect.addFinalizer(() =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        requestsLine = ExportSummary.requests(rate.total(), now - startedAt)
      })
    )
    const showProgress = process.stderr.isTTY === true
    const total: Progress.Total =
      ids === undefined
        ? { _tag: "Listing" }
        : showProgress && ids !== "-"
          ? { _tag: "Known", count: yield* IdSource.count(ids) }
          : { _tag: "Unknown" }
    // Stopped however the export ends, so that an interrupted bar gives the terminal its cursor back.
    const progress = showProgress
      ? yield* Effect.acquireRelease(Progress.start(total, sink.earlier.written), (bar) =>
          Effect.sync(bar.stop)
        )
      : Progress.none

    let exported = 0
    const failures = ExportFailures.make()

    // A refused key answers every id alike: stop at once rather than send a request per id. One 401 among
    // answers is not that (Convocore answers 401 for a deleted conversation too), so the export stops after
    // a run of refusals with no document between them.
    let refusalsInARow = 0
    yield* convocore
      .getConversations(flags.agentId, source.ids, { concurrency: flags.concurrency, order: "completion" })
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
              yield* sink.failed(result.convoId, failures.add(result.convoId, error))
              yield* ExportMetrics.record("failed")
            }
            yield* source.handled(result.convoId)
            const fetched = exported + failures.count()
            const { alreadyWritten, failedForGood, repeated, withoutId } = source.counts
            progress.update({
              done:
                ids === undefined ? fetched + alreadyWritten + failedForGood + repeated + withoutId : fetched,
              fetched,
              listed: source.counts.listed,
              throttled: rate.total().throttled
            })
          })
        )
      )
    yield* source.finished
    progress.stop()
    yield* sink.close

    const failed = failures.count()
    yield* Effect.annotateCurrentSpan({
      "convocore.export.exported": exported,
      "convocore.export.failed": failed,
      "convocore.export.skipped": source.counts.alreadyWritten
    })
    const done = ExportSummary.exported(exported, source.counts)
    if (failed === 0) {
      yield* Output.stderr(`convocore: ${done}\n`)
      return
    }
    yield* Output.stderr(`convocore: ${done}; ${failed} failed:\n${failures.report()}`)
    const retryable = failures.count("retryable")
    return yield* new PartialExport({
      exported,
      failed,
      message: `${failed} of ${ExportSummary.conversations(exported + failed)} failed${
        Option.isSome(flags.output) && retryable > 0
          ? `; run again with --resume to retry the ${retryable} worth retrying`
          : ""
      }`
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
    ),
    // Last, whatever came before: what the export asked of the upstream.
    Effect.ensuring(
      Effect.suspend(() =>
        requestsLine === undefined ? Effect.void : Output.stderr(`convocore: ${requestsLine}\n`)
      )
    )
  )
}
