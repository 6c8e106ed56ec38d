/**
 * The transport's two ways of answering, over a stub dispatcher: at the head (the platform's usual way,
 * the body read when asked), and with the body already read when the attempt offers a limit that reads
 * it whole (`AttemptLimit.readsWholeBody`). Every accessor must give the same bytes either way, and a
 * body that fails must fail its reads as a `ResponseError`.
 */
import { Readable } from "node:stream"
import { type HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Stream } from "effect"
import type { Dispatcher } from "undici"
import { type AttemptLimit, AttemptLimitExceeded, offer } from "../src/AttemptLimit.js"
import * as UndiciTransport from "../src/UndiciTransport.js"

const text = '{"success":true}'

/** A dispatcher answering 200 with `body`, and counting the body reads begun before the head was handed over. */
const stubDispatcher = (body: () => Readable) => {
  const stats = { requests: 0 }
  const dispatcher: UndiciTransport.RequestDispatcher = {
    request: async () => {
      stats.requests++
      const stream = body()
      // undici's body is a Readable with the web body mixin; the transport reads it by `arrayBuffer`.
      const mixin = Object.assign(stream, {
        arrayBuffer: async () => {
          const chunks: Array<Buffer> = []
          for await (const chunk of stream) chunks.push(Buffer.from(chunk))
          const all = Buffer.concat(chunks)
          return all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength)
        }
      })
      return {
        statusCode: 200,
        headers: { "content-type": "application/json" },
        body: mixin
      } as unknown as Dispatcher.ResponseData
    }
  }
  return { dispatcher, stats }
}

const request = HttpClientRequest.get("http://stub.invalid/v3/x")
const limitOf = (ms: number, readsWholeBody: boolean): AttemptLimit => ({
  ms,
  readsWholeBody,
  honoured: false
})

const readAll = (client: HttpClient.HttpClient) =>
  Effect.gen(function* () {
    const response = yield* client.execute(request)
    const bytes = new TextDecoder().decode(yield* response.arrayBuffer)
    const asText = yield* response.text
    const streamed = yield* Stream.runCollect(response.stream)
    const fromStream = new TextDecoder().decode(Buffer.concat(Chunk.toArray(streamed)))
    return { bytes, asText, fromStream }
  })

describe("UndiciTransport", () => {
  for (const readsWholeBody of [false, true]) {
    it.live(`gives the same bytes to every accessor (body read first: ${readsWholeBody})`, () =>
      Effect.gen(function* () {
        const { dispatcher } = stubDispatcher(() =>
          Readable.from([Buffer.from(text.slice(0, 5)), Buffer.from(text.slice(5))])
        )
        const client = UndiciTransport.make(dispatcher)
        const limit = limitOf(5_000, readsWholeBody)
        const read = yield* offer(limit, readAll(client))
        assert.isTrue(limit.honoured)
        assert.deepStrictEqual(read, { bytes: text, asText: text, fromStream: text })
      })
    )

    it.live(`a body that fails fails its read as a ResponseError (body read first: ${readsWholeBody})`, () =>
      Effect.gen(function* () {
        const { dispatcher } = stubDispatcher(
          () =>
            new Readable({
              read() {
                this.destroy(new Error("socket hang up"))
              }
            })
        )
        const client = UndiciTransport.make(dispatcher)
        const response = yield* offer(limitOf(5_000, readsWholeBody), client.execute(request))
        const failed = yield* Effect.either(response.arrayBuffer)
        assert.isTrue(Either.isLeft(failed))
        if (Either.isLeft(failed)) {
          assert.strictEqual(failed.left._tag, "ResponseError")
          assert.strictEqual(failed.left.reason, "Decode")
        }
      })
    )
  }

  it.live("with the body read first, a limit that strikes during the body fails the exchange itself", () =>
    Effect.gen(function* () {
      // A head at once, then a body that never ends.
      const { dispatcher } = stubDispatcher(() => new Readable({ read() {} }))
      const client = UndiciTransport.make(dispatcher)
      const failed = yield* Effect.either(offer(limitOf(30, true), client.execute(request)))
      assert.isTrue(Either.isLeft(failed))
      if (Either.isLeft(failed)) {
        assert.strictEqual(failed.left._tag, "RequestError")
        assert.instanceOf(failed.left.cause, AttemptLimitExceeded)
      }
    })
  )
})
