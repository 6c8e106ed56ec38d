/**
 * The ids to export, one per line, from a file or stdin, as a stream: read as they are needed, so the
 * file's size never shows in memory. A trailing `\r` (files from Windows) is dropped and blank lines
 * are skipped; anything else on a line is the id, inner spaces included.
 */
import * as Fs from "node:fs"
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Effect, Stream } from "effect"
import { UsageError } from "./CliError.js"

const readError = (path: string) => (cause: unknown) =>
  new UsageError({
    message: `cannot read --ids ${path}: ${cause instanceof Error ? cause.message : String(cause)}`
  })

const isBlank = (line: string) => line.trim() === ""

export const lines = (path: string): Stream.Stream<string, UsageError> =>
  NodeStream.fromReadable<UsageError, Uint8Array>(
    () => (path === "-" ? process.stdin : Fs.createReadStream(path)),
    readError(path === "-" ? "- (stdin)" : path)
  ).pipe(
    Stream.decodeText(),
    Stream.splitLines,
    Stream.filter((line) => !isBlank(line))
  )

/** Refuses a missing or unreadable file before anything starts, with the reason. */
export const check = (path: string): Effect.Effect<void, UsageError> =>
  path === "-"
    ? Effect.void
    : Effect.try({
        try: () => {
          if (Fs.statSync(path).isDirectory()) throw new Error("it is a directory")
          Fs.accessSync(path, Fs.constants.R_OK)
        },
        catch: readError(path)
      })

/** How many ids a file holds (for the progress bar's total); one extra pass over the file. */
export const count = (path: string): Effect.Effect<number, UsageError> => Stream.runCount(lines(path))
