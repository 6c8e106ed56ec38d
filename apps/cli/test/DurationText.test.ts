import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as DurationText from "../src/DurationText.js"

describe("DurationText", () => {
  it("reads ms, s, m and h, with decimals", () => {
    assert.deepStrictEqual(DurationText.parse("500ms"), Either.right(500))
    assert.deepStrictEqual(DurationText.parse("2s"), Either.right(2000))
    assert.deepStrictEqual(DurationText.parse("1.5s"), Either.right(1500))
    assert.deepStrictEqual(DurationText.parse("1m"), Either.right(60_000))
    assert.deepStrictEqual(DurationText.parse(" 1h "), Either.right(3_600_000))
  })

  it("refuses a bare number, saying the unit is missing", () => {
    const result = DurationText.parse("30")
    assert.isTrue(Either.isLeft(result))
    assert.include(
      Either.getLeft(result).pipe((o) => (o._tag === "Some" ? o.value : "")),
      "has no unit"
    )
  })

  it("refuses zero, negatives and nonsense", () => {
    for (const text of ["0s", "-1s", "1d", "fast", "", "1 2s"])
      assert.isTrue(Either.isLeft(DurationText.parse(text)), text)
  })
})
