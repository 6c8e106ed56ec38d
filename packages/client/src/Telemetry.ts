/**
 * The opt-in exporter: spans and metrics over OTLP/HTTP (protobuf or JSON) with `@effect/opentelemetry`'s
 * own exporters, over the global `fetch`; no OpenTelemetry SDK runs. The client's layers never install it:
 * they use whatever `Tracer` the application provides, and an application that has its own keeps it.
 *
 *   Effect.provide(program, Telemetry.layerFromEnv({ serviceName: "my-service" }))
 *
 * Closing the layer's scope flushes what is buffered, for at most `shutdownTimeout`; a collector that is
 * down or slow costs no more than that, and an export never fails the program. Exporter failures are not
 * logged: their requests carry the configured headers.
 */
import * as OtlpMetrics from "@effect/opentelemetry/OtlpMetrics"
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import { FetchHttpClient, Headers } from "@effect/platform"
import { Duration, Effect, Either, FiberRef, Layer, LogLevel } from "effect"
import * as ClientMetrics from "./ClientMetrics.js"
import * as TelemetryConfig from "./TelemetryConfig.js"

export type { Defaults, TelemetryOptions } from "./TelemetryConfig.js"

export interface LayerOptions extends TelemetryConfig.TelemetryOptions {
  /** The longest the final flush may take when the scope closes (default 2 seconds). */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  /** How often buffered spans and metrics are sent while running (default 5 seconds). */
  readonly exportInterval?: Duration.DurationInput | undefined
}

/** Exports to the URLs in `options`; turns the client's metrics on when metrics are exported. */
export const layer = (options: LayerOptions): Layer.Layer<never> => {
  const resource = {
    serviceName: options.serviceName,
    serviceVersion: options.serviceVersion,
    attributes: { ...options.attributes }
  }
  const common = {
    resource,
    headers: options.headers,
    exportInterval: options.exportInterval ?? Duration.seconds(5),
    shutdownTimeout: options.shutdownTimeout ?? Duration.seconds(2)
  }
  const traces =
    options.tracesUrl === undefined ? Layer.empty : OtlpTracer.layer({ ...common, url: options.tracesUrl })
  const metrics =
    options.metricsUrl === undefined
      ? Layer.empty
      : Layer.merge(OtlpMetrics.layer({ ...common, url: options.metricsUrl }), ClientMetrics.layer)
  const headerNames = Object.keys(options.headers ?? {}).map((name) => name.toLowerCase())
  return Layer.mergeAll(traces, metrics).pipe(
    Layer.provide(
      options.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf
    ),
    Layer.provide(FetchHttpClient.layer),
    // The exporter's fibers are forked while the layer is built and keep these: they log nothing (its one
    // log line, at debug, carries the failed request), and if anything prints its headers, they are redacted.
    Layer.locally(FiberRef.currentMinimumLogLevel, LogLevel.None),
    Layer.locallyWith(Headers.currentRedactedNames, (names) => [...names, ...headerNames])
  )
}

/**
 * The export the standard `OTEL_*` variables ask for (see ./TelemetryConfig.ts), or nothing when they ask
 * for none. Variables it cannot use turn the export off with a warning that names them.
 */
export const layerFromEnv = (
  defaults: TelemetryConfig.Defaults &
    Pick<LayerOptions, "shutdownTimeout" | "exportInterval"> & {
      /** Says what was wrong (default: a warning through Effect's logger). */
      readonly onProblems?: ((message: string) => Effect.Effect<void>) | undefined
    },
  env: TelemetryConfig.Environment = process.env
): Layer.Layer<never> =>
  Either.match(TelemetryConfig.fromEnv(env, defaults), {
    onLeft: (problems) =>
      Layer.effectDiscard(
        (defaults.onProblems ?? Effect.logWarning)(`telemetry off: ${problems.join("; ")}`)
      ),
    onRight: (options) =>
      options === undefined
        ? Layer.empty
        : layer({
            ...options,
            shutdownTimeout: defaults.shutdownTimeout,
            exportInterval: defaults.exportInterval
          })
  })
