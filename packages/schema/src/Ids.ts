/**
 * Agent and conversation ids as path parameters. Anything printable is allowed, since ids include
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
