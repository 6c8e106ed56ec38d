/**
 * What a person meets first: help, usage errors, `--version`, the wizard's ends. Each runs the built
 * binary, piped (so help is laid out for 80 columns).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { version } from "../src/version.js"
import { run } from "./services/Binary.js"

const lines = (text: string) => text.split("\n").filter((line) => line !== "")

describe("help", () => {
  it.effect("shows each command's full path, its required flags, and fits 80 columns", () =>
    Effect.gen(function* () {
      const pages = {
        "convocore <command> [flags]": yield* run(["--help"]),
        "convocore conversations <command> [flags]": yield* run(["conversations"]),
        "convocore conversations get <agentId> <convoId> [flags]": yield* run(["conversations", "get", "-h"]),
        "convocore conversations export <agentId> [flags]": yield* run([
          "conversations",
          "export",
          "x",
          "--help"
        ]),
        "convocore sandbox [flags]": yield* run(["sandbox", "--help"])
      }
      for (const [usage, result] of Object.entries(pages)) {
        assert.strictEqual(result.code, 0, result.stderr)
        assert.include(result.stdout, `\nUSAGE\n  $ ${usage}\n`)
        for (const line of result.stdout.split("\n")) assert.isAtMost(line.length, 80, line)
      }
      assert.match(pages["convocore <command> [flags]"].stdout, /\n {2}conversations +Read conversations\n/)
    })
  )

  it.effect("shows defaults beside the flags that have them", () =>
    Effect.gen(function* () {
      const exportHelp = (yield* run(["conversations", "export", "--help"])).stdout
      assert.match(
        exportHelp,
        /--concurrency integer +Requests in flight at once, 1\s+to\s+256\s+\(default 8\)/
      )
      assert.match(exportHelp, /--format ndjson\|csv +ndjson:[^(]*\(default ndjson\)\n {2}-o, --output/)
      assert.match((yield* run(["sandbox", "--help"])).stdout, /--port integer [^(]*\(default 4010\)/)
    })
  )
})

describe("usage errors", () => {
  const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
    [
      ["conversations", "get", "a", "b", "--format", "xml"],
      /--format: .*pretty, json, yaml.*'convocore conversations get --help'/
    ],
    [
      ["conversations", "export", "a", "--ids", "-", "--concurrency", "abc"],
      /--concurrency: 'abc' is not an integer.*'convocore conversations export --help'/
    ],
    [
      ["conversations", "export", "a", "--ids", "-", "--concurrency", "0"],
      /--concurrency 0: expected 1 to 256/
    ],
    [["conversations", "get", "a", "b", "--timeout", "5"], /--timeout 5: add a unit, e\.g\. 5s or 5000ms/],
    [["sandbox", "--port", "x"], /--port: 'x' is not an integer.*'convocore sandbox --help'/],
    [["conversations", "get", "a"], /missing argument <convoId>/],
    [["conversations", "get", "a", "b", "--frmat", "json"], /--frmat/],
    [
      ["conversations", "got"],
      /unknown command "got" for "convocore conversations".*'convocore conversations --help'/
    ]
  ]
  for (const [args, expected] of cases)
    it.effect(`${args.join(" ")}: one line naming what was wrong, exit 2`, () =>
      Effect.gen(function* () {
        const result = yield* run(args)
        assert.strictEqual(result.code, 2, result.stderr)
        assert.strictEqual(result.stdout, "")
        assert.lengthOf(lines(result.stderr), 1, result.stderr)
        assert.match(result.stderr, /^convocore: .*\(see '.*--help'\)\n$/)
        assert.match(result.stderr, expected)
      })
    )
})

describe("built-ins", () => {
  it.effect("--version prints the version alone", () =>
    Effect.gen(function* () {
      const result = yield* run(["--version"])
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout, `${version}\n`)
    })
  )

  it.effect("--wizard with stdin at its end exits 2 instead of waiting", () =>
    Effect.gen(function* () {
      const result = yield* run(["--wizard"], { stdin: "" }).pipe(Effect.timeout("20 seconds"))
      assert.strictEqual(result.code, 2, result.stderr)
      assert.match(result.stderr, /^convocore: --wizard: end of input/m)
    })
  )

  it.effect("Ctrl-C in the wizard exits 130", () =>
    Effect.gen(function* () {
      const result = yield* run(["--wizard"], { stdin: "\u0003", holdStdin: true }).pipe(
        Effect.timeout("20 seconds")
      )
      assert.strictEqual(result.code, 130, result.stderr)
    })
  )
})
