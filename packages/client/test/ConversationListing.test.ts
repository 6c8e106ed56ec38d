/**
 * `listConversations` / `listConversationPages` over the scripted transport (paging, resuming, `max`,
 * pages retried and failed like any call) and over `layerMemory`. The sandbox's own list route is
 * exercised in SandboxListing.test.ts.
 */
import { type Conversation, seedExampleResponse } from "@convocore-effect/schema"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Stream, TestClock, type Tracer } from "effect"
import { Convocore, type ListedRow, RateController } from "../src/index.js"
import { recordingTracer } from "./services/RecordingTracer.js"
import { clientLayer, errorReply, json, ok, type Reply, ref } from "./services/ScriptedTransport.js"

/** Five rows over three pages of two: cursors `c2` and `c3` lead to the second and third. */
const pages: Record<string, { ids: ReadonlyArray<string>; next: string | null }> = {
  first: { ids: ["r1", "r2"], next: "c2" },
  c2: { ids: ["r3", "r4"], next: "c3" },
  c3: { ids: ["r5"], next: null }
}

const pageReply = (url: URL): Reply => {
  const page = pages[url.searchParams.get("cursor") ?? "first"]
  if (page === undefined) return errorReply(400, "BAD_REQUEST")
  return json(200, {
    success: true,
    message: "Conversations retrieved successfully",
    data: page.ids.map((ID) => ({ ID, ts: 1 })),
    hasMore: page.next !== null,
    nextCursor: page.next,
    limit: 2,
    cached: false
  })
}

const isList = (url: URL) => url.pathname.endsWith("/convos")

/** Runs a stream to its end under the test clock; its elements, and how it ended. */
const drain = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(Stream.runCollect(Stream.either(stream)))
    yield* TestClock.adjust("10 minutes")
    const items = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
    return {
      values: items.flatMap((item) => (Either.isRight(item) ? [item.right] : [])),
      error: items.flatMap((item) => (Either.isLeft(item) ? [item.left] : []))[0]
    }
  })

const ids = (rows: ReadonlyArray<ListedRow>) => rows.map((r) => r.row.ID)

describe("Convocore.listConversations", () => {
  it.effect("follows nextCursor until hasMore is false, never sending page", () => {
    const { sent, layer } = clientLayer((_, __, url) => pageReply(url))
    return Effect.gen(function* () {
      const convocore = yield* Convocore
      const { values, error } = yield* drain(convocore.listConversations("agent123", { limit: 2 }))
      assert.isUndefined(error)
      assert.deepStrictEqual(ids(values), ["r1", "r2", "r3", "r4", "r5"])
      assert.deepStrictEqual(
        sent.map((s) => s.url.search),
        ["?limit=2", "?cursor=c2&limit=2", "?cursor=c3&limit=2"]
      )
      assert.isTrue(sent.every((s) => !s.url.searchParams.has("page")))
      // Each row says where its page started, where the next one starts, and whether it ends its page.
      assert.deepStrictEqual(
        values.map((r) => [r.cursor ?? "-", r.nextCursor ?? "-", r.lastOfPage]),
        [
          ["-", "c2", false],
          ["-", "c2", true],
          ["c2", "c3", false],
          ["c2", "c3", true],
          ["c3", "-", true]
        ]
      )
    }).pipe(Effect.provide(layer))
  })

  it.effect("starts from a saved cursor; max stops early, asking the last page for what is left", () => {
    const { sent, layer } = clientLayer((_, __, url) => pageReply(url))
    return Effect.gen(function* () {
      const convocore = yield* Convocore
      const resumed = yield* drain(convocore.listConversations("agent123", { cursor: "c2" }))
      assert.deepStrictEqual(ids(resumed.values), ["r3", "r4", "r5"])
      assert.strictEqual(sent[0]?.url.searchParams.get("cursor"), "c2")
      sent.length = 0
      const capped = yield* drain(convocore.listConversations("agent123", { limit: 2, max: 3 }))
      assert.deepStrictEqual(ids(capped.values), ["r1", "r2", "r3"])
      assert.deepStrictEqual(
        sent.map((s) => s.url.searchParams.get("limit")),
        ["2", "1"]
      )
    }).pipe(Effect.provide(layer))
  })

  it.effect("a page is retried like any call, and list pages share the rate controller with gets", () => {
    // The second page's first answer is a 429, then every page answers.
    const { sent, layer } = clientLayer((_, n, url) =>
      n === 2
        ? errorReply(429, "TOO_MANY_REQUESTS", { "retry-after": "1" })
        : isList(url)
          ? pageReply(url)
          : json(200, seedExampleResponse)
    )
    return Effect.gen(function* () {
      const convocore = yield* Convocore
      const { values, error } = yield* drain(
        convocore.listConversationPages("agent123", { regionPolicy: "pinned" })
      )
      assert.isUndefined(error)
      assert.strictEqual(values.length, 3)
      assert.deepStrictEqual(
        sent.map((s) => s.url.searchParams.get("cursor")),
        [null, "c2", "c2", "c3"]
      )
      assert.strictEqual(sent[2]!.at - sent[1]!.at, 1000)
      yield* convocore.getConversation(ref)
      const stats = (yield* RateController).stats("eu")
      assert.deepStrictEqual([stats.sent, stats.throttled, stats.accepted], [5, 1, 4])
    }).pipe(Effect.provide(layer))
  })

  it.effect("a page that fails ends the stream with its typed error, after the rows before it", () => {
    const { layer } = clientLayer((_, __, url) =>
      url.searchParams.get("cursor") === "c2" ? errorReply(401, "UNAUTHORIZED") : pageReply(url)
    )
    return Effect.gen(function* () {
      const convocore = yield* Convocore
      const { values, error } = yield* drain(convocore.listConversations("agent123"))
      assert.deepStrictEqual(ids(values), ["r1", "r2"])
      assert.strictEqual(error?._tag, "Unauthorized")
      // The resume point: the last row written ended its page, so listing resumes at its nextCursor.
      const last = values.at(-1)
      assert.isTrue(last?.lastOfPage === true && last.nextCursor === "c2")
    }).pipe(Effect.provide(layer))
  })

  const unusable: ReadonlyArray<readonly [string, unknown, string]> = [
    ["hasMore without a nextCursor", { success: true, message: "", data: [], hasMore: true }, "nextCursor"],
    [
      "a nextCursor that repeats the page's own",
      { success: true, message: "", data: [], hasMore: true, nextCursor: "c2" },
      "nextCursor"
    ],
    ["success false", { success: false, message: "nope", data: [] }, "success"],
    ["no data", { success: true, message: "" }, "data"]
  ]
  for (const [name, body, path] of unusable) {
    it.effect(`an unusable page is an InvalidResponse: ${name}`, () => {
      const { layer } = clientLayer(() => json(200, body))
      return Effect.gen(function* () {
        const convocore = yield* Convocore
        const { error } = yield* drain(convocore.listConversations("agent123", { cursor: "c2" }))
        assert.isTrue(error?._tag === "InvalidResponse" && error.path === path)
      }).pipe(Effect.provide(layer))
    })
  }

  it.effect("an invalid agent, cursor or max is refused before anything is sent", () => {
    const { sent, layer } = clientLayer((_, __, url) => pageReply(url))
    return Effect.gen(function* () {
      const convocore = yield* Convocore
      const refusals = [
        (yield* drain(convocore.listConversations(""))).error,
        (yield* drain(convocore.listConversations("agent123", { cursor: "" }))).error,
        (yield* drain(convocore.listConversations("agent123", { max: -1 }))).error
      ]
      assert.deepStrictEqual(
        refusals.map((e) => (e?._tag === "InvalidInput" ? e.field : e?._tag)),
        ["agentId", "cursor", "max"]
      )
      assert.strictEqual(sent.length, 0)
    }).pipe(Effect.provide(layer))
  })
})

describe("Convocore.layerMemory listing", () => {
  const documents = Object.fromEntries(
    Array.from({ length: 5 }, (_, i): [string, Conversation] => [`m${i}`, { ID: `m${i}` }])
  )

  it.effect("pages the map's documents in its order, resumable from a row's cursor", () =>
    Effect.gen(function* () {
      const convocore = yield* Convocore
      const all = yield* drain(convocore.listConversations("agent123", { limit: 2 }))
      assert.deepStrictEqual(ids(all.values), ["m0", "m1", "m2", "m3", "m4"])
      const resumed = yield* drain(
        convocore.listConversations("agent123", { limit: 2, cursor: all.values[2]?.cursor })
      )
      assert.deepStrictEqual(ids(resumed.values), ["m2", "m3", "m4"])
      const missing = yield* drain(convocore.listConversations("nobody"))
      assert.strictEqual(missing.error?._tag, "NotFound")
      const badCursor = yield* drain(convocore.listConversations("agent123", { cursor: "elsewhere" }))
      assert.strictEqual(badCursor.error?._tag, "BadRequest")
    }).pipe(Effect.provide(Convocore.layerMemory({ agent123: documents })))
  )
})

describe("list pages and rate waits as spans", () => {
  it.effect(
    "each page is a Convocore.listPage span when a tracer listens; a wait for the rate, a Convocore.rateWait",
    () => {
      const { layer } = clientLayer((_, __, url) => (isList(url) ? pageReply(url) : ok()), { maxRate: 1 })
      return Effect.gen(function* () {
        const spans: Array<Tracer.Span> = []
        const tracer = yield* recordingTracer(spans)
        const convocore = yield* Convocore
        yield* drain(convocore.listConversations("agent123", { limit: 2 })).pipe(Effect.withTracer(tracer))
        const pageSpans = spans.filter((span) => span.name === "Convocore.listPage")
        assert.strictEqual(pageSpans.length, 3)
        assert.deepStrictEqual(
          pageSpans.map((span) => span.attributes.get("convocore.page.rows")),
          [2, 2, 1]
        )
        // At most one request a second: the later pages waited for the rate.
        assert.isAtLeast(spans.filter((span) => span.name === "Convocore.rateWait").length, 1)
      }).pipe(Effect.provide(layer))
    }
  )
})
