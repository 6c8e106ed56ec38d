/**
 * The export's output file and its journal, so that `--resume` writes each id exactly once even after a
 * `kill -9` in the middle of a write.
 *
 * Beside `out.ndjson` lives `out.ndjson.journal`: one line per record written, `[end, "id"]`, where `end`
 * is the byte offset just past that record in the output (`[end, null]` for a CSV header). The output
 * record is written first, then its journal line, both with synchronous writes, so the journal never
 * names a record that is not wholly in the output. On resume, the journal lines whose `end` lies within
 * the output are the records that made it; the output is cut back to the last of them (dropping a
 * partial record or one the journal never confirmed), the journal to those lines, and the ids they name
 * are skipped. Offsets rather than line counts, because a CSV record may itself contain line breaks.
 *
 * The journal stays after the export, complete or not: `--resume` is then idempotent (a finished export
 * resumed writes nothing), and after a partial export it retries just the failed ids.
 *
 * Synchronous writes are deliberate: they keep the two files in order without any bookkeeping, and the
 * cost (two write calls per conversation) is small beside a network round trip.
 */
import * as Fs from "node:fs"
import { UsageError } from "./CliError.js"

export const journalPath = (output: string): string => `${output}.journal`

export interface ResumableOutput {
  /** Ids already in the output from an earlier run. */
  readonly done: ReadonlySet<string>
  /** True when the output holds nothing yet (a CSV header is due). */
  readonly empty: boolean
  /** Appends one record; `id` null for a header. Throws on an I/O error. */
  readonly append: (record: string, id: string | null) => void
  /** Closes both files; later calls do nothing. */
  readonly close: () => void
}

interface Recovered {
  readonly done: Set<string>
  readonly end: number
  readonly journalBytes: number
}

/** Reads the journal, keeping the entries the output holds in full. */
const recover = (journal: Buffer, outputSize: number): Recovered => {
  const done = new Set<string>()
  let end = 0
  let journalBytes = 0
  let start = 0
  for (;;) {
    const newline = journal.indexOf(10, start)
    if (newline === -1) break
    let entry: unknown
    try {
      entry = JSON.parse(journal.toString("utf8", start, newline))
    } catch {
      break
    }
    if (!Array.isArray(entry) || entry.length !== 2) break
    const [at, id] = entry as [unknown, unknown]
    if (typeof at !== "number" || !Number.isSafeInteger(at) || at < end || at > outputSize) break
    if (id !== null && typeof id !== "string") break
    if (id !== null) done.add(id)
    end = at
    start = newline + 1
    journalBytes = start
  }
  return { done, end, journalBytes }
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
 * Opens `output` for an export. With `resume`, an existing output must have its journal, and `header`
 * (CSV) must match the existing one. Without it, an output that holds an earlier export (it has a
 * journal) is refused unless `force`: starting afresh would truncate it, and it may be an unfinished
 * export that `--resume` would complete.
 */
export const open = (
  output: string,
  options: { readonly resume: boolean; readonly force: boolean; readonly header: string | undefined }
): ResumableOutput => {
  const journal = journalPath(output)
  if (!options.resume && !options.force && Fs.existsSync(journal) && holdsData(output))
    throw new UsageError({
      message: `${output} holds an earlier export (${journal} is beside it): --resume continues it, --force starts it afresh`
    })
  let recovered: Recovered = { done: new Set(), end: 0, journalBytes: 0 }
  if (options.resume && Fs.existsSync(output)) {
    if (!Fs.existsSync(journal))
      throw new UsageError({
        message: `--resume: ${output} exists but ${journal} does not, so which ids it holds is unknown; export again without --resume`
      })
    recovered = recover(Fs.readFileSync(journal), Fs.statSync(output).size)
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
  const resuming = options.resume && recovered.end > 0
  const outputFd = Fs.openSync(output, resuming ? "a" : "w")
  const journalFd = Fs.openSync(journal, resuming ? "a" : "w")
  let end = recovered.end
  let closed = false
  const append = (record: string, id: string | null) => {
    const bytes = Buffer.from(record, "utf8")
    let written = 0
    while (written < bytes.length) written += Fs.writeSync(outputFd, bytes, written)
    end += bytes.length
    Fs.writeSync(journalFd, `${JSON.stringify([end, id])}\n`)
  }
  return {
    done: recovered.done,
    empty: end === 0,
    append,
    close: () => {
      if (closed) return
      closed = true
      Fs.closeSync(outputFd)
      Fs.closeSync(journalFd)
    }
  }
}
