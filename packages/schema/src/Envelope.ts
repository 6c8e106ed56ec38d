/**
 * The success envelope `{ success, message, data? }`. `data` is optional: a response may carry the
 * envelope alone. Keys the spec does not list (`cached`, `hasMore`, `nextCursor`, `limit`) are kept.
 */
import { Schema } from "effect"
import { Conversation } from "./Conversation.js"
import * as FastDecoder from "./FastDecoder.js"
import { LooseStruct, toStrict } from "./Tolerance.js"

export const Envelope = <Data extends Schema.Schema.AnyNoContext>(data: Data) =>
  LooseStruct({
    success: Schema.Boolean,
    message: Schema.String,
    data: Schema.optional(data)
  })

export const ConversationEnvelope = Envelope(Conversation).annotations({ identifier: "ConversationEnvelope" })
export type ConversationEnvelope = typeof ConversationEnvelope.Type

/** The envelope exactly as the spec states it, around the strict document. */
export const ConversationEnvelopeStrict = toStrict(ConversationEnvelope)

/** Decodes a response body at validator speed; see ./FastDecoder.ts. */
export const conversationEnvelopeDecoder = FastDecoder.make(ConversationEnvelope)
