/**
 * Generated conversation documents: any (agentId, convoId) that is not a fixture has a document,
 * reproducible from (seed, agentId, convoId).
 * - `generate`, what the sandbox serves: a plausible lead (./Leads.ts) that passes strict, so that a
 *   lead card or a demo CSV reads like a CRM's.
 * - `generateFuzz`, for property tests: from the schema's own arbitrary for the strict document, so it
 *   covers the whole spec (every nested object, odd strings and numbers) and passes strict, with the
 *   ids and timestamps overridden as in `generate`.
 *
 * The region is not part of the seed: a conversation readable in both regions is the same document in
 * both, so a failover test compares equal bytes.
 */
import type { Conversation } from "@convocore-effect/schema"
import { ConversationStrict } from "@convocore-effect/schema"
import { Arbitrary, FastCheck } from "effect"
import { successMessage } from "./Fixtures.js"
import * as Leads from "./Leads.js"

/** FNV-1a (32 bits) of the three inputs, separated so that ("ab","c") and ("a","bc") differ. */
export const hashSeed = (seed: number, agentId: string, convoId: string): number => {
  const text = `${seed}\u0000${agentId}\u0000${convoId}`
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash | 0
}

const origins = ["web-chat", "whatsapp", "web", "instagram", "messenger", "voice"] as const

/**
 * Built on first use, never at load: deriving the arbitrary walks the whole schema, and a call into
 * fast-check at load would keep these arbitraries in every bundle of the sandbox (the CLI's among them),
 * which serves only `generate`.
 */
let fuzzArbitraries: ReturnType<typeof makeFuzzArbitraries> | undefined
const makeFuzzArbitraries = () => ({
  document: Arbitrary.make(ConversationStrict),
  overrides: FastCheck.record({
    ts: FastCheck.integer({ min: 1_700_000_000, max: 1_790_000_000 }),
    durationSeconds: FastCheck.integer({ min: 0, max: 6 * 3600 }),
    modifiedAfterSeconds: FastCheck.integer({ min: 0, max: 3600 }),
    messagesNum: FastCheck.integer({ min: 1, max: 120 }),
    origin: FastCheck.constantFrom(...origins)
  })
})

const sample = <A>(arbitrary: FastCheck.Arbitrary<A>, seed: number): A => {
  const [value] = FastCheck.sample(arbitrary, { seed, numRuns: 1 })
  // fast-check returns exactly numRuns values; an empty sample would be a fast-check defect.
  if (value === undefined) throw new Error("fast-check returned no sample")
  return value
}

/** The plausible document at these ids: the same inputs always give the same document. */
export const generate = (seed: number, agentId: string, convoId: string): Conversation => ({
  ID: convoId,
  // API-created and dashboard conversations carry their own id as userID (calls carry a phone number,
  // which the voice fixture shows).
  userID: convoId,
  ...Leads.make(hashSeed(seed, agentId, convoId))
})

/** The spec-covering, fuzz-like document at these ids: the same inputs always give the same document. */
export const generateFuzz = (seed: number, agentId: string, convoId: string): Conversation => {
  fuzzArbitraries ??= makeFuzzArbitraries()
  const hashed = hashSeed(seed, agentId, convoId)
  const document = sample(fuzzArbitraries.document, hashed)
  const overrides = sample(fuzzArbitraries.overrides, hashed ^ 0x5bd1e995)
  const lastMessageTS = overrides.ts + overrides.durationSeconds
  return {
    ...document,
    ID: convoId,
    userID: convoId,
    origin: overrides.origin,
    messagesNum: overrides.messagesNum,
    ts: overrides.ts,
    firstMessageTS: overrides.ts,
    lastMessageTS,
    lastModified: lastMessageTS + overrides.modifiedAfterSeconds
  }
}

export const envelopeOf = (data: Conversation) => ({ success: true, message: successMessage, data })

const encoder = new TextEncoder()

/** The JSON bytes of a value; one function so that every response of the sandbox is written alike. */
export const jsonBytes = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value))

/**
 * A bounded cache of generated response bodies: the benchmark and an export test ask for the same ids
 * many times.
 */
export const makeCache = (capacity: number) => {
  const entries = new Map<string, Uint8Array>()
  return (key: string, compute: () => Uint8Array): Uint8Array => {
    const hit = entries.get(key)
    if (hit !== undefined) {
      entries.delete(key)
      entries.set(key, hit)
      return hit
    }
    const value = compute()
    entries.set(key, value)
    if (entries.size > capacity) {
      const oldest = entries.keys().next()
      if (oldest.done !== true) entries.delete(oldest.value)
    }
    return value
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * Schema drift, as the real API shows it: envelope keys the spec does not list (`cached`, `hasMore`,
 * `nextCursor`), a document key it does not list, an off-spec `state` and a `null` summary. The tolerant
 * reader accepts all of it and the drift report names each one; strict rejects it.
 */
export const drift = (envelope: unknown): unknown => {
  if (!isRecord(envelope) || !isRecord(envelope.data)) return envelope
  return {
    ...envelope,
    cached: true,
    hasMore: false,
    nextCursor: null,
    data: { ...envelope.data, state: "completed", summary: null, crmPipelineId: "pipeline_sandbox" }
  }
}

/** A wrong primitive: `messagesNum` as a string. Even the tolerant reader must refuse it, naming the path. */
export const breakPrimitive = (envelope: unknown): unknown => {
  if (!isRecord(envelope) || !isRecord(envelope.data)) return envelope
  const messagesNum = envelope.data.messagesNum
  return { ...envelope, data: { ...envelope.data, messagesNum: String(messagesNum ?? 1) } }
}
