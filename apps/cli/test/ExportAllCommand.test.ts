import { spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Sandbox } from "@convocore-effect/sandbox"
import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { binary, run } from "./services/Binary.js"
import * as SandboxEnv from "./services/SandboxEnv.js"

/** An agent with a long history, and one with a few pages. */
const history = "agent-history"
const small = "agent-small"
const historyCount = 2000
const smallCount = 75

const sandbox = Sandbox.layerListening({
  port: 0,
  conversations: { [history]: historyCount, [small]: smallCount }
})

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "convocore-export-all-"))

/** The ids the agent lists, in order, through the CLI's own `list`. */
const listed = (agentId: string) =>
  Effect.gen(function* () {
    const env = yield* SandboxEnv.env
    const result = yield* run(["conversations", "list", agentId], { env })
    assert.strictEqual(result.code, 0, result.stderr)
    return result.stdout
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => (JSON.parse(line) as { readonly ID: string }).ID)
  })

/** Asserts that `text` holds each id's served document exactly once, byte for byte. */
const assertExactlyOnce = (text: string, agentId: string, ids: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    assert.isTrue(text.endsWith("\n"), "the output ends with a whole line")
    const lines = text.split(/(?<=\n)/)
    assert.strictEqual(lines.length, ids.length, "one line per listed conversation")
    const expected = yield* Effect.forEach(
      ids,
      (id) => Effect.map(SandboxEnv.served(agentId, id), (served) => SandboxEnv.expectedLine(served.body)),
      { concurrency: 16 }
    )
    assert.deepStrictEqual([...lines].sort(), [...expected].sort())
  })

const requests = Effect.flatMap(Sandbox.Sandbox, (s) =>
  Effect.map(Effect.all([s.counters("eu"), s.counters("na")]), ([eu, na]) => eu.requests + na.requests)
)

// The real clock, not the TestClock: the sandbox's token bucket refills as time passes.
layer(sandbox, { excludeTestServices: true })("conversations export --all", (it) => {
  it.effect("exports every listed conversation once, each line the served document", () =>
    Effect.gen(function* () {
      const env = yield* SandboxEnv.env
      const ids = yield* listed(small)
      assert.strictEqual(ids.length, smallCount)
      const result = yield* run(["conversations", "export", small, "--all", "--concurrency", "4"], { env })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.match(result.stderr, new RegExp(`^convocore: exported ${smallCount} conversations\\n`))
      yield* assertExactlyOnce(result.stdout, small, ids)
    })
  )

  it.effect(
    "killed with SIGKILL mid-export, --resume completes it: each conversation once, byte for byte",
    () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const ids = yield* listed(history)
        assert.strictEqual(ids.length, historyCount)
        const output = Path.join(tempDir(), "history.ndjson")
        const journal = `${output}.journal`
        const args = ["conversations", "export", history, "--all", "-o", output, "--concurrency", "8"]
        const killed = yield* run(args, {
          env,
          onStart: (child) => {
            const poll = setInterval(() => {
              // Once the listing has a resume point and about a third is written.
              const text = Fs.existsSync(journal) ? Fs.readFileSync(journal, "utf8") : ""
              if (text.includes('["listed",') && text.split("\n").length > historyCount / 3) {
                clearInterval(poll)
                child.kill("SIGKILL")
              }
            }, 5)
            child.on("close", () => clearInterval(poll))
          }
        })
        assert.strictEqual(killed.signal, "SIGKILL", "the first run was killed before it finished")
        // A write torn by the kill: half a record at the end of the file.
        Fs.appendFileSync(output, '{"ID":"torn","userName":"Hal')
        const before = Fs.readFileSync(output, "utf8").split("\n").length - 1
        assert.isAbove(before, 0)
        assert.isBelow(before, historyCount)

        const journaledBefore = Fs.readFileSync(journal, "utf8")
        const sent = yield* requests
        const resumed = yield* run([...args, "--resume"], { env })
        const resumeSent = (yield* requests) - sent
        assert.strictEqual(resumed.code, 0, resumed.stderr)
        // The records the journal confirmed are kept; the rest (a record written but not yet journaled when
        // the kill came, and the torn one) are cut and fetched again.
        const journaled = journaledBefore.match(/^\[\d+,"/gm)?.length ?? 0
        assert.isAtLeast(journaled, before - 1)
        assert.match(
          resumed.stderr,
          new RegExp(`^convocore: exported ${historyCount - journaled} conversations`)
        )
        yield* assertExactlyOnce(Fs.readFileSync(output, "utf8"), history, ids)
        // It listed from where the first run stopped: a get per conversation left and a page per 20 of
        // them (and the pages in progress), not the whole listing of 100 pages again.
        const left = historyCount - before
        assert.isAtMost(resumeSent, left + Math.ceil(left / 20) + 12)

        // Resumed again once complete: nothing is asked, nothing written.
        const size = Fs.statSync(output).size
        const sentBefore = yield* requests
        const again = yield* run([...args, "--resume"], { env })
        assert.strictEqual(again.code, 0, again.stderr)
        assert.match(again.stderr, /^convocore: exported 0 conversations\n/)
        assert.strictEqual(Fs.statSync(output).size, size)
        assert.strictEqual((yield* requests) - sentBefore, 0)
      })
  )

  it.effect(
    "against a rate limit: stderr (not a terminal) is only the summary, its last line the requests and 429s",
    () =>
      SandboxEnv.withFaults(
        { eu: "rate=40/s,burst=5" },
        Effect.gen(function* () {
          const env = yield* SandboxEnv.env
          const sandbox = yield* Sandbox.Sandbox
          yield* sandbox.resetCounters()
          const result = yield* run(
            ["conversations", "export", small, "--all", "--concurrency", "16", "--region-policy", "pinned"],
            { env }
          )
          assert.strictEqual(result.code, 0, result.stderr)
          const eu = yield* sandbox.counters("eu")
          const throttled = eu.byOutcome["rate-limited"] ?? 0
          assert.isAbove(throttled, 0, "the sandbox refused some requests with 429")
          const lines = result.stderr.split("\n")
          assert.strictEqual(lines.length, 3, result.stderr)
          assert.strictEqual(lines[0], `convocore: exported ${smallCount} conversations`)
          const last =
            /^convocore: (\d+) requests sent, (\d+) answered 429 \((\d+\.\d)%\), (\d+\.\d) requests\/s achieved over (\d+\.\d) s$/.exec(
              lines[1] ?? ""
            )
          assert.isNotNull(last, lines[1])
          const [, sent, refused, share, rate, seconds] = (last ?? []).map(Number)
          // What the CLI counted is what the sandbox saw: every get and every page, and each 429.
          assert.strictEqual(sent, eu.requests)
          assert.strictEqual(refused, throttled)
          assert.strictEqual(share, Number((((refused ?? 0) * 100) / (sent ?? 1)).toFixed(1)))
          // The rate from the exact time; the time printed to a tenth of a second, the rate to a tenth.
          assert.isAtLeast(rate ?? 0, (sent ?? 0) / ((seconds ?? 0) + 0.05) - 0.05)
          assert.isAtMost(rate ?? 0, (sent ?? 0) / ((seconds ?? 0) - 0.05) + 0.05)
          // Paced to the limit: nowhere near the unthrottled rate, and not far above the bucket's 40/s.
          assert.isBelow(rate ?? 0, 60)
        })
      )
  )

  it.effect("on a terminal, a progress line: done of listed so far, rate, 429s", () =>
    SandboxEnv.withFaults(
      { eu: "rate=40/s,burst=5" },
      Effect.gen(function* () {
        // util-linux's `script` gives the CLI a pseudo-terminal; without it there is nothing to test.
        if (spawnSync("script", ["--version"]).status !== 0) return
        const env = yield* SandboxEnv.env
        const output = Path.join(tempDir(), "out.ndjson")
        const command = [process.execPath, binary, "conversations", "export", small, "--all", "-o", output]
        const transcript = yield* Effect.async<string>((resume) => {
          const child = spawn("script", ["-qec", command.join(" "), "/dev/null"], {
            env: { PATH: process.env.PATH, ...env },
            stdio: ["ignore", "pipe", "pipe"]
          })
          let text = ""
          child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
            text += chunk
          })
          child.on("close", () => resume(Effect.succeed(text)))
          return Effect.sync(() => child.kill("SIGKILL"))
        })
        assert.match(transcript, /exporting \d+ of \d+ listed so far \| \d+\.\d\/s \| 429s \d+ \| \d+s/)
        assert.match(transcript, /exporting \d+ of \d+ listed so far \| \d+\.\d\/s \| 429s [1-9]/)
        assert.include(transcript, `convocore: exported ${smallCount} conversations`)
        assert.strictEqual(Fs.readFileSync(output, "utf8").split("\n").length, smallCount + 1)
      })
    )
  )

  describe("refusals", () => {
    it.effect("--all with --ids, or neither, is a usage error (exit 2)", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const both = yield* run(["conversations", "export", small, "--all", "--ids", "-"], {
          env,
          stdin: "x"
        })
        assert.strictEqual(both.code, 2)
        assert.match(both.stderr, /--all and --ids are two sources: give one of them/)
        assert.strictEqual(both.stdout, "")
        const neither = yield* run(["conversations", "export", small], { env })
        assert.strictEqual(neither.code, 2)
        assert.match(neither.stderr, /export needs --ids FILE .*or --all/)
      })
    )
  })
})
