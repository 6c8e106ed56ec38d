/**
 * Schema decode rate: documents per second for the documentation's example and for a maximal document,
 * tolerant and strict, beside ajv validating the same documents against the upstream spec, in one process
 * and one run. Also the plain Effect decoder (no fast path), to show what the fast path buys.
 *
 *   npm run bench:schema            (from the repository root)
 *
 * Goal: the tolerant decode of the maximal document at least 1/3 of ajv's rate.
 */
import {
  Conversation,
  ConversationStrict,
  conversationDecoder,
  conversationStrictDecoder
} from "@convocore-effect/schema"
import { Schema } from "effect"
import { Bench } from "tinybench"
import { maximalConversation, seedExample } from "./lib/documents.js"
import { formatRate, machine, medianOpsPerSecond, table } from "./lib/report.js"
import { specValidatesData } from "./lib/spec.js"

const documents = {
  "seed example": seedExample,
  "maximal (102 fields, 50 activities)": maximalConversation()
}

const decoders = {
  "ajv, compiled from the upstream spec (validation only)": (input: unknown) => specValidatesData(input),
  "tolerant decode (Conversation)": conversationDecoder.decodeUnknownSync,
  "strict decode (ConversationStrict)": conversationStrictDecoder.decodeUnknownSync,
  "plain Effect decode, tolerant (no fast path)": Schema.decodeUnknownSync(Conversation),
  "plain Effect decode, strict (no fast path)": Schema.decodeUnknownSync(ConversationStrict, {
    onExcessProperty: "error"
  })
} as const

// Every decoder must accept every document, or the comparison means nothing.
for (const [documentName, document] of Object.entries(documents))
  for (const [decoderName, decode] of Object.entries(decoders))
    if (decode(document) === false) throw new Error(`${decoderName} rejected the ${documentName} document`)

const bench = new Bench({ time: Number(process.env.BENCH_TIME_MS ?? 1500), warmupTime: 300 })
for (const [documentName, document] of Object.entries(documents))
  for (const [decoderName, decode] of Object.entries(decoders))
    bench.add(`${documentName}|${decoderName}`, () => decode(document))
await bench.run()

const rows: Array<Array<string>> = []
for (const documentName of Object.keys(documents)) {
  const ajv = medianOpsPerSecond(bench, `${documentName}|${Object.keys(decoders)[0]}`)
  for (const decoderName of Object.keys(decoders)) {
    const rate = medianOpsPerSecond(bench, `${documentName}|${decoderName}`)
    rows.push([documentName, decoderName, formatRate(rate), (rate / ajv).toFixed(2)])
  }
}
console.log(`Schema decode, documents per second (median), ${machine()}\n`)
console.log(table(["document", "decoder", "docs/s", "x ajv"], rows))
