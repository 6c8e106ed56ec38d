import { assert, describe, it } from "@effect/vitest"
import { Excerpt } from "../src/index.js"

describe("Excerpt.quote", () => {
  it("quotes a short value whole, escaping what would break the line", () => {
    assert.strictEqual(Excerpt.quote("eu-west"), '"eu-west"')
    assert.strictEqual(Excerpt.quote("a\nb"), '"a\\nb"')
  })

  it("cuts a long value to its start and its length", () => {
    const quoted = Excerpt.quote("x".repeat(1_048_576))
    assert.strictEqual(quoted, `"${"x".repeat(64)}"…(1048576 chars)`)
    assert.strictEqual(Excerpt.quote("abcdef", 3), '"abc"…(6 chars)')
  })

  it("never cuts a character in half", () => {
    const quoted = Excerpt.quote(`${"x".repeat(63)}💬💬`)
    assert.strictEqual(quoted, `"${"x".repeat(63)}"…(67 chars)`)
  })

  it("cut leaves the quoting to the text around it", () => {
    assert.strictEqual(Excerpt.cut("latency"), "latency")
    assert.strictEqual(Excerpt.cut("abcdef", 3), "abc…(6 chars)")
  })
})
