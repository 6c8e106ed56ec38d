import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { backoffMs, classifyStatus, quotaResetAt, retryAfterMs } from "../src/RetryPolicy.js"
import { userAgent, version } from "../src/version.js"

describe("RetryPolicy", () => {
  it("rate-limit headers: the reset time when the quota is spent, undefined otherwise", () => {
    const now = 1_000_000
    const rows: ReadonlyArray<readonly [Record<string, string>, number | undefined]> = [
      [{ "ratelimit-remaining": "0", "ratelimit-reset": "3" }, now + 3000],
      [{ ratelimit: '"default";r=0;t=7' }, now + 7000],
      [{ ratelimit: '"default";t=7;r=0' }, now + 7000],
      [{ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "2" }, now + 2000],
      // A Unix time in seconds, as GitHub sends it.
      [{ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000000" }, 1_700_000_000_000],
      [{ "ratelimit-remaining": "5", "ratelimit-reset": "3" }, undefined],
      [{ "ratelimit-remaining": "0" }, undefined],
      [{ "ratelimit-remaining": "none", "ratelimit-reset": "3" }, undefined],
      [{}, undefined]
    ]
    for (const [headers, expected] of rows) assert.strictEqual(quotaResetAt(headers, now), expected)
  })

  it("backoff is min(500 ms x 2^n, 8 s), jittered within its upper half", () => {
    const ceilings = [500, 1000, 2000, 4000, 8000, 8000, 8000]
    ceilings.forEach((ceiling, n) => {
      assert.strictEqual(backoffMs(n, 500, 8000, 0), ceiling / 2)
      assert.closeTo(backoffMs(n, 500, 8000, 0.999999), ceiling, 0.01)
    })
  })

  it("Retry-After: retry-after-ms first, then seconds, then an HTTP date", () => {
    assert.strictEqual(retryAfterMs({ "retry-after-ms": "1500", "retry-after": "9" }, 0), 1500)
    assert.strictEqual(retryAfterMs({ "retry-after": "3" }, 0), 3000)
    assert.strictEqual(
      retryAfterMs({ "retry-after": "Wed, 21 Oct 2015 07:28:05 GMT" }, Date.UTC(2015, 9, 21, 7, 28, 0)),
      5000
    )
    assert.strictEqual(
      retryAfterMs({ "retry-after": "Wed, 21 Oct 2015 07:28:05 GMT" }, Date.UTC(2016, 0, 1)),
      0
    )
    assert.strictEqual(retryAfterMs({ "retry-after": "soon" }, 0), undefined)
    assert.strictEqual(retryAfterMs({}, 0), undefined)
  })

  it("a Retry-After too large for a double is the largest safe integer, never Infinity", () => {
    const huge = "9".repeat(400)
    assert.strictEqual(retryAfterMs({ "retry-after": huge }, 0), Number.MAX_SAFE_INTEGER)
    assert.strictEqual(retryAfterMs({ "retry-after-ms": huge }, 0), Number.MAX_SAFE_INTEGER)
    assert.strictEqual(retryAfterMs({ "retry-after": "1e3" }, 0), undefined)
  })

  it("a known code wins over the status", () => {
    assert.deepStrictEqual(classifyStatus(500, "TOO_MANY_REQUESTS"), {
      outcome: "rate-limited",
      kind: "retryable"
    })
    assert.deepStrictEqual(classifyStatus(500, "TIMEOUT"), { outcome: "server-error", kind: "retryable" })
    assert.deepStrictEqual(classifyStatus(500, "NOT_FOUND"), { outcome: "not-found", kind: "not-found" })
    assert.deepStrictEqual(classifyStatus(500, "SOMETHING_NEW"), {
      outcome: "server-error",
      kind: "retryable"
    })
    assert.deepStrictEqual(classifyStatus(409, undefined), { outcome: "bad-request", kind: "final" })
    assert.deepStrictEqual(classifyStatus(505, undefined), { outcome: "server-error", kind: "final" })
  })

  it("the User-Agent names the package and the version of package.json", () => {
    const pkg: unknown = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
    assert.isTrue(typeof pkg === "object" && pkg !== null && "version" in pkg && pkg.version === version)
    assert.strictEqual(userAgent, `convocore-effect/${version}`)
  })
})
