/**
 * Our schemas against an independent reading of the spec (ajv compiling the fixture's JSON Schema), and
 * the fast decoder against the Effect decoder it stands in for.
 */
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck as fc, Schema } from "effect"
import { JSONSchemaFaker } from "json-schema-faker"
import {
  Conversation,
  ConversationEnvelope,
  ConversationListPage,
  ConversationListPageStrict,
  ConversationRow,
  ConversationRowStrict,
  ConversationStrict,
  conversationDecoder,
  conversationEnvelopeDecoder,
  conversationListPageDecoder,
  conversationRowDecoder,
  conversationRowStrictDecoder,
  conversationStrictDecoder,
  Drift,
  FastDecoder
} from "../src/index.js"
import {
  dataJsonSchema,
  rowJsonSchema,
  specValidatesData,
  specValidatesListResponse,
  specValidatesRow
} from "./support/Spec.js"

const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

describe("strict documents are documents the spec accepts", () => {
  it.prop(
    "every document generated from the strict schema passes ajv compiled from the upstream spec",
    [Arbitrary.make(ConversationStrict).map(asJson)],
    ([document]) => {
      const valid = specValidatesData(document)
      expect(specValidatesData.errors ?? null).toBe(null)
      expect(valid).toBe(true)
      expect(Drift.conversationDrift(document)).toEqual([])
    },
    { fastCheck: { numRuns: 300, seed: 20261123 } }
  )
})

/** A small seeded generator (mulberry32) so the faker's documents are the same on every run. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
/** `count` documents the faker generates from a JSON Schema of the spec, the same on every run. */
const fakeDocuments = (schema: object, seed: number, count: number): ReadonlyArray<unknown> => {
  JSONSchemaFaker.option({ random: seeded(seed), alwaysFakeOptionals: false, failOnInvalidTypes: true })
  return Array.from({ length: count }, () => JSONSchemaFaker.generate(schema))
}

describe("documents the spec accepts decode under strict", () => {
  const documents = fakeDocuments(dataJsonSchema as object, 7, 400)

  it("generates several hundred varied, spec-valid documents", () => {
    expect(documents.every((document) => specValidatesData(document))).toBe(true)
    const sizes = new Set(documents.map((document) => Object.keys(document as object).length))
    expect(sizes.size).toBeGreaterThan(20)
  })

  it("decodes every one of them under the strict schema, unchanged", () => {
    const decodeStrict = Schema.decodeUnknownEither(ConversationStrict)
    for (const document of documents) {
      const decoded = decodeStrict(document)
      expect(Either.isRight(decoded) ? "ok" : String(decoded.left)).toBe("ok")
      expect(Either.getOrThrow(decoded)).toEqual(document)
      expect(conversationStrictDecoder.isValid(document)).toBe(true)
    }
  })
})

/**
 * Inputs around the boundary of validity: real documents, documents with one property replaced by an
 * arbitrary JSON value (at the top level or inside a CRM activity), and arbitrary JSON.
 */
const topLevelKeys = Object.keys(Conversation.fields)
const mutated = (documents: fc.Arbitrary<unknown>, keys: ReadonlyArray<string> = topLevelKeys) =>
  fc.oneof(
    documents,
    fc
      .tuple(documents, fc.oneof(fc.constantFrom(...keys), fc.string()), fc.jsonValue())
      .map(([document, key, value]) => ({ ...(document as object), [key]: value })),
    fc
      .tuple(
        documents,
        fc.constantFrom("type", "date", "completed", "notesHistory", "metadata", "firstChannel", "x"),
        fc.jsonValue()
      )
      .map(([document, key, value]) => ({
        ...(document as object),
        crmActivities: [{ type: "Call", [key]: value }]
      })),
    fc.jsonValue()
  )

const agreesWithEffect = <A, I>(schema: Schema.Schema<A, I>, decoder: FastDecoder.FastDecoder<A>) => {
  const effect = Schema.decodeUnknownEither(schema)
  return (input: unknown) => {
    const expected = effect(input)
    expect(decoder.isValid(input)).toBe(Either.isRight(expected))
    const actual = decoder.decodeUnknownEither(input)
    if (Either.isRight(expected)) expect(Either.getOrThrow(actual)).toEqual(expected.right)
    else expect(Either.isLeft(actual) && String(actual.left)).toBe(String(expected.left))
  }
}

describe("the fast decoder is the Effect decoder, faster", () => {
  const tolerantDocuments = Arbitrary.make(Conversation).map(asJson)
  const strictDocuments = Arbitrary.make(ConversationStrict).map(asJson)

  it("uses the compiled validator for these schemas (no transformation in them)", () => {
    expect(
      [
        conversationDecoder,
        conversationStrictDecoder,
        conversationEnvelopeDecoder,
        conversationRowDecoder,
        conversationRowStrictDecoder,
        conversationListPageDecoder
      ].map((decoder) => decoder.fast)
    ).toEqual([true, true, true, true, true, true])
  })

  it("feeds both sides of the boundary: many inputs are valid, many are not", () => {
    const inputs = fc.sample(mutated(fc.oneof(tolerantDocuments, strictDocuments)), { numRuns: 400, seed: 1 })
    const tolerant = inputs.filter(conversationDecoder.isValid).length
    const strict = inputs.filter(conversationStrictDecoder.isValid).length
    expect(tolerant).toBeGreaterThan(100)
    expect(tolerant).toBeLessThan(350)
    expect(strict).toBeGreaterThan(40)
    expect(strict).toBeLessThan(tolerant)
  })

  it.prop(
    "tolerant: accepts exactly what Effect accepts, returns what Effect returns, fails with Effect's message",
    [mutated(fc.oneof(tolerantDocuments, strictDocuments))],
    ([input]) => agreesWithEffect(Conversation, conversationDecoder)(input),
    { fastCheck: { numRuns: 400, seed: 1 } }
  )

  it.prop(
    "strict: the same",
    [mutated(fc.oneof(tolerantDocuments, strictDocuments))],
    ([input]) => agreesWithEffect(ConversationStrict, conversationStrictDecoder)(input),
    { fastCheck: { numRuns: 400, seed: 2 } }
  )

  it.prop(
    "envelope: the same",
    [
      fc.oneof(
        fc.record({ success: fc.boolean(), message: fc.string(), data: mutated(strictDocuments) }),
        fc.record(
          { success: fc.jsonValue(), message: fc.jsonValue(), cached: fc.jsonValue() },
          { requiredKeys: [] }
        )
      )
    ],
    ([input]) => agreesWithEffect(ConversationEnvelope, conversationEnvelopeDecoder)(input),
    { fastCheck: { numRuns: 300, seed: 3 } }
  )

  it("before compiling its validator, a decoder validates with Effect and still returns the input itself", () => {
    const decoder = FastDecoder.make(Conversation)
    // An unknown key first: the Effect decoder's own output would list the known keys first.
    const input = asJson({ cached: true, ID: "c1", state: "completed" })
    const broken = { ID: "c1", messagesNum: "5" }
    const effectMessage = String(
      Either.flip(Schema.decodeUnknownEither(Conversation)(broken)).pipe(Either.getOrThrow)
    )
    for (let use = 0; use < FastDecoder.compileAfter + 5; use++) {
      const decoded = Either.getOrThrow(decoder.decodeUnknownEither(input))
      expect(decoded).toBe(input)
      expect(Object.keys(decoded)).toEqual(["cached", "ID", "state"])
      expect(String(Either.flip(decoder.decodeUnknownEither(broken)).pipe(Either.getOrThrow))).toBe(
        effectMessage
      )
    }
  })

  it("a schema with a transformation never takes the fast path", () => {
    const dates = FastDecoder.make(Schema.Struct({ at: Schema.DateFromString }))
    expect(dates.fast).toBe(false)
    expect(dates.decodeUnknownSync({ at: "2026-11-23T00:00:00Z" }).at).toBeInstanceOf(Date)
  })
})

describe("list rows and pages against the list spec", () => {
  /** The four keys every live page carries beyond the published text (see ConversationListPage). */
  const withoutObservedKeys = (page: object) => {
    const {
      cached: _c,
      hasMore: _h,
      limit: _l,
      nextCursor: _n,
      ...published
    } = page as Record<string, unknown>
    return published
  }

  it.prop(
    "every row generated from the strict row schema passes ajv compiled from the list spec",
    [Arbitrary.make(ConversationRowStrict).map(asJson)],
    ([row]) => {
      expect(specValidatesRow(row) ? null : specValidatesRow.errors).toBe(null)
      expect(Drift.conversationRowDrift(row)).toEqual([])
    },
    { fastCheck: { numRuns: 300, seed: 20261212 } }
  )

  it.prop(
    "every strict page, without the four observed keys, is a response the list spec accepts",
    [Arbitrary.make(ConversationListPageStrict).map(asJson)],
    ([page]) => {
      const published = withoutObservedKeys(page as object)
      expect(specValidatesListResponse(published) ? null : specValidatesListResponse.errors).toBe(null)
      expect(Drift.listPageDrift(page)).toEqual([])
    },
    { fastCheck: { numRuns: 100, seed: 20261213 } }
  )

  it("decodes every row the faker makes from the list spec under strict, unchanged", () => {
    const rows = fakeDocuments(rowJsonSchema as object, 11, 300)
    expect(new Set(rows.map((row) => Object.keys(row as object).length)).size).toBeGreaterThan(20)
    const decodeStrict = Schema.decodeUnknownEither(ConversationRowStrict)
    for (const row of rows) {
      expect(specValidatesRow(row)).toBe(true)
      const decoded = decodeStrict(row)
      expect(Either.isRight(decoded) ? "ok" : String(decoded.left)).toBe("ok")
      expect(Either.getOrThrow(decoded)).toEqual(row)
      expect(conversationRowStrictDecoder.isValid(row)).toBe(true)
    }
  })

  const mutatedRows = mutated(
    fc.oneof(Arbitrary.make(ConversationRow).map(asJson), Arbitrary.make(ConversationRowStrict).map(asJson)),
    Object.keys(ConversationRow.fields)
  )

  it.prop(
    "row, tolerant and strict: the fast decoder accepts and returns exactly what Effect does",
    [mutatedRows],
    ([input]) => {
      agreesWithEffect(ConversationRow, conversationRowDecoder)(input)
      agreesWithEffect(ConversationRowStrict, conversationRowStrictDecoder)(input)
    },
    { fastCheck: { numRuns: 300, seed: 4 } }
  )

  it.prop(
    "page: the same",
    [
      fc.oneof(
        fc.record(
          {
            success: fc.boolean(),
            message: fc.string(),
            data: fc.array(mutatedRows, { maxLength: 3 }),
            hasMore: fc.oneof(fc.boolean(), fc.jsonValue()),
            nextCursor: fc.oneof(fc.string(), fc.constant(null), fc.jsonValue())
          },
          { requiredKeys: ["success", "message"] }
        ),
        fc.jsonValue()
      )
    ],
    ([input]) => agreesWithEffect(ConversationListPage, conversationListPageDecoder)(input),
    { fastCheck: { numRuns: 300, seed: 5 } }
  )
})
