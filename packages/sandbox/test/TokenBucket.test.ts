import { assert, describe, it } from "@effect/vitest"
import { TokenBucket } from "../src/index.js"

describe("TokenBucket", () => {
  it("lets a burst through, then limits with a retry-after that it honours", () => {
    let bucket = TokenBucket.make({ tokens: 5, periodMs: 1000, burst: 5 }, 0)
    for (let i = 0; i < 5; i++) {
      const [decision, next] = TokenBucket.take(bucket, 0)
      assert.strictEqual(decision._tag, "Allowed")
      bucket = next
    }
    const [limited, after] = TokenBucket.take(bucket, 0)
    assert.deepStrictEqual(limited, { _tag: "Limited", retryAfterMs: 200 })
    // One millisecond early is still too early...
    assert.strictEqual(TokenBucket.take(after, 199)[0]._tag, "Limited")
    // ...and at the promised time the token is there.
    assert.strictEqual(TokenBucket.take(after, 200)[0]._tag, "Allowed")
  })

  it("refills at the configured rate up to its capacity, never beyond", () => {
    const empty = TokenBucket.make({ tokens: 2, periodMs: 1000, burst: 2 }, 0)
    const [, one] = TokenBucket.take(empty, 0)
    const [, drained] = TokenBucket.take(one, 0)
    const [late] = TokenBucket.take(drained, 60_000)
    assert.deepStrictEqual(late, { _tag: "Allowed", remaining: 1 })
  })

  it("promises whole seconds in Retry-After, rounded up", () => {
    assert.strictEqual(TokenBucket.retryAfterSeconds(1), 1)
    assert.strictEqual(TokenBucket.retryAfterSeconds(1000), 1)
    assert.strictEqual(TokenBucket.retryAfterSeconds(1001), 2)
    // rate=3/10s: a token every 3.34 s, so Retry-After says 4.
    const bucket = TokenBucket.make({ tokens: 3, periodMs: 10_000, burst: 1 }, 0)
    const [, drained] = TokenBucket.take(bucket, 0)
    const [limited] = TokenBucket.take(drained, 0)
    assert.deepStrictEqual(limited, { _tag: "Limited", retryAfterMs: 3334 })
    assert.strictEqual(TokenBucket.retryAfterSeconds(3334), 4)
  })
})
