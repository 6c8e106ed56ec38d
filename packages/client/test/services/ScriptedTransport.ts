/**
 * A scripted transport `HttpClient`: each request is answered by a function of (region, call number),
 * and every request is recorded with the test clock's time, so tests can assert where and when the
 * client went. No sockets.
 */
import { ConnectFailure, seedExampleResponse } from "@convocore-effect/schema"
import { HttpClient, HttpClientError, type HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { Clock, Effect, Layer } from "effect"
import { ConvocoreConfig, type ConvocoreConfigInput } from "../../src/ConvocoreConfig.js"
import { CircuitBreaker, Convocore, RateController, ResilientHttpClient } from "../../src/index.js"

export const SECRET = "vg_SECRET_test_key_123"
export const euUrl = "https://eu.test/v3"
export const naUrl = "https://na.test/v3"

export type TestRegion = "eu" | "na" | "custom"

export interface Sent {
  readonly region: TestRegion
  readonly url: URL
  readonly request: HttpClientRequest.HttpClientRequest
  /** The test clock when the request reached the transport. */
  readonly at: number
  /** 1-based count of requests this region received. */
  readonly n: number
  interrupted: boolean
}

/** What the transport does with one request. */
export type Reply =
  | Response
  | "refused"
  | "reset"
  | "hang"
  | ((
      request: HttpClientRequest.HttpClientRequest
    ) => Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>)

export type Script = (region: TestRegion, n: number, url: URL) => Reply

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })

export const ok = (headers: Record<string, string> = {}): Response => json(200, seedExampleResponse, headers)

export const errorReply = (status: number, code?: string, headers: Record<string, string> = {}): Response =>
  json(
    status,
    code === undefined ? { message: `status ${status}` } : { message: `status ${status}`, code },
    headers
  )

const regionOf = (url: URL): TestRegion =>
  url.hostname === "eu.test" ? "eu" : url.hostname === "na.test" ? "na" : "custom"

export const makeTransport = (script: Script) => {
  const sent: Array<Sent> = []
  const counts = new Map<TestRegion, number>()
  const client = HttpClient.make((request, url) =>
    Effect.flatMap(Clock.currentTimeMillis, (at) => {
      const region = regionOf(url)
      const n = (counts.get(region) ?? 0) + 1
      counts.set(region, n)
      const record: Sent = { region, url, request, at, n, interrupted: false }
      sent.push(record)
      const reply = script(region, n, url)
      const answer: Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =
        reply instanceof Response
          ? Effect.succeed(HttpClientResponse.fromWeb(request, reply))
          : reply === "refused"
            ? Effect.fail(
                new HttpClientError.RequestError({
                  request,
                  reason: "Transport",
                  cause: ConnectFailure.connectionRefused(url.host)
                })
              )
            : reply === "reset"
              ? Effect.fail(
                  new HttpClientError.RequestError({
                    request,
                    reason: "Transport",
                    cause: ConnectFailure.socketError("ECONNRESET", "socket hang up")
                  })
                )
              : reply === "hang"
                ? Effect.never
                : reply(request)
      return Effect.onInterrupt(answer, () =>
        Effect.sync(() => {
          record.interrupted = true
        })
      )
    })
  )
  return { sent, layer: Layer.succeed(HttpClient.HttpClient, client) }
}

/** The full client over a scripted transport; the breaker and rate controller are in the output so tests can look at them. */
export const clientLayer = (script: Script, config: Partial<ConvocoreConfigInput> = {}) => {
  const transport = makeTransport(script)
  const layer = Convocore.DefaultWithoutDependencies.pipe(
    Layer.provideMerge(ResilientHttpClient.DefaultWithoutDependencies),
    Layer.provideMerge(Layer.merge(CircuitBreaker.Default, RateController.Default)),
    Layer.provideMerge(transport.layer),
    Layer.provideMerge(ConvocoreConfig.layer({ apiKey: SECRET, euUrl, naUrl, ...config })),
    Layer.orDie
  )
  return { sent: transport.sent, layer }
}

export const ref = { agentId: "agent123", convoId: "convo456" }
