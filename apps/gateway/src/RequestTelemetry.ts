/**
 * What the gateway tells a collector beside the platform's request span (`http.server GET`, which
 * parents the upstream call): the route template, the cache status and the layer that answered on that
 * span, and cache results by layer as a metric. Both only when telemetry is on.
 */
import * as ClientMetrics from "@convocore-effect/client/ClientMetrics"
import * as Spans from "@convocore-effect/client/Spans"
import { Effect, Metric, MetricLabel } from "effect"

/** Which layer answered, read from the `Cache-Status` the answer carries (see ./CachedReads.ts). */
export type CacheLayer = "l1" | "l2" | "l1-stale" | "coalesced" | "upstream"

export const cacheLayerOf = (cacheStatus: string | undefined): CacheLayer | undefined => {
  // `only-if-cached` on a miss: no layer answered.
  if (cacheStatus === undefined || cacheStatus.includes("only-if-cached")) return undefined
  if (cacheStatus.includes("stale-if-error") || cacheStatus.includes("stale-while-revalidate"))
    return "l1-stale"
  if (cacheStatus.includes("detail=l2")) return "l2"
  if (cacheStatus.includes("collapsed")) return "coalesced"
  return cacheStatus.includes("fwd=") ? "upstream" : "l1"
}

export const cacheResults = Metric.counter("convocore.gateway.cache.results", {
  description: "Conversation requests by the layer that answered: l1, l2, l1-stale, coalesced, upstream",
  incremental: true
})

const labels = {
  l1: [MetricLabel.make("layer", "l1")],
  l2: [MetricLabel.make("layer", "l2")],
  "l1-stale": [MetricLabel.make("layer", "l1-stale")],
  coalesced: [MetricLabel.make("layer", "coalesced")],
  upstream: [MetricLabel.make("layer", "upstream")]
} satisfies Record<CacheLayer, ReadonlyArray<MetricLabel.MetricLabel>>

/** A fresh hit answered by the fast path, which runs outside any fiber: its caller checks `enabled`. */
export const recordHit = () => cacheResults.unsafeUpdate(1, labels.l1)

/** The request span's attributes and the cache metric, for a request answered through the full path. */
export const annotate = (route: string, headers: Readonly<Record<string, string | undefined>>) =>
  Effect.withFiberRuntime<void>((fiber) => {
    const cacheStatus = headers["cache-status"]
    const layer = cacheLayerOf(cacheStatus)
    if (layer !== undefined && fiber.getFiberRef(ClientMetrics.enabled))
      cacheResults.unsafeUpdate(1, labels[layer])
    return Spans.annotateWhenTraced(() => ({
      "http.route": route,
      ...(cacheStatus === undefined ? {} : { "convocore.cache.status": cacheStatus }),
      ...(layer === undefined ? {} : { "convocore.cache.layer": layer }),
      ...(headers["x-convocore-region"] === undefined
        ? {}
        : { "convocore.region": headers["x-convocore-region"] })
    }))
  })
