/**
 * An export's progress as a metric, for whoever watches a long export from a collector: conversations
 * written or failed. Recorded only where the client's metrics are on (telemetry exported), like theirs.
 */
import * as ClientMetrics from "@convocore-effect/client/ClientMetrics"
import { Effect, Metric, MetricLabel } from "effect"

export const conversations = Metric.counter("convocore.cli.export.conversations", {
  description: "Conversations an export has written (outcome=exported) or failed to get (outcome=failed)",
  incremental: true
})

export const record = (outcome: "exported" | "failed"): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    if (fiber.getFiberRef(ClientMetrics.enabled))
      conversations.unsafeUpdate(1, [MetricLabel.make("outcome", outcome)])
    return Effect.void
  })
