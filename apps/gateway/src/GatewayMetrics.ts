/**
 * Prometheus metrics through prom-client, in a registry of the gateway's own (not prom-client's global
 * one), so that several gateways in one process (tests) never share counters.
 */
import { Context, Effect, Layer } from "effect"
import * as Prometheus from "prom-client"

export type CacheEvent = "hit" | "hit-l2" | "miss" | "collapsed" | "stale" | "stored" | "evicted"

export interface RegionGauge {
  readonly target: string
  /** 0 closed, 1 half-open (probing), 2 open. */
  readonly state: 0 | 1 | 2
}

/** The conversation route's template: the label its requests are counted and logged under. */
export const conversationRouteLabel = "/v3/agents/:agentId/convos/:convoId"

const make = () => {
  const registry = new Prometheus.Registry()
  Prometheus.collectDefaultMetrics({ register: registry, prefix: "convocore_gateway_" })

  // Requests are tallied in plain numbers by label set and added to their counters whenever those are
  // read (prom-client runs `collect` first): every prom-client call hashes its label set, which made the
  // counters a visible share of a hit's cost. The duration histogram still takes each request as it comes.
  const untalliedRequests = new Map<
    string,
    {
      readonly labels: { readonly route: string; readonly method: string; readonly status: string }
      count: number
    }
  >()
  /** The tally of a label set (bounded: route templates, methods and statuses), made when first needed. */
  const tallyOf = (route: string, method: string, status: number) => {
    const key = `${route} ${method} ${status}`
    let tallied = untalliedRequests.get(key)
    if (tallied === undefined) {
      tallied = { labels: { route, method, status: String(status) }, count: 0 }
      untalliedRequests.set(key, tallied)
    }
    return tallied
  }
  const hitRequests = tallyOf(conversationRouteLabel, "GET", 200)
  let untalliedHits = 0

  const requests = new Prometheus.Counter({
    name: "convocore_gateway_requests_total",
    help: "HTTP requests answered, by route template, method and status",
    labelNames: ["route", "method", "status"] as const,
    registers: [registry],
    collect() {
      for (const tallied of untalliedRequests.values()) {
        if (tallied.count === 0) continue
        requests.inc(tallied.labels, tallied.count)
        tallied.count = 0
      }
    }
  })
  const duration = new Prometheus.Histogram({
    name: "convocore_gateway_request_duration_seconds",
    help: "Time from request to response headers, by route template",
    labelNames: ["route"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry]
  })
  const cache = {
    hit: new Prometheus.Counter({
      name: "convocore_gateway_cache_hits_total",
      help: "Requests served from a fresh cache entry",
      registers: [registry],
      collect() {
        if (untalliedHits === 0) return
        this.inc(untalliedHits)
        untalliedHits = 0
      }
    }),
    "hit-l2": new Prometheus.Counter({
      name: "convocore_gateway_cache_l2_hits_total",
      help: "Requests served from the cache the replicas share (Redis), this replica's memory having no fresh copy",
      registers: [registry]
    }),
    miss: new Prometheus.Counter({
      name: "convocore_gateway_cache_misses_total",
      help: "Requests that started an upstream call",
      registers: [registry]
    }),
    collapsed: new Prometheus.Counter({
      name: "convocore_gateway_cache_coalesced_total",
      help: "Requests that waited on another request's upstream call instead of making their own",
      registers: [registry]
    }),
    stale: new Prometheus.Counter({
      name: "convocore_gateway_cache_stale_served_total",
      help: "Requests answered with a stale entry: every region failed (stale-if-error), or it is being refreshed (stale-while-revalidate)",
      registers: [registry]
    }),
    stored: new Prometheus.Counter({
      name: "convocore_gateway_cache_stored_total",
      help: "Upstream documents stored in the cache",
      registers: [registry]
    }),
    evicted: new Prometheus.Counter({
      name: "convocore_gateway_cache_evictions_total",
      help: "Entries evicted to stay within the entry and byte bounds",
      registers: [registry]
    })
  } satisfies Record<CacheEvent, Prometheus.Counter>
  const attempts = new Prometheus.Counter({
    name: "convocore_gateway_upstream_attempts_total",
    help: "Upstream attempts, by region and outcome (ok, not-found, connect-failed, server-error, timeout, ...)",
    labelNames: ["region", "outcome"] as const,
    registers: [registry]
  })
  const entries = new Prometheus.Gauge({
    name: "convocore_gateway_cache_entries",
    help: "Entries in the cache",
    registers: [registry]
  })
  const bytes = new Prometheus.Gauge({
    name: "convocore_gateway_cache_bytes",
    help: "Body bytes held by the cache",
    registers: [registry]
  })
  const inFlight = new Prometheus.Gauge({
    name: "convocore_gateway_requests_in_flight",
    help: "Requests being answered (this scrape included)",
    registers: [registry]
  })
  const breaker = new Prometheus.Gauge({
    name: "convocore_gateway_region_circuit_state",
    help: "Circuit breaker state per upstream region: 0 closed, 1 half-open, 2 open",
    labelNames: ["region"] as const,
    registers: [registry]
  })

  // Only a gateway with Redis has these: a gauge at 0 on every replica without Redis would read as an outage.
  const redisUp = new Prometheus.Gauge({
    name: "convocore_gateway_redis_up",
    help: "1 while the Redis the replicas share answers, 0 while this replica serves without it",
    registers: []
  })
  const redisErrors = new Prometheus.Counter({
    name: "convocore_gateway_redis_errors_total",
    help: "Redis operations that failed or timed out and were done without Redis, by operation",
    labelNames: ["op"] as const,
    registers: []
  })
  let redisRegistered = false
  const registerRedis = () => {
    if (redisRegistered) return
    redisRegistered = true
    registry.registerMetric(redisUp)
    registry.registerMetric(redisErrors)
  }

  const hitDuration = duration.labels(conversationRouteLabel)

  return {
    registry,
    /** A fresh hit answered: the request, its duration and the hit, as `request` + `cacheEvent` count them. */
    hitServed: (seconds: number) => {
      hitRequests.count++
      untalliedHits++
      hitDuration.observe(seconds)
    },
    contentType: registry.contentType,
    request: (route: string, method: string, status: number, seconds: number) => {
      tallyOf(route, method, status).count++
      duration.observe({ route }, seconds)
    },
    cacheEvent: (event: CacheEvent, count = 1) => {
      if (count > 0) cache[event].inc(count)
    },
    attempt: (region: string, outcome: string) => attempts.inc({ region, outcome }),
    redisError: (op: string) => {
      registerRedis()
      redisErrors.inc({ op })
    },
    /** Renders the exposition text; gauges read at scrape time are set just before. */
    render: (gauges: {
      readonly entries: number
      readonly bytes: number
      readonly inFlight: number
      readonly regions: ReadonlyArray<RegionGauge>
      /** Whether the shared cache answers; `undefined` without one. */
      readonly sharedUp?: boolean | undefined
    }) =>
      Effect.promise(() => {
        if (gauges.sharedUp !== undefined) {
          registerRedis()
          redisUp.set(gauges.sharedUp ? 1 : 0)
        }
        inFlight.set(gauges.inFlight)
        entries.set(gauges.entries)
        bytes.set(gauges.bytes)
        for (const region of gauges.regions) breaker.set({ region: region.target }, region.state)
        return registry.metrics()
      })
  } as const
}

export class GatewayMetrics extends Context.Tag("@convocore-effect/gateway/GatewayMetrics")<
  GatewayMetrics,
  ReturnType<typeof make>
>() {
  static readonly layer = Layer.sync(GatewayMetrics, make)
}
