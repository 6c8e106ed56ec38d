/**
 * Where `export --all` may resume its listing: the `nextCursor` of the last page whose rows, and every
 * earlier page's, are all handled. Documents come back in completion order, so a later page can finish
 * before an earlier one; the resume point moves only over a prefix of pages that are done.
 */
export interface ListingCheckpoints {
  /** A listed page of `rows` rows; returns its number, for `handled`. */
  readonly page: (rows: number, nextCursor: string | undefined) => number
  /** One row of page `page` is handled (written, failed, or skipped). */
  readonly handled: (page: number) => void
  /**
   * The new resume point if it moved since the last call: a cursor, or null when the last page is done;
   * undefined if it did not move.
   */
  readonly advance: () => string | null | undefined
}

export const make = (): ListingCheckpoints => {
  const pages = new Map<number, { remaining: number; readonly nextCursor: string | undefined }>()
  let next = 0
  let oldest = 0
  return {
    page: (rows, nextCursor) => {
      pages.set(next, { remaining: rows, nextCursor })
      return next++
    },
    handled: (page) => {
      const entry = pages.get(page)
      if (entry !== undefined) entry.remaining--
    },
    advance: () => {
      let moved: string | null | undefined
      for (let entry = pages.get(oldest); entry !== undefined && entry.remaining <= 0; ) {
        moved = entry.nextCursor ?? null
        pages.delete(oldest)
        oldest++
        entry = pages.get(oldest)
      }
      return moved
    }
  }
}
