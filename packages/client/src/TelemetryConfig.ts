/**
 * OpenTelemetry's standard exporter variables, read into options for `Telemetry.layer`. This module
 * imports no exporter: an app asks `isConfigured` first and loads `./Telemetry.js` only when it says
 * yes (`layerWhenConfigured` does both), so a process that exports nothing loads nothing for it.
 *
 * Read: OTEL_SDK_DISABLED, OTEL_EXPORTER_OTLP_ENDPOINT (a base URL: `/v1/traces` and `/v1/metrics` are
 * appended), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / _METRICS_ENDPOINT (full URLs, used as given),
 * OTEL_EXPORTER_OTLP_PROTOCOL (`http/protobuf`, the default, or `http/json`), OTEL_EXPORTER_OTLP_HEADERS
 * (`k=v,k2=v2`, URL-encoded values), OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (`k=v,...`).
 * Problems name the variable, never a header's value.
 */
import { Effect, Either, Layer } from "effect"

export type Environment = Readonly<Record<string, string | undefined>>
export type Protocol = "http/protobuf" | "http/json"

export interface TelemetryOptions {
  /** Where spans go (a full URL); no tracer is installed without one. */
  readonly tracesUrl?: string | undefined
  /** Where metrics go (a full URL); no metrics are recorded or exported without one. */
  readonly metricsUrl?: string | undefined
  readonly protocol?: Protocol | undefined
  /** Sent with every export (an API key of the collector, say); never logged. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly serviceName: string
  readonly serviceVersion?: string | undefined
  readonly attributes?: Readonly<Record<string, string>> | undefined
}

/** What the application says when the environment does not (its name and version). */
export interface Defaults {
  readonly serviceName: string
  readonly serviceVersion?: string | undefined
}

const set = (env: Environment, name: string): string | undefined => {
  const value = env[name]?.trim()
  return value === undefined || value === "" ? undefined : value
}

const endpointNames = [
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
] as const

const disabled = (env: Environment) => set(env, "OTEL_SDK_DISABLED")?.toLowerCase() === "true"

/** Whether the environment asks for any export: the cheap check that gates loading the exporter. */
export const isConfigured = (env: Environment): boolean =>
  !disabled(env) && endpointNames.some((name) => set(env, name) !== undefined)

/** `k=v,k2=v2` with URL-encoded keys and values; entries that do not parse are reported by position. */
const pairs = (name: string, text: string | undefined, problems: Array<string>): Record<string, string> => {
  const out: Record<string, string> = {}
  if (text === undefined) return out
  text.split(",").forEach((entry, i) => {
    if (entry.trim() === "") return
    const at = entry.indexOf("=")
    try {
      const key = decodeURIComponent(entry.slice(0, at).trim())
      if (at <= 0 || key === "") throw new Error("no key")
      out[key] = decodeURIComponent(entry.slice(at + 1).trim())
    } catch {
      problems.push(`${name}: entry ${i + 1} is not key=value with URL-encoded parts`)
    }
  })
  return out
}

const url = (name: string, text: string | undefined, problems: Array<string>): string | undefined => {
  if (text === undefined) return undefined
  if (URL.canParse(text) && /^https?:$/.test(new URL(text).protocol)) return text
  problems.push(`${name}: not an http(s) URL`)
  return undefined
}

/** The options the environment asks for; `undefined` when it asks for no export (or disables it). */
export const fromEnv = (
  env: Environment,
  defaults: Defaults
): Either.Either<TelemetryOptions | undefined, ReadonlyArray<string>> => {
  if (!isConfigured(env)) return Either.right(undefined)
  const problems: Array<string> = []
  const base = url("OTEL_EXPORTER_OTLP_ENDPOINT", set(env, "OTEL_EXPORTER_OTLP_ENDPOINT"), problems)
  const signal = (path: string) => (base === undefined ? undefined : `${base.replace(/\/+$/, "")}${path}`)
  const tracesName = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
  const metricsName = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
  const tracesUrl = url(tracesName, set(env, tracesName), problems) ?? signal("/v1/traces")
  const metricsUrl = url(metricsName, set(env, metricsName), problems) ?? signal("/v1/metrics")
  const protocol = set(env, "OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf"
  if (protocol !== "http/protobuf" && protocol !== "http/json")
    problems.push(`OTEL_EXPORTER_OTLP_PROTOCOL: "${protocol}" is not supported (http/protobuf or http/json)`)
  const headers = pairs("OTEL_EXPORTER_OTLP_HEADERS", set(env, "OTEL_EXPORTER_OTLP_HEADERS"), problems)
  const attributes = pairs("OTEL_RESOURCE_ATTRIBUTES", set(env, "OTEL_RESOURCE_ATTRIBUTES"), problems)
  if (problems.length > 0) return Either.left(problems)
  return Either.right({
    tracesUrl,
    metricsUrl,
    protocol: protocol === "http/json" ? "http/json" : "http/protobuf",
    headers,
    serviceName: set(env, "OTEL_SERVICE_NAME") ?? attributes["service.name"] ?? defaults.serviceName,
    serviceVersion: attributes["service.version"] ?? defaults.serviceVersion,
    attributes
  })
}

/**
 * `Telemetry.layerFromEnv(options)` when the environment asks for an export, importing ./Telemetry.js
 * only then; an empty layer otherwise. What an app provides around its program.
 */
export const layerWhenConfigured = (
  options: Parameters<typeof import("./Telemetry.js").layerFromEnv>[0],
  env: Environment = process.env
): Layer.Layer<never> =>
  isConfigured(env)
    ? Layer.unwrapEffect(
        Effect.map(
          Effect.promise(() => import("./Telemetry.js")),
          (Telemetry) => Telemetry.layerFromEnv(options, env)
        )
      )
    : Layer.empty
