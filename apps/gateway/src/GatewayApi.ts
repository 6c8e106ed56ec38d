/**
 * The gateway's HTTP contract as an `HttpApi`: the OpenAPI document (`/openapi.json`, `/docs`) and a typed
 * client (`HttpApiClient.make(GatewayApi)`) come from it. The conversation route is Convocore's own path,
 * so any Convocore client can point its base URL (`<gateway>/v3`) here.
 */
import { ApiErrorBody, ConversationEnvelope, ConversationListPage } from "@convocore-effect/schema"
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "@effect/platform"
import { Context, type Redacted, Schema } from "effect"
import { version } from "./version.js"

/** The upstream's error shape, `{message, code, issues?}`, at the status it is answered with. */
const errorAt = (status: number, description: string) =>
  ApiErrorBody.annotations({
    identifier: `ErrorBody${status}`,
    description,
    ...HttpApiSchema.annotations({ status })
  })

/** 401 in the upstream's shape, from the gateway itself (no or unknown bearer token). */
export class GatewayUnauthorized extends Schema.Class<GatewayUnauthorized>("GatewayUnauthorized")(
  { message: Schema.String, code: Schema.Literal("UNAUTHORIZED") },
  HttpApiSchema.annotations({ status: 401, description: "Missing or refused bearer token" })
) {}

/** Who is calling, once the bearer token was accepted. */
export interface CallerInfo {
  /** The token to send upstream in forward mode; `undefined` in own-key mode (the gateway's key is used). */
  readonly upstreamToken: Redacted.Redacted<string> | undefined
  /** A short hash that partitions the cache: one per token in forward mode, one for all in own-key mode. */
  readonly tenant: string
}

export class Caller extends Context.Tag("@convocore-effect/gateway/Caller")<Caller, CallerInfo>() {}

export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("Authorization", {
  failure: GatewayUnauthorized,
  provides: Caller,
  security: {
    bearer: HttpApiSecurity.bearer.pipe(
      HttpApiSecurity.annotate(
        OpenApi.Description,
        "Forward mode: a Convocore workspace or agent secret, forwarded upstream. Own-key mode: a caller token configured in GATEWAY_CALLER_TOKENS."
      )
    )
  }
}) {}

export const ConversationParams = Schema.Struct({ agentId: Schema.String, convoId: Schema.String })

/** The answer to a purge: whether a copy was cached (in this replica's memory or the shared cache). */
export const Purged = Schema.Struct({ purged: Schema.Boolean })

export class ConversationsGroup extends HttpApiGroup.make("conversations")
  .add(
    HttpApiEndpoint.get("getConversation", "/v3/agents/:agentId/convos/:convoId")
      .setPath(ConversationParams)
      .addSuccess(ConversationEnvelope)
      .addError(errorAt(400, "An id the upstream refuses, or the upstream's own 400/422, passed through"))
      .addError(errorAt(403, "The upstream's 403 (plan gates), passed through"))
      .addError(errorAt(404, "The upstream's 404, passed through"))
      .addError(errorAt(429, "Rate limited upstream; Retry-After says when to try again"))
      .addError(errorAt(502, "The upstream answered something that is not a valid response"))
      .addError(
        errorAt(503, "Every region failed and nothing usable is cached; Retry-After says when to try again")
      )
      .annotate(OpenApi.Summary, "Get Single Conversation (cached, coalesced, with region failover)")
      .annotate(
        OpenApi.Description,
        "Convocore's V3 Get Single Conversation, byte for byte. Response headers: Cache-Status (RFC 9211), " +
          "x-convocore-region (the region that served the document), x-request-id, Age on cached answers, " +
          "and Warning / x-cache-stale when a stale document is served because every region failed."
      )
  )
  .add(
    HttpApiEndpoint.del("purgeConversation", "/cache/v3/agents/:agentId/convos/:convoId")
      .setPath(ConversationParams)
      .addSuccess(Purged)
      .annotate(OpenApi.Summary, "Purge the gateway's cached copy of one conversation (every replica)")
      .annotate(
        OpenApi.Description,
        "Drops the conversation's cache entry for the caller's partition: in forward mode the partition of " +
          "the bearer token sent (a caller purges only its own copies), in own-key mode the shared one " +
          "(a configured caller token is required). With Redis, every replica drops its copy before the answer."
      )
  )
  .middleware(Authorization) {}

export const AgentParams = Schema.Struct({ agentId: Schema.String })

export class ListingGroup extends HttpApiGroup.make("listing")
  .add(
    HttpApiEndpoint.get("listConversations", "/v3/agents/:agentId/convos")
      .setPath(AgentParams)
      .addSuccess(ConversationListPage)
      .addError(errorAt(400, "An id, cursor, limit or query parameter refused, or the upstream's own 400"))
      .addError(errorAt(403, "The upstream's 403, passed through"))
      .addError(errorAt(404, "The upstream's 404, passed through"))
      .addError(errorAt(429, "Rate limited upstream; Retry-After says when to try again"))
      .addError(errorAt(502, "The upstream answered something that is not a valid page"))
      .addError(
        errorAt(503, "Every region failed and nothing usable is cached; Retry-After says when to try again")
      )
      .annotate(
        OpenApi.Summary,
        "Get Agent Conversations, one page (cached briefly, coalesced, with failover)"
      )
      .annotate(
        OpenApi.Description,
        "Convocore's V3 Get Agent Conversations, byte for byte, one cursor page per request. Query: cursor " +
          "(a page's nextCursor), limit (clamped to 1..20) and page (only 1); every other parameter is refused with 400. " +
          "Headers as for Get Single Conversation; pages are kept for GATEWAY_LIST_CACHE_TTL (5 s by default)."
      )
  )
  .middleware(Authorization) {}

export const RegionStatus = Schema.Struct({
  region: Schema.String,
  breaker: Schema.Literal("closed", "half-open", "open"),
  retryInMs: Schema.optional(Schema.Number)
})

export const Readiness = Schema.Struct({
  status: Schema.Literal("ready", "not-ready"),
  regions: Schema.Array(RegionStatus)
})

export const Health = Schema.Struct({ status: Schema.Literal("ok") })

export class OperationsGroup extends HttpApiGroup.make("operations")
  .add(
    HttpApiEndpoint.get("healthz", "/healthz")
      .addSuccess(Health)
      .annotate(OpenApi.Summary, "Liveness: the process is serving")
  )
  .add(
    HttpApiEndpoint.get("readyz", "/readyz")
      .addSuccess(Readiness)
      .addError(
        Readiness.annotations({ identifier: "NotReady", ...HttpApiSchema.annotations({ status: 503 }) })
      )
      .annotate(OpenApi.Summary, "Readiness: ready while at least one region's circuit breaker is closed")
  )
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .addSuccess(HttpApiSchema.Text({ contentType: "text/plain" }))
      .annotate(OpenApi.Summary, "Prometheus metrics (text exposition format)")
  ) {}

export class GatewayApi extends HttpApi.make("convocore-gateway")
  .add(ConversationsGroup)
  .add(ListingGroup)
  .add(OperationsGroup)
  .annotate(OpenApi.Title, "convocore-gateway")
  .annotate(OpenApi.Version, version)
  .annotate(
    OpenApi.Description,
    "A drop-in caching, coalescing, region-failover proxy for Convocore's V3 API."
  ) {}
