/**
 * The export's output file and its journal (./ExportJournal.ts), so that `--resume` writes each id
 * exactly once even after a `kill -9` in the middle of a write.
 *
 * The output record is written first, then its journal entry, both with synchronous writes, so the
 * journal never names a record that is not wholly in the output. On resume, the journal entries whose
 * offsets lie within the output are the records that made it; the output is cut back to the last of them
 * (dropping a partial record or one the journal never confirmed), the journal to those entries, and the
 * ids they name are skipped. Offsets rather than line counts, because a CSV record may itself contain
 * line breaks.
 *
 * The journal stays after the export, complete or not: `--resume` is then idempotent (a finished export
 * resumed writes nothing), and after a partial export it retries just the ids worth retrying.
 *
 * Synchronous writes are deliberate: they keep the two files in order without any bookkeeping, and the
 * cost (two write calls per conversation) is small beside a network round trip.
 */
import * as Fs from "node:fs"
import { UsageError } from "./CliError.js"
import * as ExportJournal from "./ExportJournal.js"

export const journalPath = (output: string): string => `${output}.journal`

export interface ResumableOutput {
  /** What an earlier run left: the ids written, the failures, where the listing stopped. */
  readonly earlier: ExportJournal.Recovered
  /** True when the output holds nothing yet (a CSV header is due). */
  readonly empty: boolean
  /** Appends one record; `id` null for a header. Throws on an I/O error. */
  readonly append: (record: string, id: string | null) => void
  /** Records a failed id. Throws on an I/O error. */
  readonly failed: (id: string, failure: ExportJournal.Failure) => void
  /** Records that the listing is handled up to the page `cursor` names (null: all of it). */
  readonly listed: (cursor: string | null) => void
  /** Closes both files; later calls do nothing. */
  readonly close: () => void
}

/** A file's bytes, a megabyte at a time. */
function* chunksOf(path: string): Generator<Buffer> {
  const fd = Fs.openSync(path, "r")
  try {
    const buffer = Buffer.alloc(1 << 20)
    for (;;) {
      const read = Fs.readSync(fd, buffer, 0, buffer.length, null)
      if (read === 0) return
      yield Buffer.from(buffer.subarray(0, read))
    }
  } finally {
    Fs.closeSync(fd)
  }
}

const readPrefix = (path: string, length: number): string => {
  const fd = Fs.openSync(path, "r")
  try {
    const buffer = Buffer.alloc(length)
    const read = Fs.readSync(fd, buffer, 0, length, 0)
    return buffer.toString("utf8", 0, read)
  } finally {
    Fs.closeSync(fd)
  }
}

/** Whether `path` is a file with something in it (an empty one, or a device, has nothing to lose). */
const holdsData = (path: string): boolean => {
  const stat = Fs.statSync(path, { throwIfNoEntry: false })
  return stat?.isFile() === true && stat.size > 0
}

/**
 * Opens `output` for an export. With `resume`, an existing output must have its journal, describe the
 * same export (format, agent and source, fields, csv-raw), and `header` (CSV) must match the existing
 * one. Without it, an output that holds an earlier export (it has a journal) is refused unless `force`:
 * starting afresh would truncate it, and it may be an unfinished export that `--resume` would complete.
 */
export const open = (
  output: string,
  options: {
    readonly resume: boolean
    readonly force: boolean
    readonly header: string | undefined
    readonly description: ExportJournal.FileDescription
  }
): ResumableOutput => {
  const journal = journalPath(output)
  if (!options.resume && !options.force && Fs.existsSync(journal) && holdsData(output))
    throw new UsageError({
      message: `${output} holds an earlier export (${journal} is beside it): --resume continues it, --force starts it afresh`
    })
  let recovered = ExportJournal.nothing()
  if (options.resume && Fs.existsSync(output)) {
    if (!Fs.existsSync(journal))
      throw new UsageError({
        message: `--resume: ${output} exists but ${journal} does not, so which ids it holds is unknown; export again without --resume`
      })
    recovered = ExportJournal.recover(chunksOf(journal), Fs.statSync(output).size)
    const mismatch =
      recovered.description === undefined
        ? undefined
        : ExportJournal.mismatch(output, recovered.description, options.description)
    if (mismatch !== undefined) throw new UsageError({ message: mismatch })
    if (options.header !== undefined && recovered.end > 0) {
      const existing = readPrefix(output, Buffer.byteLength(options.header))
      if (existing !== options.header)
        throw new UsageError({
          message: `--resume: the CSV columns of ${output} differ from these --fields; resume with the same --fields`
        })
    }
    Fs.truncateSync(output, recovered.end)
    Fs.truncateSync(journal, recovered.journalBytes)
  }
  const resuming = options.resume && recovered.journalBytes > 0
  const outputFd = Fs.openSync(output, resuming ? "a" : "w")
  const journalFd = Fs.openSync(journal, resuming ? "a" : "w")
  let end = recovered.end
  let closed = false
  const writeAll = (fd: number, text: string) => {
    const bytes = Buffer.from(text, "utf8")
    let written = 0
    while (written < bytes.length) written += Fs.writeSync(fd, bytes, written)
    return bytes.length
  }
  if (recovered.journalBytes === 0) writeAll(journalFd, ExportJournal.fileEntry(options.description))
  return {
    earlier: recovered,
    empty: end === 0,
    append: (record, id) => {
      end += writeAll(outputFd, record)
      writeAll(journalFd, ExportJournal.recordEntry(end, id))
    },
    failed: (id, failure) => {
      writeAll(journalFd, ExportJournal.failedEntry(id, failure))
    },
    listed: (cursor) => {
      writeAll(journalFd, ExportJournal.listedEntry(cursor))
    },
    close: () => {
      if (closed) return
      closed = true
      Fs.closeSync(outputFd)
      Fs.closeSync(journalFd)
    }
  }
}
