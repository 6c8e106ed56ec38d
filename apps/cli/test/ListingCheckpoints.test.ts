import { assert, describe, it } from "@effect/vitest"
import * as ListingCheckpoints from "../src/ListingCheckpoints.js"

describe("ListingCheckpoints", () => {
  it("moves only over a prefix of pages whose rows are all handled", () => {
    const checkpoints = ListingCheckpoints.make()
    const first = checkpoints.page(2, "c1")
    const second = checkpoints.page(1, "c2")
    const third = checkpoints.page(1, undefined)
    // A later page done first: no resume point yet, the first page still has rows in flight.
    checkpoints.handled(second)
    assert.strictEqual(checkpoints.advance(), undefined)
    checkpoints.handled(first)
    assert.strictEqual(checkpoints.advance(), undefined)
    checkpoints.handled(first)
    // The first and second pages are done: resume after the second.
    assert.strictEqual(checkpoints.advance(), "c2")
    assert.strictEqual(checkpoints.advance(), undefined)
    checkpoints.handled(third)
    // The last page (no next cursor) done: the whole listing is.
    assert.strictEqual(checkpoints.advance(), null)
  })

  it("an empty page is done as soon as the pages before it are", () => {
    const checkpoints = ListingCheckpoints.make()
    const first = checkpoints.page(1, "c1")
    checkpoints.page(0, "c2")
    checkpoints.handled(first)
    assert.strictEqual(checkpoints.advance(), "c2")
  })
})
