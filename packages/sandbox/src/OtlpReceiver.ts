/**
 * An OTLP/HTTP receiver for tests and local demos: a loopback listener that answers every POST with 200,
 * keeps the raw bodies (to search them byte by byte) and reads the spans out of either encoding
 * (./OtlpSpans.ts).
 */
import * as Http from "node:http"
import { Effect, type Scope } from "effect"
import { fromJson, fromProtobuf, type ReceivedSpan } from "./OtlpSpans.js"

export type { AttributeValue, ReceivedSpan } from "./OtlpSpans.js"

export interface ReceivedBody {
  readonly path: string
  readonly contentType: string
  readonly headers: Http.IncomingHttpHeaders
  readonly bytes: Uint8Array
}

export interface OtlpReceiver {
  /** The base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it. */
  readonly url: string
  readonly bodies: () => ReadonlyArray<ReceivedBody>
  readonly spans: () => ReadonlyArray<ReceivedSpan>
}

/** A receiver on a free loopback port for the life of the scope. */
export const make: Effect.Effect<OtlpReceiver, never, Scope.Scope> = Effect.gen(function* () {
  const bodies: Array<ReceivedBody> = []
  const server = Http.createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const path = request.url ?? ""
      bodies.push({
        path,
        contentType: request.headers["content-type"] ?? "",
        headers: request.headers,
        bytes: Buffer.concat(chunks)
      })
      response.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  const port = yield* Effect.acquireRelease(
    Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
      })
    }),
    () =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  )
  const spans = () =>
    bodies
      .filter((body) => body.path === "/v1/traces")
      .flatMap((body) =>
        body.contentType.includes("json") ? fromJson(body.bytes) : fromProtobuf(body.bytes)
      )
  return { url: `http://127.0.0.1:${port}`, bodies: () => [...bodies], spans }
})
