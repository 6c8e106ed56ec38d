/**
 * The completion scripts, run by the shells themselves: options and their values complete after nested
 * subcommands (`convocore conversations get --format <Tab>`). A shell that is not installed skips its
 * tests and says so (`.ci/run` installs bash, zsh and fish).
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { binary } from "./services/Binary.js"

const installed = (shell: string) => spawnSync(shell, ["-c", "exit 0"]).status === 0
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "convocore-completions-"))
const script = (shell: string, file: string) => {
  const path = Path.join(dir, file)
  Fs.writeFileSync(path, execFileSync(process.execPath, [binary, "--completions", shell]))
  return path
}
const words = (text: string) => text.split(/\s+/).filter((word) => word !== "")

/** Each shell's answer for the same lines; `offered(line)` lists the candidates. */
const cases = (offered: (line: string) => ReadonlyArray<string>) => {
  it.effect("completes a nested subcommand's options", () =>
    Effect.sync(() => {
      const options = offered("convocore conversations get --")
      for (const option of ["--format", "--fields", "--region", "--sandbox", "--help"])
        assert.include(options, option)
      assert.notInclude(options, "--concurrency", "an export option is not a get option")
      assert.deepStrictEqual(offered("convocore conversations export --con"), ["--concurrency"])
    })
  )
  it.effect("completes an option's values after nested subcommands", () =>
    Effect.sync(() => {
      assert.deepStrictEqual([...offered("convocore conversations get --format ")].sort(), [
        "json",
        "pretty",
        "yaml"
      ])
      assert.deepStrictEqual(offered("convocore conversations export --format c"), ["csv"])
      assert.deepStrictEqual([...offered("convocore conversations get --region-policy ")].sort(), [
        "auto",
        "failover",
        "pinned"
      ])
    })
  )
  it.effect("completes subcommands at each level", () =>
    Effect.sync(() => {
      assert.deepStrictEqual(offered("convocore conv"), ["conversations"])
      assert.includeMembers([...offered("convocore conversations ")], ["export", "get"])
    })
  )
}

const skipped = (shell: string) => `${shell} (skipped: ${shell} is not installed; apt-get install ${shell})`

describe.skipIf(!installed("bash"))(installed("bash") ? "bash" : skipped("bash"), () => {
  const file = installed("bash") ? script("bash", "convocore.bash") : ""
  const run = (snippet: string, line: string) =>
    execFileSync(
      "bash",
      ["-c", `source "$0"; ${snippet}`, file, ...words(line), ...(line.endsWith(" ") ? [""] : [])],
      {
        encoding: "utf8"
      }
    )
  it.effect("registers a completion function for convocore", () =>
    Effect.sync(() => {
      assert.match(run("complete -p convocore", ""), /-F _convocore_bash_completions .*convocore$/m)
    })
  )
  cases((line) =>
    words(
      run(
        // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's ${...}, not a template
        'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _convocore_bash_completions convocore "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; printf "%s\\n" "${COMPREPLY[@]}"',
        line
      )
    )
  )
})

describe.skipIf(!installed("fish"))(installed("fish") ? "fish" : skipped("fish"), () => {
  const file = installed("fish") ? script("fish", "convocore.fish") : ""
  cases((line) =>
    execFileSync("fish", ["-c", `source ${file}; complete -C "${line}"`], { encoding: "utf8" })
      .split("\n")
      .filter((row) => row !== "")
      .map((row) => row.split("\t")[0] ?? "")
  )
})

describe.skipIf(!installed("zsh"))(installed("zsh") ? "zsh" : skipped("zsh"), () => {
  const functions = Path.join(dir, "zsh")
  if (installed("zsh")) {
    Fs.mkdirSync(functions)
    // Where zsh looks for completion functions: a file named after the function, on fpath.
    Fs.renameSync(script("zsh", "_convocore"), Path.join(functions, "_convocore"))
  }
  const harness = fileURLToPath(new URL("./services/zsh-complete.zsh", import.meta.url))
  cases((line) =>
    words(execFileSync("zsh", [harness, functions, line], { encoding: "utf8", timeout: 20_000 }))
  )
})
