import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Fixtures, Sandbox } from "@convocore-effect/sandbox"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as CsvRecord from "../src/CsvRecord.js"
import { binary, run } from "./services/Binary.js"
import * as Csv from "./services/Csv.js"
import * as SandboxEnv from "./services/SandboxEnv.js"

const agent = Fixtures.demoAgent

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "convocore-export-"))

/**
 * The whole of stderr of an export that went through: its line (a pattern), then the requests it sent
 * (a healthy sandbox: one per id, none refused) and the rate achieved.
 */
const summary = (line: string, requests: number) =>
  new RegExp(
    `^convocore: ${line}\\nconvocore: ${requests} requests? sent, 0 answered 429${requests === 0 ? "" : " \\(0\\.0%\\)"}, \\d+\\.\\d requests/s achieved over \\d+\\.\\d s\\n$`
  )

const ndjsonLines = (text: string) =>
  text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as { readonly ID: string })

layer(SandboxEnv.layer)("conversations export", (it) => {
  it.effect("exports 5,000 ids to NDJSON, every one once and valid", () =>
    Effect.gen(function* () {
      const env = yield* SandboxEnv.env
      const dir = tempDir()
      const ids = Array.from({ length: 5000 }, (_, i) => `bulk-${i}`)
      Fs.writeFileSync(Path.join(dir, "ids.txt"), `${ids.join("\n")}\n`)
      const output = Path.join(dir, "out.ndjson")
      const result = yield* run(
        [
          "conversations",
          "export",
          agent,
          "--ids",
          Path.join(dir, "ids.txt"),
          "-o",
          output,
          "--concurrency",
          "32"
        ],
        { env }
      )
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout, "")
      assert.match(result.stderr, summary("exported 5000 conversations", 5000))
      const lines = ndjsonLines(Fs.readFileSync(output, "utf8"))
      assert.strictEqual(lines.length, 5000)
      assert.deepStrictEqual(new Set(lines.map((line) => line.ID)), new Set(ids))
      const again = yield* run(
        ["conversations", "export", agent, "--ids", Path.join(dir, "ids.txt"), "-o", output, "--resume"],
        { env }
      )
      assert.strictEqual(again.code, 0, again.stderr)
      assert.match(again.stderr, summary("exported 0 conversations \\(5000 already written, skipped\\)", 0))
      assert.strictEqual(ndjsonLines(Fs.readFileSync(output, "utf8")).length, 5000)
    })
  )

  it.effect("keeps stdout for documents when the client logs (EU down opens its circuit)", () =>
    SandboxEnv.withFaults(
      { eu: "down" },
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const ids = Array.from({ length: 40 }, (_, i) => `logged-${i}`)
        const result = yield* run(["conversations", "export", agent, "--ids", "-", "--concurrency", "1"], {
          env,
          stdin: ids.join("\n")
        })
        assert.strictEqual(result.code, 0, result.stderr)
        assert.strictEqual(ndjsonLines(result.stdout).length, ids.length)
        assert.match(result.stderr, /circuit opened/)
      })
    )
  )

  it.effect("counts in the singular for one conversation", () =>
    Effect.gen(function* () {
      const env = yield* SandboxEnv.env
      const result = yield* run(["conversations", "export", agent, "--ids", "-"], {
        env,
        stdin: `${Fixtures.ids.seedExample}\n`
      })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.match(result.stderr, summary("exported 1 conversation", 1))
    })
  )

  it.effect("writes each line exactly as `get --format json` prints it, ids from stdin", () =>
    Effect.gen(function* () {
      const env = yield* SandboxEnv.env
      const ids = [Fixtures.ids.seedExample, Fixtures.ids.voiceCall, "a/b?c#d e", "ünï"]
      const result = yield* run(["conversations", "export", agent, "--ids", "-", "--concurrency", "1"], {
        env,
        stdin: `${ids.join("\r\n")}\r\n\n`
      })
      assert.strictEqual(result.code, 0, result.stderr)
      const expected = yield* Effect.forEach(ids, (id) =>
        Effect.map(SandboxEnv.served(agent, id), (served) => SandboxEnv.expectedLine(served.body))
      )
      assert.deepStrictEqual(result.stdout.split(/(?<=\n)/).sort(), [...expected].sort())
    })
  )

  it.effect("writes CSV: the default columns, quoted where needed, values from the document", () =>
    Effect.gen(function* () {
      const env = yield* SandboxEnv.env
      const ids = [Fixtures.ids.seedExample, Fixtures.ids.dashboard, Fixtures.ids.voiceCall, "gen-1", "gen-2"]
      const result = yield* run(
        ["conversations", "export", agent, "--ids", "-", "--format", "csv", "--concurrency", "1"],
        { env, stdin: ids.join("\n") }
      )
      assert.strictEqual(result.code, 0, result.stderr)
      const [header, ...rows] = Csv.parse(result.stdout)
      assert.deepStrictEqual(
        header,
        CsvRecord.defaultColumns.map((c) => c.join("."))
      )
      assert.strictEqual(rows.length, ids.length)
      // The seed's tags hold quotes and a comma: the cell must be quoted, its quotes doubled.
      assert.include(result.stdout, '"[""new-lead"",""high-priority""]"')
      for (const row of rows) {
        const convoId = row[0] ?? ""
        const served = yield* SandboxEnv.served(agent, convoId)
        const document = JSON.parse(served.body).data
        const expected = CsvRecord.defaultColumns.map((column, i) =>
          i === 0
            ? convoId
            : CsvRecord.cell(
                column.reduce<unknown>(
                  (v, key) => (v as Record<string, unknown> | undefined)?.[key],
                  document
                )
              )
        )
        assert.deepStrictEqual(row, expected, convoId)
      }
    })
  )

  it.effect("CSV --fields chooses the columns", () =>
    Effect.gen(function* () {
      const env = yield* SandboxEnv.env
      const result = yield* run(
        [
          "conversations",
          "export",
          agent,
          "--ids",
          "-",
          "--format",
          "csv",
          "--fields",
          "userName,userAddress,tags"
        ],
        { env, stdin: Fixtures.ids.seedExample }
      )
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(
        result.stdout,
        'userName,userAddress,tags\nJohn Doe,"123 Main St, City, State","[""new-lead"",""high-priority""]"\n'
      )
    })
  )

  it.effect("lists failures at the end and exits 8, exporting the rest", () =>
    Effect.gen(function* () {
      const env = yield* SandboxEnv.env
      const ids = ["ok-1", Fixtures.ids.notFound, "ok-2", Fixtures.ids.forbidden, "bad\u0001id", "ok-3"]
      const result = yield* run(["conversations", "export", agent, "--ids", "-"], {
        env,
        stdin: ids.join("\n")
      })
      assert.strictEqual(result.code, 8, result.stderr)
      assert.deepStrictEqual(
        ndjsonLines(result.stdout)
          .map((d) => d.ID)
          .sort(),
        ["ok-1", "ok-2", "ok-3"]
      )
      assert.match(result.stderr, /exported 3 conversations; 3 failed:/)
      assert.match(result.stderr, /"not-found": not found: Conversation not found/)
      assert.match(result.stderr, /"plan-gated": forbidden: Business plan or higher/)
      assert.match(result.stderr, /"bad\\u0001id": invalid convoId: convoId contains a control character/)
    })
  )

  it.effect("a huge line of the ids file makes a short error line", () =>
    Effect.gen(function* () {
      const env = yield* SandboxEnv.env
      const result = yield* run(["conversations", "export", agent, "--ids", "-"], {
        env,
        stdin: ["ok-1", "h".repeat(1_048_576)].join("\n")
      })
      assert.strictEqual(result.code, 8, result.stderr.slice(0, 500))
      assert.isBelow(result.stderr.length, 2000)
      assert.match(result.stderr, /…\(1048576 chars\): invalid convoId: convoId is 1048576 characters long/)
    })
  )

  it.effect("--resume after kill -9 mid-export writes each id exactly once", () =>
    Effect.gen(function* () {
      const env = yield* SandboxEnv.env
      const dir = tempDir()
      const ids = Array.from({ length: 800 }, (_, i) => `resume-${i}`)
      const idsFile = Path.join(dir, "ids.txt")
      Fs.writeFileSync(idsFile, ids.join("\n"))
      const output = Path.join(dir, "out.ndjson")
      const args = ["conversations", "export", agent, "--ids", idsFile, "-o", output, "--concurrency", "8"]
      const killed = yield* run(args, {
        env,
        onStart: (child) => {
          const poll = setInterval(() => {
            const size = Fs.existsSync(output) ? Fs.statSync(output).size : 0
            if (size > 100_000) {
              clearInterval(poll)
              child.kill("SIGKILL")
            }
          }, 5)
          child.on("close", () => clearInterval(poll))
        }
      })
      assert.strictEqual(killed.signal, "SIGKILL", "the first run was killed before it finished")
      // A write torn by the kill: half a record at the end of the file.
      Fs.appendFileSync(output, '{"ID":"resume-torn","userName":"Hal')
      const before = ndjsonLines(Fs.readFileSync(output, "utf8").replace(/[^\n]*$/, "")).length
      assert.isAbove(before, 0)
      assert.isBelow(before, ids.length)

      const resumed = yield* run([...args, "--resume"], { env })
      assert.strictEqual(resumed.code, 0, resumed.stderr)
      assert.match(resumed.stderr, /already written, skipped/)
      const lines = ndjsonLines(Fs.readFileSync(output, "utf8"))
      assert.strictEqual(lines.length, ids.length)
      assert.deepStrictEqual(new Set(lines.map((line) => line.ID)), new Set(ids))
    })
  )

  describe("refusals", () => {
    it.effect("--resume without --output exits 2", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const result = yield* run(["conversations", "export", agent, "--ids", "-", "--resume"], {
          env,
          stdin: "x"
        })
        assert.strictEqual(result.code, 2)
        assert.match(result.stderr, /--resume needs --output FILE/)
      })
    )

    it.effect("--output naming the --ids file exits 2 and leaves the ids file as it was", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "convocore-same-"))
        const ids = Path.join(dir, "ids.txt")
        Fs.writeFileSync(ids, "gen-1\ngen-2\n")
        Fs.symlinkSync(ids, Path.join(dir, "link.txt"))
        for (const output of [ids, Path.join(dir, "link.txt"), `${dir}/./ids.txt`]) {
          const result = yield* run(["conversations", "export", agent, "--ids", ids, "--output", output], {
            env
          })
          assert.strictEqual(result.code, 2, result.stderr)
          assert.match(result.stderr, /is the --ids file/)
          assert.strictEqual(Fs.readFileSync(ids, "utf8"), "gen-1\ngen-2\n")
        }
      })
    )

    it.effect("a second export over an earlier one's output needs --resume or --force", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const output = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "convocore-again-")), "out.ndjson")
        const first = yield* run(["conversations", "export", agent, "--ids", "-", "-o", output], {
          env,
          stdin: "gen-1\n"
        })
        assert.strictEqual(first.code, 0, first.stderr)
        const written = Fs.readFileSync(output, "utf8")
        const again = yield* run(["conversations", "export", agent, "--ids", "-", "-o", output], {
          env,
          stdin: "gen-2\n"
        })
        assert.strictEqual(again.code, 2)
        assert.match(again.stderr, /holds an earlier export.*--resume continues it, --force starts it afresh/)
        assert.strictEqual(Fs.readFileSync(output, "utf8"), written, "the earlier export is untouched")
        const forced = yield* run(["conversations", "export", agent, "--ids", "-", "-o", output, "--force"], {
          env,
          stdin: "gen-2\n"
        })
        assert.strictEqual(forced.code, 0, forced.stderr)
        assert.include(Fs.readFileSync(output, "utf8"), '"ID":"gen-2"')
        assert.notInclude(Fs.readFileSync(output, "utf8"), '"ID":"gen-1"')
      })
    )

    it.effect(
      "an output in use by a running export is refused (exit 2, untouched); a killed run's lock is not",
      () =>
        Effect.gen(function* () {
          const env = yield* SandboxEnv.env
          const output = Path.join(tempDir(), "out.ndjson")
          const first = yield* run(["conversations", "export", agent, "--ids", "-", "-o", output], {
            env,
            stdin: "gen-1\n"
          })
          assert.strictEqual(first.code, 0, first.stderr)
          const files = () => [Fs.readFileSync(output, "utf8"), Fs.readFileSync(`${output}.journal`, "utf8")]
          const written = files()
          const args = ["conversations", "export", agent, "--ids", "-", "-o", output, "--resume"]
          // A run that holds the output: it waits for ids on a stdin that stays open.
          const holder = yield* Effect.fork(
            run(args, {
              env,
              stdin: "gen-2\n",
              holdStdin: true,
              onStart: (child) => {
                const poll = setInterval(() => {
                  if (!Fs.existsSync(`${output}.lock`)) return
                  clearInterval(poll)
                  const second = spawnSync(process.execPath, [binary, ...args], {
                    env: { ...process.env, ...env },
                    input: "gen-3\n",
                    encoding: "utf8"
                  })
                  secondRun = { code: second.status, stderr: second.stderr }
                  child.kill("SIGKILL")
                }, 5)
                child.on("close", () => clearInterval(poll))
              }
            })
          )
          let secondRun: { code: number | null; stderr: string } | undefined
          const killed = yield* Fiber.join(holder)
          assert.strictEqual(killed.signal, "SIGKILL")
          assert.isDefined(secondRun)
          assert.strictEqual(secondRun?.code, 2, secondRun?.stderr)
          assert.match(
            secondRun?.stderr ?? "",
            /^convocore: .*out\.ndjson is in use by another export \(pid \d+ on .*\)[^\n]*\n$/
          )
          assert.notInclude(files()[0] ?? "", '"ID":"gen-3"')
          assert.isTrue(Fs.existsSync(`${output}.lock`), "the killed run left its lock behind")
          // The stale lock does not block a resume.
          const resumed = yield* run(args, { env, stdin: "gen-3\n" })
          assert.strictEqual(resumed.code, 0, resumed.stderr)
          assert.isTrue((files()[0] ?? "").startsWith(written[0] ?? "-"))
          assert.include(files()[0] ?? "", '"ID":"gen-3"')
          assert.isFalse(Fs.existsSync(`${output}.lock`), "released at the end")
        })
    )

    it.effect(
      "--resume with another format, agent or --fields than the file holds exits 2, naming it, file untouched",
      () =>
        Effect.gen(function* () {
          const env = yield* SandboxEnv.env
          const output = Path.join(tempDir(), "out.csv")
          const args = ["conversations", "export", agent, "--ids", "-", "-o", output]
          const first = yield* run([...args, "--format", "csv", "--fields", "ID,state"], {
            env,
            stdin: "gen-1\n"
          })
          assert.strictEqual(first.code, 0, first.stderr)
          const files = () => [Fs.readFileSync(output, "utf8"), Fs.readFileSync(`${output}.journal`, "utf8")]
          const before = files()
          const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
            [
              [...args, "--resume"],
              "holds format csv, fields ID,state; this run asks for format ndjson, fields (the default)"
            ],
            [
              [...args, "--resume", "--format", "csv", "--fields", "ID"],
              "holds fields ID,state; this run asks for fields ID"
            ],
            [
              [
                "conversations",
                "export",
                "agent-other",
                "--ids",
                "-",
                "-o",
                output,
                "--resume",
                "--format",
                "csv",
                "--fields",
                "ID,state"
              ],
              `holds source agent ${agent} --ids -; this run asks for source agent agent-other --ids -`
            ]
          ]
          for (const [resumeArgs, difference] of cases) {
            const resumed = yield* run(resumeArgs, { env, stdin: "gen-2\n" })
            assert.strictEqual(resumed.code, 2, resumed.stderr)
            assert.strictEqual(resumed.stderr.split("\n").length, 2, resumed.stderr)
            assert.include(resumed.stderr, `--resume: ${output} ${difference}`)
            assert.deepStrictEqual(files(), before)
          }
        })
    )

    it.effect("failed ids are listed by whether a --resume can help, and --resume retries only those", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const output = Path.join(tempDir(), "out.ndjson")
        const ids = ["ok-1", Fixtures.ids.notFound, Fixtures.ids.forbidden, "bad\u0001id"].join("\n")
        const args = ["conversations", "export", agent, "--ids", "-", "-o", output]
        const first = yield* run(args, { env, stdin: ids })
        assert.strictEqual(first.code, 8, first.stderr)
        assert.match(
          first.stderr,
          /1 worth a --resume \(the upstream may answer next time\):\n {4}"plan-gated": forbidden[^\n]*\n {2}2 not retried by --resume \(the same answer every time\):\n {4}"(not-found|bad\\u0001id)"[^\n]*\n {4}"(not-found|bad\\u0001id)"/
        )
        assert.match(first.stderr, /run again with --resume to retry the 1 worth retrying/)
        const sandbox = yield* Sandbox.Sandbox
        const before = (yield* sandbox.counters("eu")).requests
        const resumed = yield* run([...args, "--resume"], { env, stdin: ids })
        assert.strictEqual(resumed.code, 8, resumed.stderr)
        assert.match(
          resumed.stderr,
          /exported 0 conversations \(1 already written, skipped\) \(2 failed for good in an earlier run, skipped\); 1 failed:/
        )
        // Only the forbidden id was asked again.
        assert.strictEqual((yield* sandbox.counters("eu")).requests - before, 1)
      })
    )

    it.effect("a refused key stops the export at once (exit 4), not a request per id", () =>
      Effect.gen(function* () {
        const env = { ...(yield* SandboxEnv.env), CONVOCORE_API_KEY: "vg_not_a_key_the_sandbox_knows" }
        const sandbox = yield* Sandbox.Sandbox
        const before = (yield* sandbox.counters("eu")).requests
        const ids = Array.from({ length: 500 }, (_, i) => `gen-${i}`)
        const result = yield* run(["conversations", "export", agent, "--ids", "-", "--concurrency", "4"], {
          env,
          stdin: ids.join("\n")
        })
        assert.strictEqual(result.code, 4, result.stderr)
        assert.match(result.stderr, /unauthorized/)
        // Three refusals in a row, and what was in flight with them: nowhere near one request per id.
        assert.isBelow((yield* sandbox.counters("eu")).requests - before, 20)
      })
    )

    it.effect("repeated ids are exported once, and said so", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const result = yield* run(["conversations", "export", agent, "--ids", "-"], {
          env,
          stdin: "gen-1\ngen-2\ngen-1\ngen-1\n"
        })
        assert.strictEqual(result.code, 0, result.stderr)
        assert.deepStrictEqual(
          ndjsonLines(result.stdout)
            .map((d) => d.ID)
            .sort(),
          ["gen-1", "gen-2"]
        )
        assert.match(result.stderr, /exported 2 conversations \(2 repeated ids skipped\)/)
      })
    )

    it.effect("a missing ids file exits 2", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const result = yield* run(["conversations", "export", agent, "--ids", "/no/such/file"], { env })
        assert.strictEqual(result.code, 2)
        assert.match(result.stderr, /cannot read --ids \/no\/such\/file/)
      })
    )

    it.effect("a failing write exits 1", () =>
      Effect.gen(function* () {
        if (!Fs.existsSync("/dev/full")) return
        const env = yield* SandboxEnv.env
        const result = yield* run(["conversations", "export", agent, "--ids", "-", "-o", "/dev/full"], {
          env,
          stdin: "x"
        })
        assert.strictEqual(result.code, 1, result.stderr)
        assert.match(result.stderr, /cannot write the export/)
        assert.notInclude(result.stderr, "    at ")
      })
    )
  })
})
