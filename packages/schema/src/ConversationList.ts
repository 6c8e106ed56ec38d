/**
 * A page of `GET /v3/agents/{agentId}/convos`: the rows of an agent's conversations, newest first, and
 * the cursor to the next page.
 *
 * A row is a projection of the conversation document: the published item schema lists a subset of the
 * document's properties, each typed exactly as in the document, so `ConversationRow` picks those fields
 * from `Conversation` rather than writing them again. It is tolerant the same way (./Tolerance.ts), and
 * `ConversationRowStrict` is derived from it the same way as `ConversationStrict`.
 */
import { Schema, Struct } from "effect"
import { Conversation } from "./Conversation.js"
import * as FastDecoder from "./FastDecoder.js"
import { field, LooseStruct, specRequired, toStrict } from "./Tolerance.js"

/** The properties of the published list item (OpenAPI 1.0.4), in the spec's order. */
export const conversationRowKeys = [
  "userEmail",
  "userName",
  "userPhone",
  "userAddress",
  "userCompany",
  "userWebsite",
  "notes",
  "userProfilePic",
  "ID",
  "userID",
  "campaignId",
  "userImage",
  "socialHandle",
  "isFollowingBusiness",
  "socialVerified",
  "userOs",
  "userBrowser",
  "origin",
  "messagesNum",
  "interactionsNum",
  "ts",
  "tags",
  "convoTimeSeconds",
  "firstMessageTS",
  "lastMessageTS",
  "userPlatform",
  "state",
  "chatAssignedTo",
  "lastModified",
  "sessionsNum",
  "lang",
  "vapi",
  "ratingFrom5",
  "totalUserInteractions",
  "isBlocked",
  "nodesInfo",
  "capturedVariables",
  "campaignCalls",
  "sessions",
  "endReason",
  "isTest",
  "metrics",
  "notifyToUserId",
  "averageLatency",
  "voice",
  "detailedCost",
  "summary",
  "requestedTeamKey",
  "delegatedBy",
  "delegatedAt",
  "lastViewed",
  "note",
  "title",
  "lastMessage"
] as const satisfies ReadonlyArray<keyof typeof Conversation.fields>

export const ConversationRow = LooseStruct(
  Struct.pick(Conversation.fields, ...conversationRowKeys)
).annotations({ identifier: "ConversationRow", title: "Convocore conversation list row" })
export type ConversationRow = typeof ConversationRow.Type

/** Exactly the published item schema: closed enums, no excess keys, no tolerated nulls. */
export const ConversationRowStrict = toStrict(ConversationRow).annotations({
  identifier: "ConversationRowStrict"
})

/**
 * The page envelope. `success`, `message` and `data` are the spec's (`data` required by it, tolerated
 * absent or null like any other spec-required property). The other four are not in the published text but
 * are on every live page, so they are typed and the strict page accepts them: a client pages by
 * `hasMore` and `nextCursor`. Any further key is kept, as in every envelope.
 */
export const ConversationListPage = LooseStruct({
  success: Schema.Boolean,
  message: Schema.String,
  data: specRequired(Schema.Array(ConversationRow)),
  hasMore: field(Schema.Boolean),
  /** The cursor of the next page; `null` on the last page. */
  nextCursor: Schema.optional(Schema.NullOr(Schema.String)),
  /** The page size the API applied (after clamping the requested `limit`). */
  limit: field(Schema.JsonNumber),
  cached: field(Schema.Boolean)
}).annotations({ identifier: "ConversationListPage" })
export type ConversationListPage = typeof ConversationListPage.Type

/** The page as the spec states it, around strict rows, with the four observed keys above allowed. */
export const ConversationListPageStrict = toStrict(ConversationListPage).annotations({
  identifier: "ConversationListPageStrict"
})

/** Decoders at validator speed with Effect's error messages; see ./FastDecoder.ts. */
export const conversationRowDecoder = FastDecoder.make(ConversationRow)
export const conversationRowStrictDecoder = FastDecoder.make(ConversationRowStrict)
export const conversationListPageDecoder = FastDecoder.make(ConversationListPage)
