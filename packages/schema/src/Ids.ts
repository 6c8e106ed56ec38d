/**
 * The parameters of a request: agent and conversation ids as path parameters, and the list's query.
 *
 * Ids as path parameters. Anything printable is allowed, since ids include
 * phone numbers, `{agentId}_{suffix}` forms and whatever a workspace chose; what is refused is what could
 * not be a path segment safely: the empty string, `.` and `..` (URL parsers resolve them as relative
 * segments, even percent-encoded, so they would reach another route), control characters, unpaired
 * surrogates (which `encodeURIComponent` cannot encode) and unbounded length.
 */
import { Schema } from "effect"

export const maxIdLength = 512

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/

// Without the `u` flag a regex sees UTF-16 code units, so it can find a half of a pair standing alone.
const unpairedSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

const PathParameter = (name: string) =>
  Schema.String.pipe(
    Schema.filter((value) => {
      if (value.length === 0) return `${name} must not be empty`
      if (value === "." || value === "..")
        return `${name} cannot be "${value}": it is a relative path segment`
      if (value.length > maxIdLength)
        return `${name} is ${value.length} characters long; at most ${maxIdLength} are allowed`
      // The id itself is not echoed (it may be long, or hold what a terminal would act on): where and how long.
      const length = `${value.length} characters`
      const control = controlCharacter.exec(value)
      if (control !== null) {
        const code = control[0].charCodeAt(0).toString(16).padStart(4, "0")
        return `${name} contains a control character (U+${code}) at position ${control.index} (${length})`
      }
      const surrogate = unpairedSurrogate.exec(value)
      if (surrogate !== null)
        return `${name} contains an unpaired surrogate (not valid Unicode) at position ${surrogate.index} (${length})`
      return true
    })
  )

export const AgentId = PathParameter("agentId")
  .pipe(Schema.brand("AgentId"))
  .annotations({ identifier: "AgentId" })
export type AgentId = typeof AgentId.Type

export const ConversationId = PathParameter("convoId")
  .pipe(Schema.brand("ConversationId"))
  .annotations({ identifier: "ConversationId" })
export type ConversationId = typeof ConversationId.Type

/** The upstream path of one conversation; each id is exactly one percent-encoded path segment. */
export const conversationPath = (agentId: AgentId, convoId: ConversationId): string =>
  `/agents/${encodeURIComponent(agentId)}/convos/${encodeURIComponent(convoId)}`

/** The most rows a list page holds; the API clamps `limit` to 1..20. */
export const maxListLimit = 20

/** Rows per list page, as the API accepts them: a whole number from 1 to `maxListLimit`. */
export const ListLimit = Schema.Int.pipe(
  Schema.between(1, maxListLimit),
  Schema.brand("ListLimit")
).annotations({
  identifier: "ListLimit"
})
export type ListLimit = typeof ListLimit.Type

/** Any number made a valid limit, as public clients do: rounded down, then clamped to 1..20. */
export const clampListLimit = (requested: number): ListLimit =>
  // Clamped into the brand's range just above (NaN becomes the largest page, the API's default).
  (Number.isNaN(requested)
    ? maxListLimit
    : Math.min(maxListLimit, Math.max(1, Math.floor(requested)))) as ListLimit

export const maxCursorLength = 2048

/** A page's `nextCursor`, opaque: sent back as it came. Refused: empty, overlong, or not encodable. */
export const ListCursor = Schema.String.pipe(
  Schema.filter((value) => {
    if (value.length === 0) return "cursor must not be empty"
    if (value.length > maxCursorLength)
      return `cursor is ${value.length} characters long; at most ${maxCursorLength} are allowed`
    if (!value.isWellFormed()) return "cursor contains an unpaired surrogate (not valid Unicode)"
    return true
  }),
  Schema.brand("ListCursor")
).annotations({ identifier: "ListCursor" })
export type ListCursor = typeof ListCursor.Type

export interface ListQuery {
  readonly limit?: ListLimit | undefined
  /** Absent for the first page; then the previous page's `nextCursor`. */
  readonly cursor?: ListCursor | undefined
}

/**
 * The upstream path of a page of an agent's conversations. Pages are asked for by cursor only: `page` is
 * never sent, since the API refuses `page > 1` without a cursor and `page=1` is its default.
 */
export const listPath = (agentId: AgentId, query: ListQuery = {}): string => {
  const parameters: Array<string> = []
  if (query.cursor !== undefined) parameters.push(`cursor=${encodeURIComponent(query.cursor)}`)
  if (query.limit !== undefined) parameters.push(`limit=${query.limit}`)
  const search = parameters.length === 0 ? "" : `?${parameters.join("&")}`
  return `/agents/${encodeURIComponent(agentId)}/convos${search}`
}
