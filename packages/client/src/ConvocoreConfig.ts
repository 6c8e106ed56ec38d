/**
 * The client's configuration: read from Effect `Config` (environment variables, any `ConfigProvider`) or
 * given in code. Both paths go through one validation, so a value is refused the same way wherever it
 * came from, and every refusal names what was read.
 */
import { DurationFromMillisOrString, Excerpt, Region } from "@convocore-effect/schema"
import {
  ConfigError,
  ConfigProvider,
  Context,
  Duration,
  Effect,
  Either,
  Layer,
  Option,
  Redacted,
  Schema
} from "effect"
import * as Config from "effect/Config"

/**
 * How a call may move between regions:
 * - `failover`: start at the preferred region, move to the other one on the failures of the outcome table (docs/design.md);
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
  /**
   * The key every call sends unless it carries its own `credentials`. Absent only when the configuration
   * was read with `{ keyRequired: false }` (a proxy that forwards each caller's token): a call without
   * credentials is then refused before anything is sent.
   */
  readonly apiKey: Redacted.Redacted<string> | undefined
  readonly region: Region.Region
  readonly endpoints: Endpoints
  readonly regionPolicy: RegionPolicy
  readonly attemptTimeoutMs: number
  readonly deadlineMs: number
  readonly maxAttempts: number
  readonly backoffBaseMs: number
  readonly backoffMaxMs: number
  readonly retryAfterCapMs: number
  /**
   * When set, a call races the other region after this delay (hedging) and the loser is interrupted;
   * `adaptive`: after a delay learned from the region's recent answer times (./HedgeDelay.ts).
   */
  readonly hedgeDelayMs: number | "adaptive" | undefined
  readonly breaker: BreakerSettings
  /** Default concurrency of the many-ids stream. */
  readonly concurrency: number
  /** A ceiling on requests per second to each region (the rate controller never goes past it). */
  readonly maxRate: number | undefined
}

/**
 * A duration given in code: a `Duration.DurationInput` (a number is milliseconds), or text in the shared
 * grammar of `DurationFromMillisOrString` (`"30s"`, `"10 seconds"`, `"5000"`), as the environment gives it.
 */
export type DurationSetting = Duration.DurationInput | string

/** What code may give; everything but the key has a default. See `DurationSetting` for durations. */
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
  /** A duration, `"adaptive"` for a delay learned from recent answer times, or `"off"`. */
  readonly hedgeDelay?: DurationSetting | "adaptive" | "off" | undefined
  readonly breakerThreshold?: number | undefined
  readonly breakerCooldown?: DurationSetting | undefined
  readonly breakerCooldownMax?: DurationSetting | undefined
  readonly concurrency?: number | undefined
  /** Requests per second to each region, at most. */
  readonly maxRate?: number | undefined
}

/** Some settings given in code (a CLI's flags): each one, when not `undefined`, wins over the environment. */
export type GivenSettings = {
  readonly [K in keyof ConvocoreConfigInput]?: ConvocoreConfigInput[K] | undefined
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
} as const satisfies Record<keyof ConvocoreConfigInput, ReadonlyArray<string>>

type Key = keyof typeof variables

/** Reads one value, given in code or as environment text; `Left` says what is wrong with it. */
type Decode<I, A> = (input: I | string) => Either.Either<A, string>

const decodeRegion = Schema.decodeUnknownEither(Region.RegionFromString)
const decodeDurationText = Schema.decodeUnknownEither(DurationFromMillisOrString)
const isRegionPolicy = Schema.is(RegionPolicy)

const apiKey: Decode<Redacted.Redacted<string>, Redacted.Redacted<string>> = (input) => {
  const key = typeof input === "string" ? Redacted.make(input) : input
  return Redacted.value(key).trim().length === 0 ? Either.left("the API key is empty") : Either.right(key)
}

const region: Decode<string, Region.Region> = (input) =>
  Either.mapLeft(
    decodeRegion(input),
    () => `${Excerpt.quote(input)} is not a region: expected eu, na, eu-gcp or na-gcp`
  )

const regionPolicy: Decode<string, RegionPolicy> = (input) => {
  const policy = input.trim().toLowerCase()
  return isRegionPolicy(policy)
    ? Either.right(policy)
    : Either.left(`${Excerpt.quote(input)} is not a region policy: expected failover, pinned or auto`)
}

const url: Decode<string, string> = (input) => {
  // `URL.parse` would say this without an exception, but Node 20 does not have it.
  const parsed = URL.canParse(input) ? new URL(input) : undefined
  if (parsed === undefined) return Either.left(`${Excerpt.quote(input)} is not a URL`)
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    return Either.left(`${Excerpt.quote(input)} is not an http(s) URL`)
  // Paths are appended to the base (`/agents/...`), so a trailing slash would double up.
  return Either.right(parsed.toString().replace(/\/+$/, ""))
}

/** Milliseconds; text is the shared grammar, where a bare number is milliseconds. */
const duration =
  (rule: "positive" | "non-negative"): Decode<Duration.DurationInput, number> =>
  (input) => {
    // Effect reads a negative number as zero; a negative setting is a mistake to report instead.
    if (typeof input === "number" && input < 0) return Either.left(`${input} is negative`)
    const decoded =
      typeof input === "string"
        ? Either.mapLeft(decodeDurationText(input), (error) => error.message)
        : Either.fromOption(
            Duration.decodeUnknown(input),
            () => `${Excerpt.quote(String(input))} is not a duration`
          )
    return Either.flatMap(decoded, (value) => {
      const ms = Duration.toMillis(value)
      if (!Duration.isFinite(value)) return Either.left("must be finite")
      return rule === "positive" && ms <= 0 ? Either.left("must be positive") : Either.right(ms)
    })
  }

const rate: Decode<number, number> = (input) => {
  const value = typeof input === "string" && /^\s*\d+(\.\d+)?\s*$/.test(input) ? Number(input) : input
  return typeof value === "number" && Number.isFinite(value) && value > 0
    ? Either.right(value)
    : Either.left(`${Excerpt.quote(String(input))} is not a positive number of requests per second`)
}

const hedgeDelay: Decode<Duration.DurationInput, number | "adaptive" | "off"> = (input) => {
  if (typeof input === "string" && /^\s*(adaptive|auto)\s*$/i.test(input)) return Either.right("adaptive")
  if (typeof input === "string" && /^\s*(off|none)\s*$/i.test(input)) return Either.right("off")
  return Either.mapLeft(duration("non-negative")(input), (message) => `${message} (or "adaptive", or "off")`)
}

const count =
  (min: number): Decode<number, number> =>
  (input) => {
    const value = typeof input === "string" && /^\s*\d+\s*$/.test(input) ? Number(input) : input
    return typeof value === "number" && Number.isSafeInteger(value) && value >= min
      ? Either.right(value)
      : Either.left(`${Excerpt.quote(String(input))} is not a whole number of at least ${min}`)
  }

/** A value given in code is named by its field; one read from the environment, by its variables. */
const refusal = (key: Key, given: boolean, message: string) =>
  ConfigError.InvalidData(
    [given ? key : variables[key][0]],
    `${given ? key : variables[key].join(" / ")}: ${message}`
  )

/**
 * One setting: the value given in code if there is one, else the first of its variables that is set,
 * else `undefined` (its default applies). Either way it goes through the same `decode`.
 */
const setting = <I, A>(
  key: Key,
  decode: Decode<I, A>,
  given: I | string | undefined,
  read: (name: string) => Config.Config<I | string> = Config.string
): Config.Config<A | undefined> => {
  const source: Config.Config<{ readonly value: I | string; readonly given: boolean } | undefined> =
    given !== undefined
      ? Config.succeed({ value: given, given: true })
      : Config.map(Config.all(variables[key].map((name) => Config.option(read(name)))), (values) =>
          Option.match(Option.firstSomeOf(values), {
            onNone: () => undefined,
            onSome: (value) => ({ value, given: false })
          })
        )
  return Config.mapOrFail(source, (found) =>
    found === undefined
      ? Either.right(undefined)
      : Either.mapLeft(decode(found.value), (message) => refusal(key, found.given, message))
  )
}

const withDefault = <A>(config: Config.Config<A | undefined>, fallback: A) =>
  Config.map(config, (value) => value ?? fallback)

type DurationKey = {
  [K in keyof typeof defaults]: (typeof defaults)[K] extends Duration.Duration ? K : never
}[keyof typeof defaults]

/**
 * The configuration read from Effect `Config` (environment variables by default), except the settings
 * `given` in code, which win. Every setting is checked, and every problem is reported at once (the
 * `ConfigError`s are combined), each naming its variable or field.
 */
export const configWith = (
  given: GivenSettings = {},
  options: { readonly keyRequired?: boolean } = {}
): Config.Config<ConvocoreSettings> => {
  const millis = (key: DurationKey, rule: "positive" | "non-negative") =>
    withDefault(setting(key, duration(rule), given[key]), Duration.toMillis(defaults[key]))
  return Config.all({
    apiKey: Config.mapOrFail(
      setting("apiKey", apiKey, given.apiKey, (name) => Config.redacted(name)),
      (key) =>
        key === undefined && options.keyRequired !== false
          ? Either.left(
              ConfigError.MissingData(
                [variables.apiKey[0]],
                `No Convocore API key: read ${variables.apiKey.join(" and ")}, neither is set`
              )
            )
          : Either.right(key)
    ),
    region: withDefault(setting("region", region, given.region), defaults.region),
    euUrl: setting("euUrl", url, given.euUrl),
    naUrl: setting("naUrl", url, given.naUrl),
    baseUrl: setting("baseUrl", url, given.baseUrl),
    regionPolicy: withDefault(
      setting("regionPolicy", regionPolicy, given.regionPolicy),
      defaults.regionPolicy
    ),
    attemptTimeoutMs: millis("attemptTimeout", "positive"),
    deadlineMs: millis("deadline", "positive"),
    maxAttempts: withDefault(setting("maxAttempts", count(1), given.maxAttempts), defaults.maxAttempts),
    backoffBaseMs: millis("backoffBase", "non-negative"),
    backoffMaxMs: millis("backoffMax", "non-negative"),
    retryAfterCapMs: millis("retryAfterCap", "non-negative"),
    hedgeDelayMs: Config.map(setting("hedgeDelay", hedgeDelay, given.hedgeDelay), (delay) =>
      delay === "off" ? undefined : delay
    ),
    failureThreshold: withDefault(
      setting("breakerThreshold", count(1), given.breakerThreshold),
      defaults.breakerThreshold
    ),
    cooldownMs: millis("breakerCooldown", "non-negative"),
    cooldownMaxMs: millis("breakerCooldownMax", "non-negative"),
    concurrency: withDefault(setting("concurrency", count(1), given.concurrency), defaults.concurrency),
    maxRate: setting("maxRate", rate, given.maxRate)
  }).pipe(
    Config.map(({ baseUrl, cooldownMaxMs, cooldownMs, euUrl, failureThreshold, naUrl, ...settings }) => ({
      ...settings,
      endpoints:
        baseUrl !== undefined
          ? { _tag: "Single", url: baseUrl }
          : {
              _tag: "Regions",
              urls: { eu: euUrl ?? Region.specBaseUrls.eu, na: naUrl ?? Region.specBaseUrls.na }
            },
      breaker: { failureThreshold, cooldownMs, cooldownMaxMs: Math.max(cooldownMs, cooldownMaxMs) }
    }))
  )
}

/** The whole configuration from Effect `Config`: environment variables by default. */
export const config: Config.Config<ConvocoreSettings> = configWith()

/** No variables: what code does not give takes its default. */
const nothingSet = ConfigProvider.fromMap(new Map())

/**
 * Validates settings given in code; the environment is not read. Every problem is reported at once. With
 * `{ keyRequired: false }` the key may be left out (every call then brings its own `credentials`).
 */
export const resolve = (
  input: GivenSettings,
  options: { readonly keyRequired?: boolean } = {}
): Effect.Effect<ConvocoreSettings, ConfigError.ConfigError> =>
  Effect.withConfigProvider(configWith(input, options), nothingSet)

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

  /** Read from the current `ConfigProvider`, except the settings given here (a CLI's flags), which win. */
  static readonly layerConfigWith = (
    given: GivenSettings,
    options: { readonly keyRequired?: boolean } = {}
  ): Layer.Layer<ConvocoreConfig, ConfigError.ConfigError> =>
    Layer.effect(ConvocoreConfig, configWith(given, options))

  static readonly make = resolve
}
