/**
 * The ids an export fetches, from an `--ids` file or (`--all`) from the agent's listing, less those an
 * earlier run settled: written, or failed for good. Each id once per run.
 *
 * `--all` reads the listing page by page as the export pulls ids, so memory holds the pages in flight,
 * never the agent's whole history. Once every row of a page and of the pages before it is handled, the
 * page's `nextCursor` goes to the journal: a resume lists from there, after first retrying the ids an
 * earlier run failed for a reason that may pass.
 */
import type { Convocore } from "@convocore-effect/client"
import type { ConvocoreError } from "@convocore-effect/schema"
import { Effect, Stream } from "effect"
import type { InternalError, UsageError } from "./CliError.js"
import * as ExportJournal from "./ExportJournal.js"
import * as IdSource from "./IdSource.js"
import * as ListingCheckpoints from "./ListingCheckpoints.js"
import * as RecentIds from "./RecentIds.js"

export interface Counts {
  /** Rows listed (`--all`). */
  listed: number
  /** Ids an earlier run wrote. */
  alreadyWritten: number
  /** Ids an earlier run found can never succeed (invalid, not found). */
  failedForGood: number
  /** Ids given (or listed) again in this run. */
  repeated: number
  /** Listed rows without an `ID`: nothing to fetch them by. */
  withoutId: number
}

export interface Source {
  readonly ids: Stream.Stream<string, UsageError | ConvocoreError>
  /** After each id's result is written or recorded as failed. */
  readonly handled: (id: string) => Effect.Effect<void, InternalError>
  /** After the last id, when every id was handled. */
  readonly finished: Effect.Effect<void, InternalError>
  readonly counts: Readonly<Counts>
}

const zero = (): Counts => ({ listed: 0, alreadyWritten: 0, failedForGood: 0, repeated: 0, withoutId: 0 })

/** Why an id an earlier run saw is not fetched again, if it is not. */
const settledBefore = (earlier: ExportJournal.Recovered, id: string, counts: Counts): boolean => {
  if (earlier.done.has(id)) {
    counts.alreadyWritten++
    return true
  }
  if (earlier.failed.get(id) === "permanent") {
    counts.failedForGood++
    return true
  }
  return false
}

export const fromIds = (path: string, earlier: ExportJournal.Recovered): Source => {
  const counts = zero()
  // Each id once, whether or not an earlier run was interrupted: a repeated id is skipped like one
  // already written.
  const seen = new Set<string>()
  const ids = IdSource.lines(path).pipe(
    Stream.filter((id) => {
      if (seen.has(id)) {
        counts.repeated++
        return false
      }
      seen.add(id)
      return !settledBefore(earlier, id, counts)
    })
  )
  return { ids, handled: () => Effect.void, finished: Effect.void, counts }
}

export const fromListing = (
  convocore: Convocore,
  agentId: string,
  earlier: ExportJournal.Recovered,
  journal: (cursor: string | null) => Effect.Effect<void, InternalError>
): Source => {
  const counts = zero()
  const checkpoints = ListingCheckpoints.make()
  const pageOf = new Map<string, number>()
  const thisRun = RecentIds.make(ExportJournal.rememberedBeforeCheckpoint)
  const retried = [...earlier.failed].flatMap(([id, failure]) => (failure === "retryable" ? [id] : []))
  for (const id of retried) thisRun.add(id)

  const pages =
    earlier.listed?._tag === "Done"
      ? Stream.empty
      : convocore.listConversationPages(agentId, {
          cursor: earlier.listed?._tag === "From" ? earlier.listed.cursor : undefined
        })
  const listed = Stream.mapConcat(pages, (page) => {
    counts.listed += page.rows.length
    const number = checkpoints.page(page.rows.length, page.nextCursor)
    const ids: Array<string> = []
    for (const { ID: id } of page.rows) {
      if (typeof id !== "string" || id === "") counts.withoutId++
      else if (thisRun.has(id)) counts.repeated++
      else if (!settledBefore(earlier, id, counts)) {
        thisRun.add(id)
        pageOf.set(id, number)
        ids.push(id)
        continue
      }
      checkpoints.handled(number)
    }
    return ids
  })

  const checkpoint = Effect.suspend(() => {
    const cursor = checkpoints.advance()
    if (cursor === undefined) return Effect.void
    thisRun.settle()
    return journal(cursor)
  })
  return {
    ids: Stream.concat(Stream.fromIterable(retried), listed),
    handled: (id) =>
      Effect.suspend(() => {
        const page = pageOf.get(id)
        if (page === undefined) return Effect.void
        pageOf.delete(id)
        checkpoints.handled(page)
        return checkpoint
      }),
    finished: checkpoint,
    counts
  }
}
