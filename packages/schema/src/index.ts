/**
 * @convocore-effect/schema: the contract of Convocore's V3 Get Single Conversation endpoint.
 */
export * from "./Conversation.js"
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
