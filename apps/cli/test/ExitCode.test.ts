import {
  AllRegionsFailed,
  BadRequest,
  Forbidden,
  InvalidInput,
  InvalidResponse,
  NotFound,
  RateLimited,
  Timeout,
  TransportError,
  Unauthorized,
  UpstreamServerError
} from "@convocore-effect/schema"
import { assert, describe, it } from "@effect/vitest"
import { InternalError, PartialExport, UsageError } from "../src/CliError.js"
import { ExitCode, ofError } from "../src/ExitCode.js"

const upstream = { region: "eu" as const, attempt: 1, message: "m", issues: [] }

describe("ExitCode", () => {
  it("maps every error to the code of docs/design.md", () => {
    assert.strictEqual(ofError(new InvalidInput({ field: "convoId", message: "m" })), ExitCode.usage)
    assert.strictEqual(ofError(new UsageError({ message: "m" })), 2)
    assert.strictEqual(ofError(new BadRequest({ ...upstream, status: 400 })), 2)
    assert.strictEqual(ofError(new NotFound({ ...upstream, status: 404 })), 3)
    assert.strictEqual(ofError(new Unauthorized({ ...upstream, status: 401 })), 4)
    assert.strictEqual(ofError(new Forbidden({ ...upstream, status: 403 })), 4)
    assert.strictEqual(ofError(new RateLimited({ ...upstream, status: 429 })), 5)
    assert.strictEqual(ofError(new UpstreamServerError({ ...upstream, status: 503 })), 6)
    assert.strictEqual(
      ofError(new TransportError({ region: "eu", attempt: 1, phase: "connect", message: "m" })),
      6
    )
    assert.strictEqual(ofError(new Timeout({ scope: "deadline", ms: 1, message: "m" })), 6)
    assert.strictEqual(
      ofError(new InvalidResponse({ region: "eu", attempt: 1, status: 200, reason: "schema", message: "m" })),
      7
    )
    assert.strictEqual(ofError(new PartialExport({ exported: 1, failed: 1, message: "m" })), 8)
    assert.strictEqual(ofError(new InternalError({ message: "m" })), 1)
  })

  it("says why all regions failed when they failed alike", () => {
    const failed = (
      outcomes: ReadonlyArray<"rate-limited" | "connect-failed" | "invalid-response" | "circuit-open">
    ) =>
      ofError(
        new AllRegionsFailed({
          message: "m",
          attempts: outcomes.map((outcome, i) => ({
            region: i % 2 === 0 ? "eu" : "na",
            attempt: i + 1,
            outcome,
            ms: 1
          }))
        })
      )
    assert.strictEqual(failed(["rate-limited", "rate-limited"]), 5)
    assert.strictEqual(failed(["circuit-open", "rate-limited"]), 5)
    assert.strictEqual(failed(["invalid-response", "invalid-response"]), 7)
    assert.strictEqual(failed(["connect-failed", "rate-limited"]), 6)
    assert.strictEqual(failed([]), 6)
  })
})
