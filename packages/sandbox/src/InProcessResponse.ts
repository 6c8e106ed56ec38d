/**
 * The platform's `HttpClientResponse` over a sandbox reply, read straight from its bytes (or its
 * delivery stream, under `slow-body` and `truncated`). `HttpClientResponse.fromWeb` would need a web
 * `Response`, and the first use of one loads Node's bundled undici: about 30 ms of a `convocore ...
 * --sandbox` start (bench/cli.bench.ts), for a body that is already in memory.
 */
import {
  Cookies,
  Headers,
  HttpClientError,
  type HttpClientRequest,
  HttpClientResponse,
  HttpIncomingMessage,
  UrlParams
} from "@effect/platform"
import { Effect, Inspectable, Option, Stream } from "effect"
import { bodyStream, type Response } from "./Handler.js"

const utf8 = new TextDecoder()

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0]
  const whole = new Uint8Array(parts.reduce((length, part) => length + part.length, 0))
  let offset = 0
  for (const part of parts) {
    whole.set(part, offset)
    offset += part.length
  }
  return whole
}

export class InProcessResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly status: number
  readonly headers: Headers.Headers
  readonly remoteAddress = Option.none<string>()
  /** The body is delivered once, as on a socket; every accessor shares the one delivery. */
  private delivered: Effect.Effect<Uint8Array, HttpClientError.ResponseError> | undefined

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    private readonly reply: Response
  ) {
    super()
    this.status = reply.status
    this.headers = Headers.fromInput(reply.headers)
  }

  get cookies(): Cookies.Cookies {
    const header = this.headers["set-cookie"]
    return header === undefined ? Cookies.empty : Cookies.fromSetCookie([header])
  }

  private decodeError(cause: unknown) {
    return new HttpClientError.ResponseError({
      request: this.request,
      response: this,
      reason: "Decode",
      cause
    })
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.mapError(bodyStream(this.reply), (cause) => this.decodeError(cause))
  }

  private get bytes(): Effect.Effect<Uint8Array, HttpClientError.ResponseError> {
    this.delivered ??= Effect.runSync(
      Effect.cached(
        Effect.map(
          Stream.runFold(this.stream, [] as Array<Uint8Array>, (parts, part) => {
            parts.push(part)
            return parts
          }),
          concat
        )
      )
    )
    return this.delivered
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.map(this.bytes, (bytes) => bytes.slice().buffer)
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.map(this.bytes, (bytes) => utf8.decode(bytes))
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        // `JSON.parse` returns `any`; `unknown` keeps the caller honest.
        try: (): unknown => (text === "" ? null : JSON.parse(text)),
        catch: (cause) => this.decodeError(cause)
      })
    )
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.map(this.text, (text) => UrlParams.fromInput(new URLSearchParams(text)))
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    // The one reader that needs the web Response: only a caller that asks for form data loads it.
    return Effect.flatMap(this.bytes, (bytes) =>
      Effect.tryPromise({
        try: () => new Response(bytes.slice(), { headers: this.reply.headers }).formData(),
        catch: (cause) => this.decodeError(cause)
      })
    )
  }

  toJSON(): unknown {
    return { _id: "@effect/platform/HttpClientResponse", request: this.request.toJSON(), status: this.status }
  }
}
