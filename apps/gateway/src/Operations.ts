/**
 * `/healthz` (the process serves), `/readyz` (ready while at least one region's circuit breaker is closed,
 * or due for its probe; not ready while draining)
 * and `/metrics` (Prometheus text).
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { GatewayApi } from "./GatewayApi.js"
import { GatewayMetrics } from "./GatewayMetrics.js"
import { Lifecycle } from "./Lifecycle.js"
import { ResponseCache } from "./ResponseCache.js"
import { breakerGauge, isReady, Upstream } from "./Upstream.js"

export const OperationsLive = HttpApiBuilder.group(GatewayApi, "operations", (handlers) =>
  Effect.gen(function* () {
    const upstream = yield* Upstream
    const metrics = yield* GatewayMetrics
    const cache = yield* ResponseCache
    const lifecycle = yield* Lifecycle

    return handlers
      .handle("healthz", () => Effect.succeed({ status: "ok" as const }))
      .handleRaw("readyz", () =>
        Effect.map(upstream.health, (regions) => {
          const ready = !lifecycle.isDraining() && isReady(regions)
          return HttpServerResponse.unsafeJson(
            {
              status: ready ? "ready" : "not-ready",
              regions: regions.map((r) => ({
                region: r.target,
                breaker: r.breaker,
                ...(r.retryInMs === undefined ? {} : { retryInMs: r.retryInMs })
              }))
            },
            { status: ready ? 200 : 503, headers: { "cache-control": "no-store" } }
          )
        })
      )
      .handleRaw("metrics", () =>
        Effect.gen(function* () {
          const regions = yield* upstream.health
          const stats = yield* cache.stats
          const text = yield* metrics.render({
            ...stats,
            inFlight: lifecycle.inFlight(),
            regions: regions.map(breakerGauge)
          })
          return HttpServerResponse.text(text, { contentType: metrics.contentType })
        })
      )
  })
)
