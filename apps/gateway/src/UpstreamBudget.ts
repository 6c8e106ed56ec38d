/**
 * The rate controller the gateway gives its Convocore client (./FleetRate.ts): shared through Redis when
 * `GATEWAY_REDIS_URL` is set, this replica's own otherwise, under `GATEWAY_UPSTREAM_RATE` when set; and
 * what it does, in `/metrics`.
 */
import { randomUUID } from "node:crypto"
import { ConvocoreConfig, RateController, type Target } from "@convocore-effect/client"
import { Effect, Layer, Option } from "effect"
import * as Prometheus from "prom-client"
import * as FleetRate from "./FleetRate.js"
import { GatewayConfig } from "./GatewayConfig.js"
import { GatewayMetrics } from "./GatewayMetrics.js"
import { RedisConnection } from "./RedisConnection.js"
import * as RedisRateStore from "./RedisRateStore.js"

const register = (
  registry: Prometheus.Registry,
  targets: ReadonlyArray<Target>,
  controller: FleetRate.Controller,
  status: () => FleetRate.BudgetStatus
) => {
  new Prometheus.Gauge({
    name: "convocore_gateway_upstream_rate",
    help: "Requests per second that upstream attempts are paced at, per region: the fleet's rate while shared through Redis, this replica's own otherwise (+Inf: unthrottled)",
    labelNames: ["region"] as const,
    registers: [registry],
    collect() {
      for (const target of targets)
        this.set({ region: target }, controller.stats(target).rate ?? Number.POSITIVE_INFINITY)
    }
  })
  new Prometheus.Gauge({
    name: "convocore_gateway_upstream_budget_shared",
    help: "1 while upstream permits come from the fleet's schedule in Redis, 0 while this replica paces itself on its own",
    registers: [registry],
    collect() {
      this.set(status().shared ? 1 : 0)
    }
  })
  new Prometheus.Gauge({
    name: "convocore_gateway_fleet_replicas",
    help: "Gateway replicas counted by their heartbeats in Redis when last asked",
    registers: [registry],
    collect() {
      this.set(status().replicas)
    }
  })
  new Prometheus.Counter({
    name: "convocore_gateway_upstream_permits_total",
    help: "Permits for upstream attempts: granted at once, granted after a wait, or refused (it would have come after the call's deadline)",
    labelNames: ["result"] as const,
    registers: [registry],
    collect() {
      // A counter only goes up: set it to the controller's running count.
      this.reset()
      for (const [result, count] of Object.entries(status().permits)) this.inc({ result }, count)
    }
  })
  new Prometheus.Counter({
    name: "convocore_gateway_upstream_rate_backoffs_total",
    help: "Decreases of the upstream rate after a 429 that this replica applied (shared by the fleet while Redis answers)",
    registers: [registry],
    collect() {
      this.reset()
      this.inc(status().backoffs)
    }
  })
}

/** The client's `RateController` for this gateway; a Redis connection in the context makes it shared. */
export const layer = Layer.scoped(
  RateController,
  Effect.gen(function* () {
    const client = yield* ConvocoreConfig
    const { upstreamRate } = yield* GatewayConfig
    const metrics = yield* GatewayMetrics
    const redis = yield* Effect.serviceOption(RedisConnection)
    const baseUrl = (target: Target) =>
      client.endpoints._tag === "Single"
        ? client.endpoints.url
        : client.endpoints.urls[target === "custom" ? client.region : target]
    // The upstream's host and path (never its credentials), so that fleets before different upstreams keep apart.
    const keys = new Map<Target, string>()
    const keyOf = (target: Target) => {
      let key = keys.get(target)
      if (key === undefined) {
        const url = new URL(baseUrl(target))
        key = `${RedisRateStore.keyPrefix}rate:${target}:${url.host}${url.pathname}`
        keys.set(target, key)
      }
      return key
    }
    const ceilings = [upstreamRate, client.maxRate].filter((rate) => rate !== undefined)
    const budget = yield* FleetRate.make({
      store: Option.getOrUndefined(Option.map(redis, RedisRateStore.make)),
      ceiling: ceilings.length === 0 ? undefined : Math.min(...ceilings),
      keyOf,
      replica: randomUUID()
    })
    yield* Effect.forkScoped(budget.heartbeats)
    const targets: ReadonlyArray<Target> = client.endpoints._tag === "Single" ? ["custom"] : ["eu", "na"]
    register(metrics.registry, targets, budget.controller, budget.status)
    return RateController.make(budget.controller)
  })
)
