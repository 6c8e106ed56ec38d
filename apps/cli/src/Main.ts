/**
 * The `convocore` program: wiring only. The command line goes to @effect/cli; help and `--version` were
 * answered before this module was loaded (bin.ts). Every failure ends here as an exit code of docs/design.md: a usage error is one line,
 * a defect too, never a stack trace (which could carry request details).
 */
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, type Console, Effect, Exit } from "effect"
import { root, tree } from "./Cli.js"
import * as CommandTree from "./CommandTree.js"
import { ExitCode } from "./ExitCode.js"
import * as PlatformLayer from "./PlatformLayer.js"
import { version } from "./version.js"

const cli = Command.run(root, { name: "convocore", version })

// @effect/cli writes in colour whatever the stream (the wizard, its messages); honour NO_COLOR and pipes.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
const ansiEscape = /\u001b\[[0-9;]*m/g
const colourless = (stream: NodeJS.WriteStream) =>
  stream.isTTY !== true || (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "")
const strip = (args: ReadonlyArray<unknown>) =>
  args.map((arg) => (typeof arg === "string" ? arg.replace(ansiEscape, "") : arg))

const args = process.argv.slice(2)
const located = CommandTree.locate(tree, args)
const wizard = CommandTree.optionWords(args).includes("--wizard")

/** Every usage error is this one line (exit 2): what was wrong, and where the help is. */
const usageError = (message: string) =>
  Effect.sync(() => {
    const text = message.replace(ansiEscape, "").replace(/\s+/g, " ").trim()
    const sentence = /^[A-Z][a-z]/.test(text) ? `${text[0]?.toLowerCase()}${text.slice(1)}` : text
    process.stderr.write(`convocore: ${sentence} (see '${located.path.join(" ")} --help')\n`)
    process.exitCode = ExitCode.usage
  })

/** At the end of standard input the wizard would wait forever for an answer. */
class EndOfInput {
  readonly _tag = "EndOfInput"
}
const endOfInput = Effect.async<never, EndOfInput>((resume) => {
  const onEnd = () => resume(Effect.fail(new EndOfInput()))
  process.stdin.once("end", onEnd)
  return Effect.sync(() => process.stdin.off("end", onEnd))
})

// @effect/cli prints usage errors as a block of its own; usageError says them in one line instead.
const quiet = (base: Console.Console): Console.Console => ({
  ...base,
  log: (...args) => base.log(...(colourless(process.stdout) ? strip(args) : args)),
  error: () => Effect.void
})
const parsed = Effect.flatMap(Effect.console, (base) => Effect.withConsole(cli(process.argv), quiet(base)))

const run = parsed.pipe(
  (effect) => (wizard ? Effect.raceFirst(effect, endOfInput) : effect),
  Effect.matchCauseEffect({
    onSuccess: () => Effect.void,
    onFailure: (cause) => {
      // Ctrl-C in the wizard: the shell convention for "stopped by a signal".
      if (Cause.isInterruptedOnly(cause))
        return Effect.sync(() => {
          process.exitCode = 130
        })
      const failure = Cause.failureOption(cause)
      if (failure._tag === "Some") {
        const error = failure.value
        if (error instanceof EndOfInput)
          return usageError("--wizard: end of input before the command was complete")
        if (ValidationError.isValidationError(error))
          return ValidationError.isHelpRequested(error)
            ? Effect.void
            : usageError(HelpDoc.toAnsiText(error.error))
        // The command already told the user what went wrong.
        return Effect.sync(() => {
          process.exitCode = error.code
        })
      }
      const defect = Cause.squash(cause)
      return Effect.sync(() => {
        process.stderr.write(
          `convocore: internal error: ${defect instanceof Error ? defect.message : String(defect)}\n`
        )
        process.exitCode = ExitCode.internal
      })
    }
  })
)

const program =
  located.unknown !== undefined
    ? usageError(`unknown command "${located.unknown}" for "${located.path.join(" ")}"`)
    : run.pipe(Effect.provide(PlatformLayer.layer))

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  // Its pretty logger writes to stdout; the program installs one that writes to stderr.
  disablePrettyLogger: true,
  teardown: (exit, onExit) => {
    // Interrupted by SIGINT/SIGTERM: the shell convention for "stopped by a signal".
    const code =
      Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) ? 130 : Number(process.exitCode ?? 0)
    // A failure exits at once (the platform's way). A success leaves once stdout and stderr have taken
    // all that was written: waiting for the event loop to empty would also wait for V8 to finish its
    // idle-time work (a garbage collection begun during the run), 8 to 30 ms of a `get` (bench/README.md).
    if (code !== 0) onExit(code)
    else process.stdout.write("", () => process.stderr.write("", () => process.exit(0)))
  }
})
