import { readFileSync } from "node:fs"
import { AllRegionsFailed, NotFound, RateLimited } from "@convocore-effect/schema"
import { assert, describe, it } from "@effect/vitest"
import * as ErrorReport from "../src/ErrorReport.js"
import { version } from "../src/version.js"

describe("ErrorReport", () => {
  it("names an id whole up to the longest valid id, and cuts a longer one", () => {
    const valid = "v".repeat(512)
    assert.strictEqual(ErrorReport.subject(valid), JSON.stringify(valid))
    const huge = ErrorReport.subject("x".repeat(1_048_576))
    assert.isBelow(huge.length, 600)
    assert.isTrue(huge.endsWith("…(1048576 chars)"))
  })

  it("writes one line naming the status, code and region", () => {
    const error = new NotFound({
      region: "na",
      attempt: 2,
      status: 404,
      code: "NOT_FOUND",
      message: "Conversation not found",
      issues: [],
      requestId: "req-1"
    })
    assert.strictEqual(
      ErrorReport.line(error, "text"),
      "convocore: not found: Conversation not found (HTTP 404 NOT_FOUND, region na) [request req-1]"
    )
    assert.deepStrictEqual(JSON.parse(ErrorReport.line(error, "json")), {
      _tag: "NotFound",
      region: "na",
      attempt: 2,
      status: 404,
      code: "NOT_FOUND",
      message: "Conversation not found",
      issues: [],
      requestId: "req-1"
    })
  })

  it("gives the retry-after hint of a 429", () => {
    const error = new RateLimited({
      region: "eu",
      attempt: 1,
      status: 429,
      message: "slow down",
      issues: [],
      retryAfterMs: 1500
    })
    assert.match(ErrorReport.message(error), /retry after 2 s$/)
  })

  it("prints an attempt of the trail", () => {
    const error = new AllRegionsFailed({
      message: "m",
      attempts: [{ region: "eu", attempt: 1, outcome: "connect-failed", ms: 2.4 }]
    })
    assert.strictEqual(
      ErrorReport.attemptLine(error.attempts[0]!),
      "convocore: attempt 1 region eu: connect-failed (2 ms)"
    )
    assert.strictEqual(
      ErrorReport.attemptLine(error.attempts[0]!, "a b"),
      'convocore: "a b" attempt 1 region eu: connect-failed (2 ms)'
    )
  })

  it("reports the version of package.json", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
    assert.strictEqual(version, pkg.version)
  })
})
