/**
 * Listing an agent's conversations (`GET /agents/{agentId}/convos`): cursor pages followed until the
 * upstream says there are no more, as a `Stream` of pages or of rows. Each page is one call through the
 * same fetcher as a get (the resilient call, or the in-memory one), so it is retried, failed over and
 * rate-controlled like any call; `page` is never sent (`listPath`).
 *
 * Resuming after a crash: every page and row carries `cursor` (what its page was asked with: listing from
 * it again gives that page again) and `nextCursor` (where the next page starts). An export that records
 * `nextCursor` once a page is fully written (a row with `lastOfPage`) resumes exactly after it; rows of a
 * page only partly written come again from that page's `cursor`, for the export to skip by `ID`.
 */
import {
  AgentId,
  type ConversationRow,
  type ConvocoreError,
  clampListLimit,
  conversationListPageDecoder,
  InvalidInput,
  ListCursor,
  type ListQuery,
  maxListLimit
} from "@convocore-effect/schema"
import { Effect, Either, Option, Schema, Stream } from "effect"
import { type Decode, type DecodeFailure, decodeFailure, invalidInput } from "./AttemptResult.js"
import type { CallOptions, Traced } from "./ResilientHttpClient.js"
import * as Spans from "./Spans.js"

export interface ListOptions extends CallOptions {
  /** Rows per page, made a whole number in 1..20 as the API does (default 20). */
  readonly limit?: number | undefined
  /** Start at the page this cursor names: a `cursor` or `nextCursor` saved from an earlier listing. */
  readonly cursor?: string | undefined
  /** At most this many rows in all; the last page is asked for with the limit that is left. */
  readonly max?: number | undefined
}

export interface ListedPage {
  readonly rows: ReadonlyArray<ConversationRow>
  /** The cursor this page was asked with; undefined for the first page. */
  readonly cursor: ListCursor | undefined
  /** The cursor of the page after this one; undefined on the last page. */
  readonly nextCursor: ListCursor | undefined
}

export interface ListedRow {
  readonly row: ConversationRow
  readonly cursor: ListCursor | undefined
  readonly nextCursor: ListCursor | undefined
  /** The last row of its page: once it is written, `nextCursor` is where to resume. */
  readonly lastOfPage: boolean
}

/** How the service gets one page's answer; the real and in-memory layers differ only here. */
export type PageFetcher = <A>(
  agentId: AgentId,
  query: ListQuery,
  decode: Decode<A>,
  options: CallOptions | undefined
) => Effect.Effect<Traced<A>>

const decodeCursor = Schema.decodeUnknownEither(ListCursor)
const refused = (path: string, message: string): Either.Either<ListedPage, DecodeFailure> =>
  Either.left({ path, message })
const listed = (page: ListedPage): Either.Either<ListedPage, DecodeFailure> => Either.right(page)

/** A page's envelope, read for paging: `hasMore` with a usable `nextCursor`, or the last page. */
export const decodePage =
  (asked: ListCursor | undefined): Decode<ListedPage> =>
  (body) =>
    Either.flatMap(
      Either.mapLeft(conversationListPageDecoder.decodeUnknownEither(body), decodeFailure),
      (page) => {
        if (page.success === false)
          return refused("success", `The upstream answered 200 with success false: ${page.message}`)
        if (page.data === undefined || page.data === null)
          return refused("data", "The page carries no rows (no data)")
        const next = page.nextCursor ?? undefined
        // `hasMore` is what the live API pages by; without it, a cursor given is a page to follow.
        if (!(page.hasMore ?? next !== undefined))
          return listed({ rows: page.data, cursor: asked, nextCursor: undefined })
        if (next === undefined)
          return refused("nextCursor", "The page says it has more but carries no nextCursor")
        const cursor = decodeCursor(next)
        if (Either.isLeft(cursor))
          return refused("nextCursor", `The page's nextCursor is unusable: ${next.length} characters`)
        if (cursor.right === asked)
          return refused(
            "nextCursor",
            "The page's nextCursor is the cursor it was asked with: paging would never end"
          )
        return listed({ rows: page.data, cursor: asked, nextCursor: cursor.right })
      }
    )

/** The list methods over a page fetcher; the agent, cursor and `max` are checked before anything is sent. */
export const makeListing = (fetchPage: PageFetcher) => {
  const listConversationPages = (
    agentId: string,
    options?: ListOptions
  ): Stream.Stream<ListedPage, ConvocoreError> =>
    Stream.unwrap(
      Effect.gen(function* () {
        const agent = Schema.decodeUnknownEither(AgentId)(agentId)
        if (Either.isLeft(agent)) return yield* Effect.fail(invalidInput("agentId", agent.left))
        const start = options?.cursor === undefined ? undefined : decodeCursor(options.cursor)
        if (start !== undefined && Either.isLeft(start))
          return yield* Effect.fail(invalidInput("cursor", start.left))
        const max = options?.max ?? Number.POSITIVE_INFINITY
        if (!(max >= 0 && (Number.isInteger(max) || max === Number.POSITIVE_INFINITY))) {
          return yield* Effect.fail(
            new InvalidInput({ field: "max", message: `${max} is not a whole number of rows` })
          )
        }
        const limit = clampListLimit(options?.limit ?? maxListLimit)
        const page = ({ cursor, left }: { cursor: ListCursor | undefined; left: number }) =>
          Effect.flatMap(
            // One span per page when a tracer listens; its attempts are its children.
            Spans.whenTraced(
              "Convocore.listPage",
              { attributes: { "convocore.page.first": cursor === undefined }, captureStackTrace: false },
              (span) =>
                Effect.tap(
                  fetchPage(
                    agent.right,
                    { cursor, limit: clampListLimit(Math.min(limit, left)) },
                    decodePage(cursor),
                    options
                  ),
                  ({ result }) => {
                    if (span !== undefined && Either.isRight(result))
                      span.attribute("convocore.page.rows", result.right.rows.length)
                  }
                )
            ),
            ({ result }) =>
              Effect.map(result, (listed) => {
                const rest = left - listed.rows.length
                const next =
                  listed.nextCursor === undefined || rest <= 0
                    ? Option.none()
                    : Option.some({ cursor: listed.nextCursor, left: rest })
                return [listed, next] as const
              })
          )
        const first = { cursor: start === undefined ? undefined : start.right, left: max }
        return max === 0 ? Stream.empty : Stream.paginateEffect(first, page)
      })
    )

  /** Rows in the upstream's order (newest first), each with its page's cursors. */
  const listConversations = (
    agentId: string,
    options?: ListOptions
  ): Stream.Stream<ListedRow, ConvocoreError> => {
    const rows = Stream.mapConcat(listConversationPages(agentId, options), (page) =>
      page.rows.map((row, i) => ({
        row,
        cursor: page.cursor,
        nextCursor: page.nextCursor,
        lastOfPage: i === page.rows.length - 1
      }))
    )
    // An upstream that ignores `limit` could overshoot on the last page. (A `max` that is not a count
    // is refused by the pages stream: `take` must not swallow it first.)
    const max = options?.max
    return max === undefined || !(max > 0) ? rows : Stream.take(rows, max)
  }

  return { listConversationPages, listConversations } as const
}
