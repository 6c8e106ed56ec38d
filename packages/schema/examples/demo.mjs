// The schema package from plain Node, once built: decode the documentation's example response, then show
// what the tolerant reader does with a document that drifted from the spec, and what a broken one says.
import {
  conversationDecoder,
  conversationEnvelopeDecoder,
  conversationStrictDecoder,
  Drift,
  seedExampleResponse
} from "@convocore-effect/schema"
import { Either } from "effect"

const body = JSON.stringify(seedExampleResponse)
const envelope = conversationEnvelopeDecoder.decodeUnknownSync(JSON.parse(body))
console.log("Decoded the documented example response:\n")
console.log(JSON.stringify(envelope, null, 2))

const drifted = { ...envelope.data, state: "completed", summary: null, cached: true }
console.log("\nA drifted document (state: completed, summary: null, an unknown key):")
console.log(
  `  tolerant reader: ${Either.isRight(conversationDecoder.decodeUnknownEither(drifted)) ? "accepted, nothing lost" : "rejected"}`
)
console.log(
  `  strict schema:   ${Either.isRight(conversationStrictDecoder.decodeUnknownEither(drifted)) ? "accepted" : "rejected"}`
)
console.log("  drift report:")
for (const entry of Drift.conversationDrift(drifted))
  console.log(`    ${entry.kind.padEnd(16)} ${entry.path}`)

const broken = conversationDecoder.decodeUnknownEither({ ...envelope.data, messagesNum: "5" })
console.log("\nA broken contract (messagesNum as a string) is an error naming the path:\n")
console.log(Either.isLeft(broken) ? String(broken.left) : "unexpectedly accepted")
