/**
 * Per-region truth: Convocore stores data per region, so a 404 proves absence only from the region the
 * call chose first (or, under `auto`, from both). A region reached only because the first failed cannot
 * say a conversation does not exist.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { Convocore } from "../src/index.js"
import { outline, runTraced } from "./services/Run.js"
import { clientLayer, errorReply, ref, type Script } from "./services/ScriptedTransport.js"

const tagOf = (result: Either.Either<unknown, { readonly _tag: string }>) =>
  Either.match(result, { onLeft: (error) => error._tag, onRight: () => "ok" })

const notFound = () => errorReply(404, "NOT_FOUND")

describe("a 404 from a region reached by failing over", () => {
  const cases: ReadonlyArray<readonly [string, Script, ReadonlyArray<string>]> = [
    [
      "EU 503 twice, NA 404",
      (region) => (region === "eu" ? errorReply(503) : notFound()),
      ["eu:server-error", "eu:server-error", "na:not-found"]
    ],
    [
      "EU refuses the connection, NA 404",
      (region) => (region === "eu" ? "refused" : notFound()),
      ["eu:connect-failed", "na:not-found"]
    ],
    [
      "EU times out, NA 404",
      (region) => (region === "eu" ? "hang" : notFound()),
      ["eu:timeout", "na:not-found"]
    ],
    [
      "EU 429 with a hint past the cap, NA 404",
      (region) => (region === "eu" ? errorReply(429, undefined, { "retry-after": "3600" }) : notFound()),
      ["eu:rate-limited", "na:not-found"]
    ]
  ]
  for (const [name, script, trail] of cases) {
    it.effect(`${name}: AllRegionsFailed with the whole trail, not NotFound`, () => {
      const { layer } = clientLayer(script)
      return Effect.gen(function* () {
        const { result, attempts } = yield* runTraced()
        assert.strictEqual(tagOf(result), "AllRegionsFailed")
        assert.deepStrictEqual(outline(attempts), trail)
        if (Either.isLeft(result) && result.left._tag === "AllRegionsFailed") {
          assert.deepStrictEqual(outline(result.left.attempts), trail)
        }
      }).pipe(Effect.provide(layer))
    })
  }

  it.effect("EU 503 then its own 404 on the retry: NotFound (the first choice answered)", () => {
    const { layer } = clientLayer((region, n) => (region === "eu" && n === 1 ? errorReply(503) : notFound()))
    return Effect.gen(function* () {
      const { result, attempts } = yield* runTraced()
      assert.strictEqual(tagOf(result), "NotFound")
      assert.deepStrictEqual(outline(attempts), ["eu:server-error", "eu:not-found"])
    }).pipe(Effect.provide(layer))
  })

  it.effect("EU's breaker open, so the call starts in NA, and NA says 404: AllRegionsFailed", () => {
    const { layer } = clientLayer((region) => (region === "eu" ? "refused" : notFound()), {
      breakerThreshold: 1
    })
    return Effect.gen(function* () {
      const convocore = yield* Convocore
      // Both calls end at once (a refusal and a 404), with no clock moved: EU's cool-down is still running.
      yield* convocore.getConversationWithTrail(ref)
      const { result, attempts } = yield* convocore.getConversationWithTrail(ref)
      assert.deepStrictEqual(outline(attempts), ["eu:circuit-open", "na:not-found"])
      assert.strictEqual(tagOf(result), "AllRegionsFailed")
    }).pipe(Effect.provide(layer))
  })

  it.effect("auto: EU 503 twice, NA 404 is AllRegionsFailed; EU 404 and NA 404 is NotFound", () => {
    const failing = clientLayer((region) => (region === "eu" ? errorReply(503) : notFound()), {
      regionPolicy: "auto"
    })
    const absent = clientLayer(() => notFound(), { regionPolicy: "auto" })
    return Effect.gen(function* () {
      const first = yield* runTraced().pipe(Effect.provide(failing.layer))
      assert.strictEqual(tagOf(first.result), "AllRegionsFailed")
      const second = yield* runTraced().pipe(Effect.provide(absent.layer))
      assert.strictEqual(tagOf(second.result), "NotFound")
      assert.deepStrictEqual(outline(second.attempts), ["eu:not-found", "na:not-found"])
    })
  })

  it.effect("pinned to NA: NA's 404 is its own answer, NotFound", () => {
    const { layer } = clientLayer(() => notFound(), { region: "na", regionPolicy: "pinned" })
    return Effect.gen(function* () {
      const { result } = yield* runTraced()
      assert.strictEqual(tagOf(result), "NotFound")
    }).pipe(Effect.provide(layer))
  })
})
