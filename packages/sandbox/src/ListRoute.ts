/**
 * `GET /v3/agents/{agentId}/convos`: the query, its refusals and the page body, as the live API is seen
 * to answer (see the seed's list-conversations page): at most 20 rows a page, `limit` clamped to 1..20,
 * the next page by `cursor` only (`page > 1` without one is refused with 400), and beside `data` the keys
 * `hasMore`, `nextCursor` (null on the last page), `limit` and `cached`.
 *
 * A row is projected from the very body the get route serves for that id, so the two cannot disagree.
 * Like the live API's rows, it leaves out `summary` and `capturedVariables`.
 */
import type { ApiErrorBody } from "@convocore-effect/schema"
import { clampListLimit, conversationRowKeys, maxListLimit, specDefaults } from "@convocore-effect/schema"
import * as Documents from "./Documents.js"
import * as Listing from "./Listing.js"

export const successMessage = "Conversations retrieved successfully"

/** What a region answers for an agent whose data it does not hold. */
export const agentNotFoundBody: ApiErrorBody = { message: "Agent not found", code: "NOT_FOUND" }

/** The row keys a sandbox row carries: the published item's, less the two live rows are seen to lack. */
const rowKeys = conversationRowKeys.filter((key) => key !== "summary" && key !== "capturedVariables")

export type Answer =
  | { readonly _tag: "Page"; readonly bytes: Uint8Array }
  | { readonly _tag: "Refused"; readonly body: ApiErrorBody }

export interface Config {
  readonly seed: number
  readonly counts: Listing.Counts
  /** The body the get route serves for a listed id (an envelope whose `data` is the document). */
  readonly servedBody: (agentId: string, convoId: string) => Uint8Array
}

const refused = (message: string, parameter: string, issue: string, code: string): Answer => ({
  _tag: "Refused",
  body: { message, code: "BAD_REQUEST", issues: [{ message: issue, path: [parameter], code }] }
})

/** A query number as zod's coercion reads it: finite, or the parameter is refused. */
const numberParameter = (query: URLSearchParams, name: string): number | undefined | Answer => {
  const text = query.get(name)
  if (text === null) return undefined
  const value = text.trim() === "" ? Number.NaN : Number(text)
  return Number.isFinite(value)
    ? value
    : refused(
        "Input validation failed",
        name,
        `Expected number, received ${JSON.stringify(text)}`,
        "invalid_type"
      )
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const textDecoder = new TextDecoder()

/** The list projection of a served body: its document's row keys, in the published order. */
const rowOf = (body: Uint8Array): Record<string, unknown> => {
  const envelope: unknown = JSON.parse(textDecoder.decode(body))
  const document = isRecord(envelope) && isRecord(envelope.data) ? envelope.data : {}
  const row: Record<string, unknown> = {}
  for (const key of rowKeys) if (Object.hasOwn(document, key)) row[key] = document[key]
  return row
}

export const make =
  (config: Config) =>
  (agentId: string, search: string): Answer => {
    const query = new URLSearchParams(search)
    const limit = numberParameter(query, "limit")
    if (typeof limit === "object") return limit
    const page = numberParameter(query, "page")
    if (typeof page === "object") return page
    const cursor = query.get("cursor")
    if (page !== undefined && page > 1 && cursor === null)
      return refused(
        "Page-based pagination beyond page 1 is not supported: pass the nextCursor of the previous page",
        "page",
        "Use cursor to ask for the next page",
        "custom"
      )
    const listing = Listing.of(config.seed, config.counts, agentId)
    const from = cursor === null ? 0 : Listing.positionOf(config.seed, agentId, cursor)
    if (from === undefined) return refused("Invalid cursor", "cursor", "Unknown or expired cursor", "custom")
    const size = limit === undefined ? maxListLimit : clampListLimit(limit)
    const to = Math.min(from + size, listing.total)
    const hasMore = to < listing.total
    return {
      _tag: "Page",
      bytes: Documents.jsonBytes({
        success: true,
        message: successMessage,
        data: listing.slice(from, to).map((convoId) => rowOf(config.servedBody(agentId, convoId))),
        hasMore,
        nextCursor: hasMore ? Listing.cursorAt(config.seed, agentId, to) : null,
        limit: size,
        cached: false
      })
    }
  }

const mapRows = (
  page: unknown,
  change: (row: Record<string, unknown>, index: number) => Record<string, unknown>
): unknown =>
  isRecord(page) && Array.isArray(page.data) && page.data.length > 0
    ? { ...page, data: page.data.map((row, index) => (isRecord(row) ? change(row, index) : row)) }
    : page

/**
 * Schema drift as a live page shows it: rows carrying the funnel keys the item schema does not list (the
 * captured row has them, at their spec defaults), a `null` summary, and an off-spec `state` on the first.
 */
export const drift = (page: unknown): unknown =>
  mapRows(page, (row, index) => ({
    ...row,
    ...specDefaults,
    summary: null,
    ...(index === 0 ? { state: "completed" } : {})
  }))

/** A wrong primitive: the first row's `messagesNum` as a string. */
export const breakPrimitive = (page: unknown): unknown =>
  mapRows(page, (row, index) => (index === 0 ? { ...row, messagesNum: String(row.messagesNum ?? 1) } : row))
