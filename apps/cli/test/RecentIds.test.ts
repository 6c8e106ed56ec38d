import { assert, describe, it } from "@effect/vitest"
import * as RecentIds from "../src/RecentIds.js"

describe("RecentIds", () => {
  it("keeps every id since the last settle, and the latest `keep` of those before", () => {
    const ids = RecentIds.make(2)
    for (const id of ["a", "b", "c", "d"]) ids.add(id)
    assert.isTrue(["a", "b", "c", "d"].every(ids.has))
    ids.settle()
    assert.deepStrictEqual(
      ["a", "b", "c", "d"].filter((id) => ids.has(id)),
      ["c", "d"]
    )
    ids.add("e")
    ids.add("c")
    ids.settle()
    // "c" was added again, so it is among the latest.
    assert.deepStrictEqual(
      ["a", "b", "c", "d", "e"].filter((id) => ids.has(id)),
      ["c", "e"]
    )
  })
})
