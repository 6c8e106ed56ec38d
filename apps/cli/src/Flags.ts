/**
 * Options shared by every command that talks to Convocore, and the values they parse to. They sit on
 * each leaf command (not on `convocore` itself) so that they can be written anywhere after it, as in
 * `convocore conversations get a b --verbose`.
 */

// Module by module, not the package index: the help path must not load the document schemas and ajv.
import { DurationFromString } from "@convocore-effect/schema/DurationFromString"
import * as Excerpt from "@convocore-effect/schema/Excerpt"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import { Config, Duration, Effect, Either, type Option, type Redacted, Schema } from "effect"

/**
 * Fails option parsing with one line, which the program prints as a usage error (exit 2), prefixed and
 * pointing to the command's help like every usage error (Main.ts).
 */
export const refuse = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

const decodeDuration = Schema.decodeEither(DurationFromString)

/**
 * A duration flag, in the grammar every package shares. A bare number is refused with a hint: to a person
 * `--timeout 5` reads as seconds, to the client's variables as milliseconds, so the unit is never guessed.
 */
const duration = (name: string, description: string) =>
  Options.text(name).pipe(
    Options.withPseudoName("duration"),
    Options.withDescription(description),
    Options.mapEffect((text) => {
      const decoded = decodeDuration(text)
      if (Either.isLeft(decoded))
        return Effect.fail(refuse(`--${name} ${Excerpt.cut(text)}: ${decoded.left.message}`))
      return Duration.greaterThan(decoded.right, Duration.zero)
        ? Effect.succeed(decoded.right)
        : Effect.fail(refuse(`--${name} ${text}: must be longer than zero`))
    }),
    Options.optional
  )

const firstOf = (names: ReadonlyArray<string>) =>
  names
    .slice(1)
    .reduce((config, name) => Config.orElse(config, () => Config.string(name)), Config.string(names[0] ?? ""))

export const shared = {
  region: Options.choice("region", ["eu", "na", "eu-gcp", "na-gcp"]).pipe(
    Options.withDescription("Region to start at: eu or na (env CONVOCORE_REGION; default eu)"),
    Options.withFallbackConfig(
      Config.map(firstOf(["CONVOCORE_REGION", "CONVOCORE_API_REGION"]), (text) => text.trim().toLowerCase())
    ),
    Options.optional
  ),
  regionPolicy: Options.choice("region-policy", ["failover", "pinned", "auto"]).pipe(
    Options.withDescription(
      "failover (default): move to the other region when one fails; pinned: never leave --region; auto: also look in the other region on 404 (env CONVOCORE_REGION_POLICY)"
    ),
    Options.withFallbackConfig(Config.string("CONVOCORE_REGION_POLICY")),
    Options.optional
  ),
  apiKey: Options.redacted("api-key").pipe(
    Options.withPseudoName("key"),
    Options.withDescription(
      "Workspace or agent secret; defaults to env CONVOCORE_API_KEY, then WORKSPACE_SECRET. Not needed with --sandbox"
    ),
    Options.optional
  ),
  timeout: duration("timeout", "Timeout of one attempt, e.g. 500ms, 2s (default 10s)"),
  deadline: duration(
    "deadline",
    "Time allowed for the whole call, retries and waits included, e.g. 30s, 1m (default 30s)"
  ),
  verbose: Options.boolean("verbose").pipe(
    Options.withDescription("Print the attempt trail (region, outcome, status, time) on stderr")
  ),
  sandbox: Options.boolean("sandbox").pipe(
    Options.withDescription(
      "Run against an in-process sandbox (no key, no network); faults from env CONVOCORE_SANDBOX_FAULT_EU / _NA"
    )
  )
}

export interface SharedFlags {
  readonly region: Option.Option<string>
  readonly regionPolicy: Option.Option<string>
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
  readonly timeout: Option.Option<Duration.Duration>
  readonly deadline: Option.Option<Duration.Duration>
  readonly verbose: boolean
  readonly sandbox: boolean
}
