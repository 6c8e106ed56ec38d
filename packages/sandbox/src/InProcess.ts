/**
 * The sandbox as an `HttpClient` transport, with no socket: requests to either region's base URL are
 * answered by the same handler the listeners use, so a client under test runs its real HTTP code path
 * (status, headers, body streaming) against the sandbox in the same process. A `down` region fails the
 * way undici fails on a refused connection, any other host like a DNS miss: both built by the schema's
 * `ConnectFailure`, so the client judges them by the same rule as real socket errors.
 */

import { ConnectFailure, Region } from "@convocore-effect/schema"
import type { HttpClientRequest } from "@effect/platform"
import { HttpClient, HttpClientError } from "@effect/platform"
import { Effect, Stream } from "effect"
import type { Reply, SandboxRequest } from "./Handler.js"
import { InProcessResponse } from "./InProcessResponse.js"

type RegionName = Region.Region

/** Hosts under `.invalid` can never resolve (RFC 2606), so a request that escapes the sandbox fails. */
export const defaultBaseUrls: Readonly<Record<RegionName, string>> = {
  eu: "http://eu.sandbox.invalid/v3",
  na: "http://na.sandbox.invalid/v3"
}

const textDecoder = new TextDecoder()

const requestBody = (request: HttpClientRequest.HttpClientRequest): Effect.Effect<string> => {
  const body = request.body
  switch (body._tag) {
    case "Uint8Array":
      return Effect.succeed(textDecoder.decode(body.body))
    case "Raw":
      return Effect.succeed(typeof body.body === "string" ? body.body : "")
    case "Stream":
      return body.stream.pipe(
        Stream.decodeText(),
        Stream.runFold("", (text, chunk) => text + chunk),
        Effect.orElseSucceed(() => "")
      )
    default:
      return Effect.succeed("")
  }
}

/**
 * Which region a URL is for: the base URL it falls under (longest first), else the region whose origin
 * it shares, so that `/_sandbox/...` admin routes outside `/v3` reach the region too.
 */
const regionOf = (baseUrls: Readonly<Record<RegionName, string>>, url: URL): RegionName | undefined => {
  const href = url.href
  const byPrefix = Region.regions
    .map((region) => [region, baseUrls[region].replace(/\/+$/, "")] as const)
    .filter(([, base]) => href === base || href.startsWith(`${base}/`) || href.startsWith(`${base}?`))
    .sort(([, a], [, b]) => b.length - a.length)[0]
  if (byPrefix !== undefined) return byPrefix[0]
  return Region.regions.find((region) => new URL(baseUrls[region]).origin === url.origin)
}

export const makeHttpClient = (
  handle: (region: RegionName, request: SandboxRequest) => Effect.Effect<Reply>,
  baseUrls: Readonly<Record<RegionName, string>> = defaultBaseUrls
): HttpClient.HttpClient =>
  HttpClient.make((request, url) =>
    Effect.gen(function* () {
      const region = regionOf(baseUrls, url)
      if (region === undefined)
        return yield* new HttpClientError.RequestError({
          request,
          reason: "Transport",
          cause: ConnectFailure.hostNotFound(url.hostname),
          description: `${url.host} is not a sandbox region`
        })
      const body = yield* requestBody(request)
      const reply = yield* handle(region, {
        method: request.method,
        url: url.pathname + url.search,
        headers: request.headers,
        body
      })
      switch (reply._tag) {
        case "Refuse":
          return yield* new HttpClientError.RequestError({
            request,
            reason: "Transport",
            cause: ConnectFailure.connectionRefused(url.host),
            description: `connect ECONNREFUSED ${url.host}`
          })
        case "Hang":
          return yield* Effect.never
        case "Respond":
          // A slow or truncated body is delivered by the same stream the listener writes, on the reader's clock.
          return new InProcessResponse(request, reply)
      }
    })
  )
