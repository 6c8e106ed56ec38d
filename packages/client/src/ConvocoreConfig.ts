/**
 * The client's configuration: read from Effect `Config` (environment variables, any `ConfigProvider`) or
 * given in code. Both paths go through one validation, so a value is refused the same way wherever it
 * came from, and every refusal names what was read.
 */
import { Region } from "@convocore-effect/schema"
import { ConfigError, Context, Duration, Effect, Either, Layer, Option, Redacted, Schema } from "effect"
import * as Config from "effect/Config"

/**
 * How a call may move between regions:
 * - `failover`: start at the preferred region, move to the other one on the failures of DESIGN.md's table;
 * - `pinned`: never leave the preferred region (data residency);
 * - `auto`: like failover, and a 404 in the first region is tried in the other; the region that found the
 *   agent is remembered and tried first next time.
 */
export const RegionPolicy = Schema.Literal("failover", "pinned", "auto").annotations({
  identifier: "RegionPolicy"
})
export type RegionPolicy = typeof RegionPolicy.Type

/** Where requests go: the two regions (failover possible), or one base URL (no failover, target `custom`). */
export type Endpoints =
  | { readonly _tag: "Regions"; readonly urls: Readonly<Record<Region.Region, string>> }
  | { readonly _tag: "Single"; readonly url: string }

export interface BreakerSettings {
  /** Consecutive failures that open a region. */
  readonly failureThreshold: number
  /** The first cool-down; it doubles after each failed probe. */
  readonly cooldownMs: number
  readonly cooldownMaxMs: number
}

/** The resolved, validated configuration. Durations are milliseconds. */
export interface ConvocoreSettings {
  readonly apiKey: Redacted.Redacted<string>
  readonly region: Region.Region
  readonly endpoints: Endpoints
  readonly regionPolicy: RegionPolicy
  readonly attemptTimeoutMs: number
  readonly deadlineMs: number
  readonly maxAttempts: number
  readonly backoffBaseMs: number
  readonly backoffMaxMs: number
  readonly retryAfterCapMs: number
  /** When set, a call races the other region after this delay (hedging); the loser is interrupted. */
  readonly hedgeDelayMs: number | undefined
  readonly breaker: BreakerSettings
  /** Default concurrency of the many-ids stream. */
  readonly concurrency: number
  /** The rate controller's ceiling, requests per second per region; undefined: adaptive, no ceiling. */
  readonly maxRate: number | undefined
}

/**
 * What code may give; everything but the key has a default. A duration is a `Duration.DurationInput`, or
 * a string: a bare number of milliseconds or Effect's syntax (`"10 seconds"`), as the environment gives it.
 */
export type DurationSetting = Duration.DurationInput | string

/** What code may give; see `DurationSetting` for durations. */
export interface ConvocoreConfigInput {
  readonly apiKey: Redacted.Redacted<string> | string
  readonly region?: string | undefined
  readonly euUrl?: string | undefined
  readonly naUrl?: string | undefined
  /** One endpoint with no failover (a gateway, a local sandbox). Wins over the per-region URLs. */
  readonly baseUrl?: string | undefined
  readonly regionPolicy?: string | undefined
  readonly attemptTimeout?: DurationSetting | undefined
  readonly deadline?: DurationSetting | undefined
  readonly maxAttempts?: number | undefined
  readonly backoffBase?: DurationSetting | undefined
  readonly backoffMax?: DurationSetting | undefined
  readonly retryAfterCap?: DurationSetting | undefined
  readonly hedgeDelay?: DurationSetting | undefined
  readonly breakerThreshold?: number | undefined
  readonly breakerCooldown?: DurationSetting | undefined
  readonly breakerCooldownMax?: DurationSetting | undefined
  readonly concurrency?: number | undefined
  readonly maxRate?: number | undefined
}

export const defaults = {
  region: "eu",
  regionPolicy: "failover",
  attemptTimeout: Duration.seconds(10),
  deadline: Duration.seconds(30),
  maxAttempts: 4,
  backoffBase: Duration.millis(500),
  backoffMax: Duration.seconds(8),
  retryAfterCap: Duration.seconds(60),
  breakerThreshold: 5,
  breakerCooldown: Duration.seconds(30),
  breakerCooldownMax: Duration.minutes(5),
  concurrency: 8
} as const

/** The variables read, first name wins; the others are aliases other Convocore tools use. */
export const variables = {
  apiKey: ["CONVOCORE_API_KEY", "WORKSPACE_SECRET"],
  region: ["CONVOCORE_REGION", "CONVOCORE_API_REGION"],
  euUrl: ["CONVOCORE_EU_URL"],
  naUrl: ["CONVOCORE_NA_URL"],
  baseUrl: ["CONVOCORE_BASE_URL", "CONVOCORE_API_BASE_URL"],
  regionPolicy: ["CONVOCORE_REGION_POLICY"],
  attemptTimeout: ["CONVOCORE_ATTEMPT_TIMEOUT"],
  deadline: ["CONVOCORE_DEADLINE"],
  maxAttempts: ["CONVOCORE_MAX_ATTEMPTS"],
  backoffBase: ["CONVOCORE_BACKOFF_BASE"],
  backoffMax: ["CONVOCORE_BACKOFF_MAX"],
  retryAfterCap: ["CONVOCORE_RETRY_AFTER_CAP"],
  hedgeDelay: ["CONVOCORE_HEDGE_DELAY"],
  breakerThreshold: ["CONVOCORE_BREAKER_THRESHOLD"],
  breakerCooldown: ["CONVOCORE_BREAKER_COOLDOWN"],
  breakerCooldownMax: ["CONVOCORE_BREAKER_COOLDOWN_MAX"],
  concurrency: ["CONVOCORE_CONCURRENCY"],
  maxRate: ["CONVOCORE_MAX_RATE"]
} as const

type Key = keyof typeof variables

const decodeRegion = Schema.decodeUnknownEither(Region.RegionFromString)
const isRegionPolicy = Schema.is(RegionPolicy)

const invalid = (key: Key, message: string) =>
  ConfigError.InvalidData([variables[key][0]], `${variables[key].join(" / ")}: ${message}`)

/** A bare number is milliseconds; otherwise Effect's duration syntax (`10 seconds`, `500 millis`). */
const parseDuration = (key: Key, input: DurationSetting | undefined, fallback: Duration.Duration) => {
  if (input === undefined) return Either.right(Duration.toMillis(fallback))
  const decoded =
    typeof input === "string" && /^\s*\d+(\.\d+)?\s*$/.test(input)
      ? Option.some(Duration.millis(Number(input)))
      : Duration.decodeUnknown(input)
  if (Option.isNone(decoded) || !Duration.isFinite(decoded.value)) {
    return Either.left(
      invalid(key, `"${String(input)}" is not a duration (e.g. 10000, "10 seconds", "500 millis")`)
    )
  }
  return Either.right(Duration.toMillis(decoded.value))
}

const parseCount = (key: Key, input: number | undefined, fallback: number, min: number) => {
  const value = input ?? fallback
  return Number.isInteger(value) && value >= min
    ? Either.right(value)
    : Either.left(invalid(key, `${value} is not an integer of at least ${min}`))
}

const parseUrl = (key: Key, input: string) => {
  try {
    const url = new URL(input)
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return Either.left(invalid(key, `"${input}" is not an http(s) URL`))
    }
    // Paths are appended to the base (`/agents/...`), so a trailing slash would double up.
    return Either.right(url.toString().replace(/\/+$/, ""))
  } catch {
    return Either.left(invalid(key, `"${input}" is not a URL`))
  }
}

/** Validates an input into settings. Every failure names the variables (or option) it concerns. */
export const resolve = (
  input: ConvocoreConfigInput
): Effect.Effect<ConvocoreSettings, ConfigError.ConfigError> =>
  Effect.gen(function* () {
    const apiKey = typeof input.apiKey === "string" ? Redacted.make(input.apiKey) : input.apiKey
    if (Redacted.value(apiKey).trim().length === 0) {
      return yield* Effect.fail(invalid("apiKey", "the API key is empty"))
    }
    const region = decodeRegion(input.region ?? defaults.region)
    if (Either.isLeft(region)) {
      return yield* Effect.fail(
        invalid("region", `"${input.region}" is not a region: expected eu, na, eu-gcp or na-gcp`)
      )
    }
    const policy = (input.regionPolicy ?? defaults.regionPolicy).trim().toLowerCase()
    if (!isRegionPolicy(policy)) {
      return yield* Effect.fail(
        invalid(
          "regionPolicy",
          `"${input.regionPolicy}" is not a region policy: expected failover, pinned or auto`
        )
      )
    }
    const endpoints: Endpoints =
      input.baseUrl !== undefined
        ? { _tag: "Single", url: yield* parseUrl("baseUrl", input.baseUrl) }
        : {
            _tag: "Regions",
            urls: {
              eu: yield* parseUrl("euUrl", input.euUrl ?? Region.specBaseUrls.eu),
              na: yield* parseUrl("naUrl", input.naUrl ?? Region.specBaseUrls.na)
            }
          }
    const attemptTimeoutMs = yield* parseDuration(
      "attemptTimeout",
      input.attemptTimeout,
      defaults.attemptTimeout
    )
    const deadlineMs = yield* parseDuration("deadline", input.deadline, defaults.deadline)
    const backoffBaseMs = yield* parseDuration("backoffBase", input.backoffBase, defaults.backoffBase)
    const backoffMaxMs = yield* parseDuration("backoffMax", input.backoffMax, defaults.backoffMax)
    const retryAfterCapMs = yield* parseDuration("retryAfterCap", input.retryAfterCap, defaults.retryAfterCap)
    const hedgeDelayMs =
      input.hedgeDelay === undefined
        ? undefined
        : yield* parseDuration("hedgeDelay", input.hedgeDelay, Duration.zero)
    const cooldownMs = yield* parseDuration(
      "breakerCooldown",
      input.breakerCooldown,
      defaults.breakerCooldown
    )
    const cooldownMaxMs = yield* parseDuration(
      "breakerCooldownMax",
      input.breakerCooldownMax,
      defaults.breakerCooldownMax
    )
    if (attemptTimeoutMs <= 0) return yield* Effect.fail(invalid("attemptTimeout", "must be positive"))
    if (deadlineMs <= 0) return yield* Effect.fail(invalid("deadline", "must be positive"))
    const { maxRate } = input
    if (maxRate !== undefined && !(Number.isFinite(maxRate) && maxRate > 0)) {
      return yield* Effect.fail(
        invalid("maxRate", `${maxRate} is not a positive number of requests per second`)
      )
    }
    return {
      apiKey,
      region: region.right,
      endpoints,
      regionPolicy: policy,
      attemptTimeoutMs,
      deadlineMs,
      maxAttempts: yield* parseCount("maxAttempts", input.maxAttempts, defaults.maxAttempts, 1),
      backoffBaseMs,
      backoffMaxMs,
      retryAfterCapMs,
      hedgeDelayMs,
      breaker: {
        failureThreshold: yield* parseCount(
          "breakerThreshold",
          input.breakerThreshold,
          defaults.breakerThreshold,
          1
        ),
        cooldownMs,
        cooldownMaxMs: Math.max(cooldownMs, cooldownMaxMs)
      },
      concurrency: yield* parseCount("concurrency", input.concurrency, defaults.concurrency, 1),
      maxRate
    }
  })

/** The first of a variable's names that is set. */
const firstOf = <A>(names: ReadonlyArray<string>, read: (name: string) => Config.Config<A>) =>
  Config.map(Config.all(names.map((name) => Config.option(read(name)))), (values) =>
    Option.getOrUndefined(Option.firstSomeOf(values))
  )

const text = (key: Key) => firstOf(variables[key], (name) => Config.string(name))
const integer = (key: Key) => firstOf(variables[key], (name) => Config.integer(name))

/** The whole configuration from Effect `Config`: environment variables by default. */
export const config: Config.Config<ConvocoreSettings> = Config.all({
  apiKey: firstOf(variables.apiKey, (name) => Config.redacted(name)),
  region: text("region"),
  euUrl: text("euUrl"),
  naUrl: text("naUrl"),
  baseUrl: text("baseUrl"),
  regionPolicy: text("regionPolicy"),
  attemptTimeout: text("attemptTimeout"),
  deadline: text("deadline"),
  maxAttempts: integer("maxAttempts"),
  backoffBase: text("backoffBase"),
  backoffMax: text("backoffMax"),
  retryAfterCap: text("retryAfterCap"),
  hedgeDelay: text("hedgeDelay"),
  breakerThreshold: integer("breakerThreshold"),
  breakerCooldown: text("breakerCooldown"),
  breakerCooldownMax: text("breakerCooldownMax"),
  concurrency: integer("concurrency"),
  maxRate: firstOf(variables.maxRate, (name) => Config.number(name))
}).pipe(
  Config.mapOrFail(({ apiKey, ...rest }) =>
    apiKey === undefined
      ? Either.left(
          ConfigError.MissingData(
            [variables.apiKey[0]],
            `No Convocore API key: read ${variables.apiKey.join(" and ")}, neither is set`
          )
        )
      : Either.flatMap(Either.right({ ...rest, apiKey }), (input) =>
          // `resolve` is an Effect only for its generator syntax; it never suspends.
          Effect.runSync(Effect.either(resolve(input)))
        )
  )
)

/** The client's configuration service. */
export class ConvocoreConfig extends Context.Tag("@convocore-effect/client/ConvocoreConfig")<
  ConvocoreConfig,
  ConvocoreSettings
>() {
  /** Read from the environment (or the current `ConfigProvider`). */
  static readonly layerConfig: Layer.Layer<ConvocoreConfig, ConfigError.ConfigError> = Layer.effect(
    ConvocoreConfig,
    config
  )

  /** Given in code; validated like the environment. */
  static readonly layer = (
    input: ConvocoreConfigInput
  ): Layer.Layer<ConvocoreConfig, ConfigError.ConfigError> => Layer.effect(ConvocoreConfig, resolve(input))

  static readonly make = resolve
}
