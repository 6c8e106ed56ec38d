/**
 * The journal beside an export's output (`out.ndjson.journal`): what the output is and what made it into
 * it, one JSON array a line, so that `--resume` continues it exactly. Its entries:
 *
 * - `["file", {format, agent, source, fields, csvRaw}]`, first: what the output holds, so that a resume
 *   asking for something else is refused (a journal written before this entry existed has none);
 * - `[end, "id"]`: a record wholly in the output, `end` the byte offset just past it (`[end, null]`: a
 *   CSV header);
 * - `["failed", "id", "retryable" | "permanent"]`: an id that failed, and whether a resume retries it;
 * - `["listed", cursor | null]` (`--all`): every listed row before the page `cursor` names is handled
 *   (written, failed, or skipped as written); null: the whole listing is.
 *
 * Reading it back keeps the entries up to the first one that is torn or names a record past the output's
 * end: the journal is written after the output, so nothing later can be trusted.
 */
import * as RecentIds from "./RecentIds.js"

export interface FileDescription {
  readonly format: "ndjson" | "csv"
  readonly agent: string
  /** `--all`, or the `--ids` file (`-`: stdin). */
  readonly source: { readonly all: true } | { readonly ids: string }
  /** `--fields` as given, in order; null without it. */
  readonly fields: ReadonlyArray<string> | null
  readonly csvRaw: boolean
}

export type Failure = "retryable" | "permanent"

/** The listing's resume point: `undefined` cursor for the first page; `done` when every page is handled. */
export type Listed = { readonly _tag: "From"; readonly cursor: string } | { readonly _tag: "Done" }

/**
 * Ids written before the last `listed` entry that are still remembered, so that a row an upstream moves
 * across a page boundary (new conversations arriving mid-export) is not written twice. Ids after it are
 * all kept: the listing resumes there.
 */
export const rememberedBeforeCheckpoint = 10_000

export interface Recovered {
  readonly description: FileDescription | undefined
  /** Ids the output holds: every id after the last checkpoint, the latest ones before it. */
  readonly done: RecentIds.RecentIds
  /** Records the output holds. */
  readonly written: number
  /** Failed ids not written since, by whether a resume retries them. */
  readonly failed: ReadonlyMap<string, Failure>
  readonly listed: Listed | undefined
  /** Bytes of the output, and of the journal, to keep. */
  readonly end: number
  readonly journalBytes: number
}

export const fileEntry = (description: FileDescription): string =>
  `${JSON.stringify(["file", description])}\n`
export const recordEntry = (end: number, id: string | null): string => `${JSON.stringify([end, id])}\n`
export const failedEntry = (id: string, failure: Failure): string =>
  `${JSON.stringify(["failed", id, failure])}\n`
export const listedEntry = (cursor: string | null): string => `${JSON.stringify(["listed", cursor])}\n`

const isDescription = (value: unknown): value is FileDescription => {
  if (typeof value !== "object" || value === null) return false
  const d = value as Record<string, unknown>
  const source = d.source as Record<string, unknown> | null | undefined
  return (
    (d.format === "ndjson" || d.format === "csv") &&
    typeof d.agent === "string" &&
    typeof source === "object" &&
    source !== null &&
    (source.all === true || typeof source.ids === "string") &&
    (d.fields === null || (Array.isArray(d.fields) && d.fields.every((f) => typeof f === "string"))) &&
    typeof d.csvRaw === "boolean"
  )
}

/**
 * Reads a journal, in chunks as they come (a long history's journal is never held whole), keeping the
 * entries the output (of `outputSize` bytes) holds in full.
 */
export const recover = (chunks: Iterable<Buffer>, outputSize: number): Recovered => {
  let description: FileDescription | undefined
  const done = RecentIds.make(rememberedBeforeCheckpoint)
  const failed = new Map<string, Failure>()
  let listed: Listed | undefined
  let written = 0
  let end = 0
  let journalBytes = 0
  let line = 0
  /** Takes one entry; false: it is torn or not to be trusted, and nothing after it is read. */
  const take = (text: string): boolean => {
    let entry: unknown
    try {
      entry = JSON.parse(text)
    } catch {
      return false
    }
    if (!Array.isArray(entry)) return false
    const [kind, a, b] = entry as [unknown, unknown, unknown]
    if (kind === "file" && line === 0 && isDescription(a)) description = a
    else if (kind === "failed" && typeof a === "string" && (b === "retryable" || b === "permanent"))
      failed.set(a, b)
    else if (kind === "listed" && (a === null || typeof a === "string")) {
      listed = a === null ? { _tag: "Done" } : { _tag: "From", cursor: a }
      done.settle()
    } else if (typeof kind === "number" && Number.isSafeInteger(kind) && kind >= end && kind <= outputSize) {
      if (a !== null && typeof a !== "string") return false
      if (a !== null) {
        done.add(a)
        failed.delete(a)
        written++
      }
      end = kind
    } else return false
    line++
    return true
  }
  let carried: Buffer = Buffer.alloc(0)
  reading: for (const chunk of chunks) {
    const buffer = carried.length === 0 ? chunk : Buffer.concat([carried, chunk])
    let start = 0
    for (;;) {
      const newline = buffer.indexOf(10, start)
      if (newline === -1) break
      if (!take(buffer.toString("utf8", start, newline))) break reading
      journalBytes += newline + 1 - start
      start = newline + 1
    }
    carried = buffer.subarray(start)
  }
  return { description, done, written, failed, listed, end, journalBytes }
}

/** What an output with no journal holds: nothing. */
export const nothing = (): Recovered => recover([], 0)

const describeSource = (d: FileDescription) =>
  "all" in d.source ? `agent ${d.agent} --all` : `agent ${d.agent} --ids ${d.source.ids}`

const aspects: ReadonlyArray<readonly [string, (d: FileDescription) => string]> = [
  ["format", (d) => d.format],
  ["source", describeSource],
  ["fields", (d) => (d.fields === null ? "(the default)" : d.fields.join(","))],
  ["csv-raw", (d) => (d.csvRaw ? "on" : "off")]
]

/**
 * Where a resumed run would write something other than what the output holds, in one line naming each
 * difference, e.g. `out.csv holds format csv, fields id,status; this run asks for format ndjson, fields
 * (the default)`; undefined when they agree.
 */
export const mismatch = (
  output: string,
  held: FileDescription,
  asked: FileDescription
): string | undefined => {
  const differing = aspects.filter(([, show]) => show(held) !== show(asked))
  if (differing.length === 0) return undefined
  const list = (d: FileDescription) => differing.map(([name, show]) => `${name} ${show(d)}`).join(", ")
  return `--resume: ${output} holds ${list(held)}; this run asks for ${list(asked)}`
}
