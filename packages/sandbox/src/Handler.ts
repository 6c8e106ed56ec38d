/**
 * The sandbox's request handling, independent of any transport: a request comes in as method, URL,
 * headers and body, and goes out as a `Reply` that says what the transport must do (answer, refuse the
 * connection, or never answer). The in-process client and the real listeners both call this one
 * function, so they answer the same bytes for the same request.
 *
 * Order of a request: admin routes bypass everything; then the request meets its region's faults (and
 * its own `x-sandbox-fault` header): down, hang, latency, the rate limiter, an injected status; then the
 * route, the bearer key, the region placement and the document; last the body faults (drift, broken
 * primitive, wrong content type, malformed, truncated) and the delivery (slow body).
 */
import type { ApiErrorBody, RouteErrorBody } from "@convocore-effect/schema"
import { Region } from "@convocore-effect/schema"
import { Effect, Either, Redacted, Ref, Stream } from "effect"
import * as Counters from "./Counters.js"
import * as Documents from "./Documents.js"
import type { FaultSpec } from "./FaultSpec.js"
import * as FaultSpecText from "./FaultSpec.js"
import * as Faults from "./Faults.js"
import * as Fixtures from "./Fixtures.js"
import * as Listing from "./Listing.js"
import * as ListRoute from "./ListRoute.js"
import * as TokenBucket from "./TokenBucket.js"

type RegionName = Region.Region

export interface SandboxRequest {
  readonly method: string
  /** Path and query, as on the request line (`/v3/agents/a/convos/b?x=1`). */
  readonly url: string
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly body: string
}

export interface Response {
  readonly _tag: "Respond"
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /** The whole body; `content-length` always states its full length, even when it is truncated. */
  readonly body: Uint8Array
  /** Spread the body over this long. */
  readonly slowBodyMs?: number
  /** Send this many bytes of the body, then drop the connection. */
  readonly truncateAt?: number
}

export type Reply = Response | { readonly _tag: "Refuse" } | { readonly _tag: "Hang" }

/** The header a test sets to fault one request, in the fault spec grammar. */
export const faultHeader = "x-sandbox-fault"

export interface RegionState {
  readonly faults: Faults.RegionFaults
  readonly counters: Ref.Ref<Counters.Counters>
  readonly requestIds: Ref.Ref<number>
}

export interface HandlerConfig {
  readonly seed: number
  readonly apiKeys: ReadonlyArray<Redacted.Redacted<string>>
  readonly placement: ReadonlyMap<string, ReadonlyArray<RegionName>>
  /** How many generated conversations each agent lists. */
  readonly counts: Listing.Counts
}

export interface HandlerState extends HandlerConfig {
  readonly regions: Readonly<Record<RegionName, RegionState>>
  /** Installs a region's faults and lets the listeners act on it (close or re-open a socket). */
  readonly install: (region: RegionName, spec: FaultSpec) => Effect.Effect<void>
}

const conversationRoute = /^\/v3\/agents\/([^/]+)\/convos\/([^/]+)\/?$/
const listRoute = /^\/v3\/agents\/([^/]+)\/convos\/?$/

const jsonHeaders = { "content-type": "application/json; charset=utf-8" } as const

const statusCodes: Readonly<Record<number, readonly [code: string, message: string]>> = {
  400: ["BAD_REQUEST", "Bad request"],
  401: ["UNAUTHORIZED", "Unauthorized"],
  403: ["FORBIDDEN", "Forbidden"],
  404: ["NOT_FOUND", "Not found"],
  405: ["METHOD_NOT_SUPPORTED", "Method not supported"],
  408: ["TIMEOUT", "Request timeout"],
  409: ["CONFLICT", "Conflict"],
  412: ["PRECONDITION_FAILED", "Precondition failed"],
  413: ["PAYLOAD_TOO_LARGE", "Payload too large"],
  415: ["UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"],
  422: ["UNPROCESSABLE_CONTENT", "Unprocessable content"],
  429: ["TOO_MANY_REQUESTS", "Too many requests"],
  499: ["CLIENT_CLOSED_REQUEST", "Client closed request"],
  500: ["INTERNAL_SERVER_ERROR", "Internal server error"],
  501: ["NOT_IMPLEMENTED", "Not implemented"],
  502: ["BAD_GATEWAY", "Bad gateway"],
  503: ["SERVICE_UNAVAILABLE", "Service unavailable"],
  504: ["GATEWAY_TIMEOUT", "Gateway timeout"]
}

/** The error body of an injected status: the tRPC code for it, unless the spec names one. */
export const statusFaultBody = (status: number, code?: string): ApiErrorBody => {
  const known = statusCodes[status]
  return {
    message: known?.[1] ?? `Sandbox fault: status ${status}`,
    code: code ?? known?.[0] ?? (status >= 500 ? "INTERNAL_SERVER_ERROR" : "BAD_REQUEST")
  }
}

interface Draft {
  readonly status: number
  /** The body as a value, when a body fault may still change it; else its bytes. */
  readonly body: { readonly value: unknown } | { readonly bytes: Uint8Array }
  readonly outcome: Counters.Outcome
  readonly headers?: Readonly<Record<string, string>>
  /** How `drift` and `broken-primitive` change this body (default: a conversation envelope's way). */
  readonly bodyFaults?: BodyFaults
}

interface BodyFaults {
  readonly drift: (body: unknown) => unknown
  readonly breakPrimitive: (body: unknown) => unknown
}

const listBodyFaults: BodyFaults = { drift: ListRoute.drift, breakPrimitive: ListRoute.breakPrimitive }

const errorDraft = (
  status: number,
  body: ApiErrorBody | RouteErrorBody,
  outcome: Counters.Outcome
): Draft => ({
  status,
  body: { value: body },
  outcome
})

const outcomeOfStatus = (status: number): Counters.Outcome =>
  status === 401
    ? "unauthorized"
    : status === 403
      ? "forbidden"
      : status === 404
        ? "not-found"
        : status === 400
          ? "bad-request"
          : "ok"

const bearerKey = (authorization: string | undefined): string | undefined => {
  const match = authorization === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization)
  return match?.[1]
}

const decodeSegment = (segment: string): string | undefined => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

const malformedBytes = (bytes: Uint8Array): Uint8Array => {
  // A trailing comma before the final brace: one byte from valid JSON, so only a real parser notices.
  const text = new TextDecoder().decode(bytes)
  return new TextEncoder().encode(text.endsWith("}") ? `${text.slice(0, -1)},}` : `${text},`)
}

export const make = (state: HandlerState) => {
  const cache = Documents.makeCache(4096)
  const keys = state.apiKeys.map(Redacted.value)

  /** The 200 body of a conversation that is not an error fixture: its fixture, else the generated document. */
  const servedBody = (agentId: string, convoId: string, fixture = Fixtures.lookup(agentId, convoId)) =>
    cache(`${agentId}\u0000${convoId}`, () =>
      Documents.jsonBytes(
        fixture === undefined || fixture._tag === "Error"
          ? Documents.envelopeOf(Listing.document(state.seed, state.counts, agentId, convoId))
          : fixture._tag === "Envelope"
            ? fixture.envelope
            : Documents.envelopeOf(fixture.data)
      )
    )

  /** The answer for a conversation the region holds. */
  const conversation = (agentId: string, convoId: string): Draft => {
    const fixture = Fixtures.lookup(agentId, convoId)
    if (fixture?._tag === "Error")
      return errorDraft(fixture.status, fixture.body, outcomeOfStatus(fixture.status))
    return { status: 200, body: { bytes: servedBody(agentId, convoId, fixture) }, outcome: "ok" }
  }

  const list = ListRoute.make({ seed: state.seed, counts: state.counts, servedBody })

  /** The answer for a page of an agent's conversations the region holds. */
  const conversations = (agentId: string, search: string): Draft => {
    const answer = list(agentId, search)
    return answer._tag === "Refused"
      ? errorDraft(400, answer.body, "bad-request")
      : { status: 200, body: { bytes: answer.bytes }, outcome: "ok", bodyFaults: listBodyFaults }
  }

  const route = (region: RegionName, request: SandboxRequest, path: string): Draft => {
    const match = conversationRoute.exec(path) ?? listRoute.exec(path)
    if (match === null)
      return errorDraft(
        404,
        { error: { code: "NOT_FOUND", message: `Route ${request.method} ${path} not found` } },
        "route-not-found"
      )
    if (request.method !== "GET")
      return errorDraft(
        405,
        { message: `Method ${request.method} not supported`, code: "METHOD_NOT_SUPPORTED" },
        "method-not-allowed"
      )
    const key = bearerKey(request.headers.authorization)
    if (key === undefined || !keys.includes(key))
      return errorDraft(401, Fixtures.unauthorizedBody, "unauthorized")
    const agentId = decodeSegment(match[1] ?? "")
    // The list route has no conversation segment (`match[2]`); the empty string stands in for it.
    const convoId = decodeSegment(match[2] ?? "")
    if (agentId === undefined || convoId === undefined)
      return errorDraft(
        400,
        {
          message: "Malformed percent-encoding in the path",
          code: "BAD_REQUEST",
          issues: [{ message: "Invalid path" }]
        },
        "bad-request"
      )
    const home = state.placement.get(agentId) ?? Region.regions
    const listing = match[2] === undefined
    if (!home.includes(region))
      return errorDraft(404, listing ? ListRoute.agentNotFoundBody : Fixtures.notFoundBody, "not-found")
    if (listing) return conversations(agentId, request.url.slice(path.length))
    return conversation(agentId, convoId)
  }

  /** Applies the body faults and fixes the bytes and headers. */
  const finish = (draft: Draft, spec: FaultSpec, extraHeaders: Readonly<Record<string, string>>) => {
    let outcome = draft.outcome
    let bytes: Uint8Array
    if ("value" in draft.body) {
      bytes = Documents.jsonBytes(draft.body.value)
    } else if (draft.status === 200 && (spec.drift || spec.brokenPrimitive)) {
      // Both transforms return their input untouched when there is no `data` to change.
      const original: unknown = JSON.parse(new TextDecoder().decode(draft.body.bytes))
      const faults = draft.bodyFaults ?? { drift: Documents.drift, breakPrimitive: Documents.breakPrimitive }
      const drifted = spec.drift ? faults.drift(original) : original
      if (drifted !== original) outcome = "drift"
      const broken = spec.brokenPrimitive ? faults.breakPrimitive(drifted) : drifted
      if (broken !== drifted) outcome = "broken-primitive"
      bytes = broken === original ? draft.body.bytes : Documents.jsonBytes(broken)
    } else {
      bytes = draft.body.bytes
    }
    const headers: Record<string, string> = { ...jsonHeaders, ...draft.headers, ...extraHeaders }
    if (spec.contentType !== undefined) {
      headers["content-type"] = spec.contentType
      outcome = "content-type"
    }
    if (spec.malformed) {
      bytes = malformedBytes(bytes)
      outcome = "malformed"
    }
    headers["content-length"] = String(bytes.length)
    const response: Response = {
      _tag: "Respond",
      status: draft.status,
      headers,
      body: bytes,
      ...(spec.slowBodyMs !== undefined ? { slowBodyMs: spec.slowBodyMs } : {}),
      ...(spec.truncated ? { truncateAt: Math.floor(bytes.length / 2) } : {})
    }
    return { response, outcome: spec.truncated ? ("truncated" as const) : outcome }
  }

  const api = (region: RegionName, request: SandboxRequest, path: string): Effect.Effect<Reply> =>
    Effect.gen(function* () {
      const regionState = state.regions[region]
      const id = yield* Ref.updateAndGet(regionState.requestIds, (n) => n + 1)
      const extraHeaders = {
        "x-request-id": `sbx-${region}-${String(id).padStart(8, "0")}`,
        "x-sandbox-region": region
      }
      const record = (outcome: Counters.Outcome, status?: number) =>
        Counters.record(regionState.counters, outcome, status)

      const headerText = request.headers[faultHeader]
      const headerSpec =
        headerText === undefined
          ? Either.right(FaultSpecText.healthy)
          : FaultSpecText.parseRequestHeader(headerText)
      if (Either.isLeft(headerSpec)) {
        const { response } = finish(
          errorDraft(400, { message: headerSpec.left.message, code: "BAD_REQUEST" }, "bad-request"),
          FaultSpecText.healthy,
          extraHeaders
        )
        yield* record("bad-request", 400)
        return response
      }
      const taken = yield* Faults.take(regionState.faults)
      const spec = FaultSpecText.overlay(taken.spec, headerSpec.right)
      if (spec.down) {
        yield* record("refused")
        return { _tag: "Refuse" } as const
      }
      if (spec.hang) {
        yield* record("hang")
        return { _tag: "Hang" } as const
      }
      if (spec.latencyMs !== undefined && spec.latencyMs > 0) yield* Effect.sleep(spec.latencyMs)

      let draft: Draft
      if (taken.rate?._tag === "Limited") {
        const { retryAfterMs } = taken.rate
        draft = {
          ...errorDraft(
            429,
            { message: "Rate limit exceeded, retry later", code: "TOO_MANY_REQUESTS" },
            "rate-limited"
          ),
          headers: {
            "retry-after": String(TokenBucket.retryAfterSeconds(retryAfterMs)),
            "retry-after-ms": String(retryAfterMs)
          }
        }
      } else if (spec.status !== undefined) {
        draft = {
          ...errorDraft(spec.status, statusFaultBody(spec.status, spec.code), "status"),
          ...(spec.retryAfterMs !== undefined
            ? {
                headers: {
                  "retry-after": String(TokenBucket.retryAfterSeconds(spec.retryAfterMs)),
                  "retry-after-ms": String(spec.retryAfterMs)
                }
              }
            : {})
        }
      } else {
        draft = route(region, request, path)
      }
      const { outcome, response } = finish(draft, spec, extraHeaders)
      yield* record(outcome, response.status)
      return response
    })

  const admin = (region: RegionName, request: SandboxRequest, path: string, query: URLSearchParams) =>
    Effect.gen(function* () {
      const respond = (status: number, value: unknown): Response => {
        const body = Documents.jsonBytes(value)
        return {
          _tag: "Respond",
          status,
          headers: { ...jsonHeaders, "content-length": String(body.length), "x-sandbox-region": region },
          body
        }
      }
      const adminError = (status: number, message: string) =>
        respond(status, { message, code: status === 405 ? "METHOD_NOT_SUPPORTED" : "BAD_REQUEST" })
      const target = query.get("region")
      if (target !== null && target !== "all" && !Region.regions.some((r) => r === target))
        return adminError(400, `Unknown region "${target}": expected eu, na or all`)
      const selected: ReadonlyArray<RegionName> =
        target === null || target === "all" ? Region.regions : Region.regions.filter((r) => r === target)
      const faultsView = Effect.map(
        Effect.forEach(Region.regions, (r) => Faults.status(state.regions[r].faults)),
        ([eu, na]) => ({ eu, na })
      )
      const countersView = Effect.map(
        Effect.forEach(Region.regions, (r) => Ref.get(state.regions[r].counters)),
        ([eu, na]) => ({ eu, na })
      )
      if (path === "/_sandbox/faults") {
        if (request.method === "GET") return respond(200, yield* faultsView)
        if (request.method === "DELETE") {
          yield* Effect.forEach(selected, (r) => state.install(r, FaultSpecText.healthy))
          return respond(200, yield* faultsView)
        }
        if (request.method === "PUT" || request.method === "POST") {
          // A JSON object sets several regions at once; plain text sets one (default: this listener's).
          const body = request.body.trim()
          let assignments: ReadonlyArray<readonly [RegionName, string]>
          if (body.startsWith("{")) {
            let parsed: unknown
            try {
              parsed = JSON.parse(body)
            } catch {
              return adminError(400, "The body is neither a fault spec nor a JSON object of region to spec")
            }
            const entries = typeof parsed === "object" && parsed !== null ? Object.entries(parsed) : []
            const list: Array<readonly [RegionName, string]> = []
            for (const [r, text] of entries) {
              const known = Region.regions.find((candidate) => candidate === r)
              if (known === undefined || typeof text !== "string")
                return adminError(400, `Expected {"eu": "<spec>", "na": "<spec>"}; got key "${r}"`)
              list.push([known, text])
            }
            assignments = list
          } else {
            assignments = (target === null ? [region] : selected).map((r) => [r, body] as const)
          }
          const specs: Array<readonly [RegionName, FaultSpec]> = []
          for (const [r, text] of assignments) {
            const parsed = FaultSpecText.parse(text)
            if (Either.isLeft(parsed)) return adminError(400, parsed.left.message)
            specs.push([r, parsed.right])
          }
          yield* Effect.forEach(specs, ([r, spec]) => state.install(r, spec))
          return respond(200, yield* faultsView)
        }
        return adminError(405, `Method ${request.method} not supported on ${path}: use GET, PUT or DELETE`)
      }
      if (path === "/_sandbox/counters") {
        if (request.method === "GET") return respond(200, yield* countersView)
        if (request.method === "DELETE") {
          yield* Effect.forEach(selected, (r) => Ref.set(state.regions[r].counters, Counters.empty))
          return respond(200, yield* countersView)
        }
        return adminError(405, `Method ${request.method} not supported on ${path}: use GET or DELETE`)
      }
      return respond(404, {
        error: { code: "NOT_FOUND", message: `Route ${request.method} ${path} not found` }
      })
    })

  return (region: RegionName, request: SandboxRequest): Effect.Effect<Reply> => {
    const queryAt = request.url.indexOf("?")
    const path = queryAt === -1 ? request.url : request.url.slice(0, queryAt)
    if (path.startsWith("/_sandbox/")) {
      return admin(
        region,
        request,
        path,
        new URLSearchParams(queryAt === -1 ? "" : request.url.slice(queryAt + 1))
      )
    }
    return api(region, request, path)
  }
}

/** Raised inside a delivery stream when a truncated body has been half sent. */
export class TruncatedBody {
  readonly _tag = "TruncatedBody"
}

/**
 * The body as the wire sees it: at once, or in timed chunks under `slow-body`, failing half-way under
 * `truncated`. Both transports consume this stream, so slowness and truncation are the same in both.
 */
export const bodyStream = (response: Response): Stream.Stream<Uint8Array, TruncatedBody> => {
  const sent =
    response.truncateAt === undefined ? response.body : response.body.subarray(0, response.truncateAt)
  let chunks: Stream.Stream<Uint8Array> = Stream.make(sent)
  if (response.slowBodyMs !== undefined && response.slowBodyMs > 0 && sent.length > 0) {
    const count = Math.min(10, sent.length)
    const size = Math.ceil(sent.length / count)
    const pause = response.slowBodyMs / count
    const parts = Array.from({ length: Math.ceil(sent.length / size) }, (_, i) =>
      sent.subarray(i * size, (i + 1) * size)
    )
    chunks = Stream.mapEffect(Stream.fromIterable(parts), (part) => Effect.as(Effect.sleep(pause), part))
  }
  return response.truncateAt === undefined ? chunks : Stream.concat(chunks, Stream.fail(new TruncatedBody()))
}
