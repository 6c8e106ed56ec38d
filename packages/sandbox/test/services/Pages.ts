/**
 * Walking every page of an agent's list the way a client must: follow `nextCursor` until `hasMore` is
 * false, checking each page against the strict page schema on the way.
 */
import { type ConversationListPage, ConversationListPageStrict } from "@convocore-effect/schema"
import { assert } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { list } from "./Http.js"

export interface Fetched {
  readonly status: number
  readonly text: string
}

export const walk = <E, R>(
  fetch: (url: string) => Effect.Effect<Fetched, E, R>,
  base: string,
  agentId: string,
  limit?: number
): Effect.Effect<ReadonlyArray<ConversationListPage>, E, R> =>
  Effect.gen(function* () {
    const pages: Array<ConversationListPage> = []
    let cursor: string | null | undefined
    do {
      const query = new URLSearchParams()
      if (cursor !== undefined && cursor !== null) query.set("cursor", cursor)
      if (limit !== undefined) query.set("limit", String(limit))
      const got = yield* fetch(list(base, agentId, query.toString()))
      assert.strictEqual(got.status, 200, got.text)
      const page = Schema.decodeUnknownSync(ConversationListPageStrict)(JSON.parse(got.text))
      pages.push(page)
      assert.strictEqual(
        page.nextCursor === null,
        page.hasMore === false,
        "nextCursor is null on the last page only"
      )
      cursor = page.nextCursor
      assert.isBelow(pages.length, 10_000, "the walk ends")
    } while (cursor !== null)
    return pages
  })

/** Every row of the walked pages, in order. */
export const rows = (pages: ReadonlyArray<ConversationListPage>) => pages.flatMap((page) => page.data ?? [])
