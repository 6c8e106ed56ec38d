/**
 * @convocore-effect/schema: the contract of Convocore's V3 Get Single Conversation and
 * List Conversations endpoints.
 */
export * as ConnectFailure from "./ConnectFailure.js"
export * from "./Conversation.js"
export * from "./ConversationList.js"
export * from "./ConvocoreError.js"
export * as Drift from "./Drift.js"
export * from "./DurationFromString.js"
export * from "./Envelope.js"
export * from "./ErrorBody.js"
export * from "./Examples.js"
export * as Excerpt from "./Excerpt.js"
export * as FastDecoder from "./FastDecoder.js"
export * from "./Ids.js"
export * as Region from "./Region.js"
export * as Tolerance from "./Tolerance.js"
