import {
  ConversationListPage,
  ConversationListPageStrict,
  conversationRowKeys,
  Drift
} from "@convocore-effect/schema"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it, layer } from "@effect/vitest"
import { Duration, Effect, Either, Fiber, Option, Schema, TestClock } from "effect"
import { Fixtures, Listing, Sandbox } from "../src/index.js"
import { causeCode, convo, list, pick } from "./services/Http.js"
import { fetchInProcess, inProcess } from "./services/InProcess.js"
import { rows, walk } from "./services/Pages.js"

const euUrl = Effect.map(Sandbox.Endpoints, ({ urls }) => urls.eu)
const json = (text: string): unknown => JSON.parse(text)
/** A page's rows, as raw JSON values. */
const dataOf = (page: unknown): ReadonlyArray<unknown> => {
  const data = pick(page, "data")
  return Array.isArray(data) ? data : []
}

describe("the list route, in-process", () => {
  it.effect(
    "walks an agent's 45 conversations in pages of 20, newest first, each id served by the get route",
    () =>
      Effect.gen(function* () {
        const base = yield* euUrl
        const pages = yield* walk(fetchInProcess, base, "agent-walk")
        assert.deepStrictEqual(
          pages.map((page) => [page.data?.length, page.hasMore, page.limit, page.cached]),
          [
            [20, true, 20, false],
            [20, true, 20, false],
            [5, false, 20, false]
          ]
        )
        const listed = rows(pages)
        assert.strictEqual(new Set(listed.map((row) => row.ID)).size, 45)
        for (const [i, row] of listed.entries()) {
          const got = yield* fetchInProcess(convo(base, "agent-walk", row.ID ?? ""))
          assert.strictEqual(got.status, 200)
          const document = pick(json(got.text), "data")
          // The row is the document's projection: every key it has, with the document's value.
          for (const [key, value] of Object.entries(row))
            assert.deepStrictEqual(value, pick(document, key), key)
          const missing = conversationRowKeys.filter(
            (key) => !(key in row) && pick(document, key) !== undefined
          )
          assert.deepStrictEqual(
            missing.filter((key) => key !== "summary" && key !== "capturedVariables"),
            [],
            "only summary and capturedVariables are left out"
          )
          if (i > 0) assert.isBelow(row.ts ?? 0, listed[i - 1]?.ts ?? 0)
        }
      }).pipe(Effect.provide(inProcess({ conversations: { "agent-walk": 45 } })))
  )

  it.effect("an agent with 10,000 conversations: the page at position 9,980 is the last, a full one", () =>
    Effect.gen(function* () {
      const base = yield* euUrl
      const first = json((yield* fetchInProcess(list(base, "agent-big"))).text)
      assert.strictEqual(pick(first, "hasMore"), true)
      const last = json(
        (yield* fetchInProcess(list(base, "agent-big", `cursor=${Listing.cursorAt(1, "agent-big", 9_980)}`)))
          .text
      )
      assert.deepStrictEqual([pick(last, "hasMore"), pick(last, "nextCursor")], [false, null])
      const lastRows = dataOf(last)
      assert.strictEqual(lastRows.length, 20)
      assert.strictEqual(pick(lastRows[19], "ID"), Listing.listedId(1, "agent-big", 9_999))
      const empty = json((yield* fetchInProcess(list(base, "agent-none"))).text)
      assert.deepStrictEqual(empty, {
        success: true,
        message: "Conversations retrieved successfully",
        data: [],
        hasMore: false,
        nextCursor: null,
        limit: 20,
        cached: false
      })
    }).pipe(Effect.provide(inProcess({ conversationsPerAgent: 10_000, conversations: { "agent-none": 0 } })))
  )
})

layer(inProcess())("the list route's query, in-process (seed 1)", (it) => {
  it.effect("clamps limit to 1..20 and says so in the page; refuses a limit that is not a number", () =>
    Effect.gen(function* () {
      const base = yield* euUrl
      for (const [query, rowsExpected] of [
        ["limit=0", 1],
        ["limit=-4", 1],
        ["limit=7", 7],
        ["limit=7.9", 7],
        ["limit=50", 20],
        ["", 20]
      ] as const) {
        const page = json((yield* fetchInProcess(list(base, "agent-l", query))).text)
        assert.deepStrictEqual([query, pick(page, "limit")], [query, rowsExpected])
        assert.strictEqual(dataOf(page).length, rowsExpected, query)
      }
      const invalid = yield* fetchInProcess(list(base, "agent-l", "limit=ten"))
      assert.strictEqual(invalid.status, 400)
      assert.deepStrictEqual(pick(json(invalid.text), "issues"), [
        { message: 'Expected number, received "ten"', path: ["limit"], code: "invalid_type" }
      ])
    })
  )

  it.effect(
    "refuses page > 1 without a cursor with a tRPC-style 400; page 1, or a page with a cursor, is served",
    () =>
      Effect.gen(function* () {
        const base = yield* euUrl
        const refused = yield* fetchInProcess(list(base, "agent-p", "page=2&limit=20"))
        assert.strictEqual(refused.status, 400)
        const body = json(refused.text)
        assert.strictEqual(pick(body, "code"), "BAD_REQUEST")
        assert.include(String(pick(body, "message")), "nextCursor")
        assert.deepStrictEqual(pick(body, "issues"), [
          { message: "Use cursor to ask for the next page", path: ["page"], code: "custom" }
        ])
        const first = yield* fetchInProcess(list(base, "agent-p", "page=1"))
        assert.strictEqual(first.status, 200)
        const cursor = String(pick(json(first.text), "nextCursor"))
        const second = yield* fetchInProcess(list(base, "agent-p", `page=2&cursor=${cursor}`))
        assert.strictEqual(second.status, 200)
        assert.strictEqual(
          second.text,
          (yield* fetchInProcess(list(base, "agent-p", `cursor=${cursor}`))).text
        )
        assert.strictEqual((yield* fetchInProcess(list(base, "agent-p", "page=two"))).status, 400)
      })
  )

  it.effect(
    "refuses a forged cursor, another agent's, or another seed's; the same cursor gives the same page",
    () =>
      Effect.gen(function* () {
        const base = yield* euUrl
        const cursor = String(pick(json((yield* fetchInProcess(list(base, "agent-c"))).text), "nextCursor"))
        const again = yield* fetchInProcess(list(base, "agent-c", `cursor=${cursor}`))
        assert.strictEqual(
          (yield* fetchInProcess(list(base, "agent-c", `cursor=${cursor}`))).text,
          again.text
        )
        for (const [agent, bad] of [
          ["agent-c", "not-a-cursor"],
          ["agent-c", ""],
          ["agent-other", cursor],
          ["agent-c", Listing.cursorAt(2, "agent-c", 20)]
        ] as const) {
          const got = yield* fetchInProcess(list(base, agent, `cursor=${encodeURIComponent(bad)}`))
          assert.strictEqual(got.status, 400, `${agent} ${bad}`)
          assert.deepStrictEqual(json(got.text), {
            message: "Invalid cursor",
            code: "BAD_REQUEST",
            issues: [{ message: "Unknown or expired cursor", path: ["cursor"], code: "custom" }]
          })
        }
      })
  )

  it.effect("needs the bearer key, answers 405 to other methods, 404 where the agent is not stored", () =>
    Effect.gen(function* () {
      const { urls } = yield* Sandbox.Endpoints
      const client = yield* HttpClient.HttpClient
      const unauthorized = yield* client.execute(HttpClientRequest.get(list(urls.eu, "agent-a")))
      assert.strictEqual(unauthorized.status, 401)
      const post = yield* client.execute(
        HttpClientRequest.post(list(urls.eu, "agent-a")).pipe(
          HttpClientRequest.bearerToken(Fixtures.demoApiKey)
        )
      )
      assert.strictEqual(post.status, 405)
      const elsewhere = yield* fetchInProcess(list(urls.na, Fixtures.euOnlyAgent))
      assert.strictEqual(elsewhere.status, 404)
      assert.deepStrictEqual(json(elsewhere.text), { message: "Agent not found", code: "NOT_FOUND" })
      assert.strictEqual((yield* fetchInProcess(list(urls.eu, Fixtures.euOnlyAgent))).status, 200)
    })
  )
})

describe("the list route meets the region's faults", () => {
  it.effect("one token bucket per region, shared by the list and get routes", () =>
    Effect.gen(function* () {
      const { urls } = yield* Sandbox.Endpoints
      assert.strictEqual((yield* fetchInProcess(convo(urls.eu, "agent-r", "c1"))).status, 200)
      assert.strictEqual((yield* fetchInProcess(list(urls.eu, "agent-r"))).status, 200)
      const limited = yield* fetchInProcess(list(urls.eu, "agent-r"))
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(limited.headers["retry-after"], "1")
      assert.strictEqual(pick(json(limited.text), "code"), "TOO_MANY_REQUESTS")
      assert.strictEqual((yield* fetchInProcess(convo(urls.eu, "agent-r", "c1"))).status, 429)
      assert.strictEqual(
        (yield* fetchInProcess(list(urls.na, "agent-r"))).status,
        200,
        "NA has its own faults"
      )
      yield* TestClock.adjust("500 millis")
      assert.strictEqual((yield* fetchInProcess(list(urls.eu, "agent-r"))).status, 200)
    }).pipe(Effect.provide(inProcess({ faults: { eu: "rate=2/s" } })))
  )

  it.effect("drift: rows carry the live row's funnel keys, a null summary and an off-spec state", () =>
    Effect.gen(function* () {
      const page = json((yield* fetchInProcess(list(yield* euUrl, "agent-d", "limit=3"))).text)
      assert.isTrue(Either.isRight(Schema.decodeUnknownEither(ConversationListPage)(page)))
      assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(ConversationListPageStrict)(page)))
      const drift = Drift.listPageDrift(page).map((entry) => `${entry.kind}:${entry.path}`)
      assert.includeMembers(drift, [
        "off-spec-enum:data[0].state",
        "unexpected-null:data[2].summary",
        "unknown-key:data[1].leadScore",
        "unknown-key:data[2].funnelNotificationSent"
      ])
      assert.strictEqual((yield* (yield* Sandbox.Sandbox).counters("eu")).byOutcome.drift, 1)
    }).pipe(Effect.provide(inProcess({ faults: { eu: "drift" } })))
  )

  it.effect("broken-primitive: even the tolerant page refuses, naming the row", () =>
    Effect.gen(function* () {
      const page = json((yield* fetchInProcess(list(yield* euUrl, "agent-b"))).text)
      const decoded = Schema.decodeUnknownEither(ConversationListPage)(page)
      assert.isTrue(Either.isLeft(decoded))
      if (Either.isLeft(decoded))
        for (const step of ['["data"]', "[0]", '["messagesNum"]']) assert.include(decoded.left.message, step)
    }).pipe(Effect.provide(inProcess({ faults: { eu: "broken-primitive" } })))
  )

  it.effect("status, malformed, content type, truncation, down and hang apply as on the get route", () =>
    Effect.gen(function* () {
      const base = yield* euUrl
      const url = list(base, "agent-f")
      const status = yield* fetchInProcess(url, { "x-sandbox-fault": "status=503,retry-after=2s" })
      assert.deepStrictEqual([status.status, status.headers["retry-after"]], [503, "2"])
      const malformed = yield* fetchInProcess(url, { "x-sandbox-fault": "malformed" })
      assert.strictEqual(malformed.status, 200)
      assert.throws(() => JSON.parse(malformed.text))
      const html = yield* fetchInProcess(url, { "x-sandbox-fault": "content-type=text/html" })
      assert.strictEqual(html.headers["content-type"], "text/html")
      assert.strictEqual(
        (yield* Effect.flip(fetchInProcess(url, { "x-sandbox-fault": "truncated" })))._tag,
        "ResponseError"
      )
      const refused = yield* Effect.flip(fetchInProcess(url, { "x-sandbox-fault": "down" }))
      assert.strictEqual(causeCode(refused), "ECONNREFUSED")
      const hung = yield* Effect.fork(
        Effect.timeoutOption(fetchInProcess(url, { "x-sandbox-fault": "hang" }), Duration.seconds(5))
      )
      yield* TestClock.adjust("5 seconds")
      assert.isTrue(Option.isNone(yield* Fiber.join(hung)))
      const slow = yield* Effect.fork(fetchInProcess(url, { "x-sandbox-fault": "latency=3s" }))
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual((yield* Fiber.join(slow)).status, 200)
      const byOutcome = (yield* (yield* Sandbox.Sandbox).counters("eu")).byOutcome
      assert.deepStrictEqual(
        [
          byOutcome.status,
          byOutcome.malformed,
          byOutcome["content-type"],
          byOutcome.truncated,
          byOutcome.refused,
          byOutcome.hang,
          byOutcome.ok
        ],
        [1, 1, 1, 1, 1, 1, 1]
      )
    }).pipe(Effect.provide(inProcess()))
  )
})
