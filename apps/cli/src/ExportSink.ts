/**
 * Where an export writes: stdout, or an `--output` file, locked (./OutputLock.ts) and journaled
 * (./ResumableOutput.ts) so that `--resume` continues it exactly. Everything written goes through here.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Effect, Option, type Scope } from "effect"
import { InternalError, UsageError } from "./CliError.js"
import type { ExportFlags } from "./ExportConversations.js"
import * as ExportJournal from "./ExportJournal.js"
import * as FieldPaths from "./FieldPaths.js"
import * as Output from "./Output.js"
import * as OutputLock from "./OutputLock.js"
import * as ResumableOutput from "./ResumableOutput.js"

/** The file a path names, links followed; the path itself when nothing is there yet. */
const fileOf = (path: string) => (Fs.existsSync(path) ? Fs.realpathSync(path) : Path.resolve(path))

export interface Sink {
  readonly earlier: ExportJournal.Recovered
  readonly write: (record: string, id: string | null) => Effect.Effect<void, InternalError>
  readonly failed: (id: string, failure: ExportJournal.Failure) => Effect.Effect<void, InternalError>
  readonly listed: (cursor: string | null) => Effect.Effect<void, InternalError>
  readonly close: Effect.Effect<void>
}

const ioError = (cause: unknown) =>
  new InternalError({
    message: `cannot write the export: ${cause instanceof Error ? cause.message : String(cause)}`
  })

/** What the output holds, as its journal records it. */
const describe = (flags: ExportFlags, ids: string | undefined): ExportJournal.FileDescription => ({
  format: flags.format,
  agent: flags.agentId,
  source: ids === undefined ? { all: true } : { ids: ids === "-" ? "-" : Path.resolve(ids) },
  fields: Option.match(flags.fields, { onNone: () => null, onSome: (paths) => paths.map(FieldPaths.format) }),
  csvRaw: flags.csvRaw
})

const openFile = (
  path: string,
  flags: ExportFlags,
  ids: string | undefined,
  header: string | undefined
): Effect.Effect<Sink, UsageError | InternalError, Scope.Scope> =>
  Effect.gen(function* () {
    // Opening the output would empty the ids before they are read.
    if (ids !== undefined && ids !== "-" && fileOf(ids) === fileOf(path))
      return yield* new UsageError({
        message: `--output ${path} is the --ids file: write the export elsewhere`
      })
    const cannotOpen = (cause: unknown) =>
      cause instanceof UsageError
        ? cause
        : new UsageError({
            message: `cannot open --output ${path}: ${cause instanceof Error ? cause.message : String(cause)}`
          })
    // Locked before anything is read or cut, released however the export ends (a kill -9 leaves it stale).
    yield* Effect.acquireRelease(
      Effect.try({ try: () => OutputLock.acquire(path), catch: cannotOpen }),
      (release) => Effect.sync(release)
    )
    const output = yield* Effect.acquireRelease(
      Effect.try({
        try: () =>
          ResumableOutput.open(path, {
            resume: flags.resume,
            force: flags.force,
            header,
            description: describe(flags, ids)
          }),
        catch: cannotOpen
      }),
      (output) => Effect.sync(output.close)
    )
    const io =
      <A extends ReadonlyArray<unknown>>(f: (...args: A) => void) =>
      (...args: A) =>
        Effect.try({ try: () => f(...args), catch: ioError })
    if (header !== undefined && output.empty) yield* io(output.append)(header, null)
    return {
      earlier: output.earlier,
      write: io(output.append),
      failed: io(output.failed),
      listed: io(output.listed),
      close: Effect.sync(output.close)
    }
  })

export const open = (
  flags: ExportFlags,
  ids: string | undefined,
  header: string | undefined
): Effect.Effect<Sink, UsageError | InternalError, Scope.Scope> =>
  Option.match(flags.output, {
    onNone: () =>
      flags.resume
        ? Effect.fail(new UsageError({ message: "--resume needs --output FILE: stdout cannot be resumed" }))
        : Effect.as(header === undefined ? Effect.void : Output.stdout(header), {
            earlier: ExportJournal.nothing(),
            write: (record: string) => Output.stdout(record),
            failed: () => Effect.void,
            listed: () => Effect.void,
            close: Effect.void
          }),
    onSome: (path) => openFile(path, flags, ids, header)
  })
