import { Fixtures } from "@convocore-effect/sandbox"
import { seedExampleResponse } from "@convocore-effect/schema"
import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { parse as parseYaml } from "yaml"
import { run } from "./services/Binary.js"
import * as SandboxEnv from "./services/SandboxEnv.js"

const agent = Fixtures.demoAgent

layer(SandboxEnv.layer)("conversations get", (it) => {
  describe("JSON output", () => {
    it.effect("prints the seed example exactly as served, on stdout only", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const result = yield* run(["conversations", "get", agent, Fixtures.ids.seedExample], { env })
        assert.strictEqual(result.code, 0, result.stderr)
        assert.strictEqual(result.stderr, "")
        assert.strictEqual(result.stdout, `${JSON.stringify(seedExampleResponse.data)}\n`)
      })
    )

    it.effect("equals the served document byte for byte for fixtures and generated documents", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const ids = [
          Fixtures.ids.dashboard,
          Fixtures.ids.apiCreated,
          Fixtures.ids.voiceCall,
          "generated-1",
          "7EKgZfeuq82eFA9"
        ]
        yield* Effect.forEach(
          ids,
          (id) =>
            Effect.gen(function* () {
              const served = yield* SandboxEnv.served(agent, id)
              const result = yield* run(["conversations", "get", agent, id, "--format", "json"], { env })
              assert.strictEqual(result.code, 0, result.stderr)
              assert.strictEqual(result.stdout, SandboxEnv.expectedLine(served.body), id)
            }),
          { concurrency: 3 }
        )
      })
    )

    it.effect("keeps what a drifted document carries beyond the spec", () =>
      SandboxEnv.withFaults(
        { eu: "drift" },
        Effect.gen(function* () {
          const env = yield* SandboxEnv.env
          const served = yield* SandboxEnv.served(agent, "drifted-1")
          const result = yield* run(["conversations", "get", agent, "drifted-1", "--format", "json"], { env })
          assert.strictEqual(result.code, 0, result.stderr)
          assert.strictEqual(result.stdout, SandboxEnv.expectedLine(served.body))
          const document = JSON.parse(result.stdout)
          assert.strictEqual(document.state, "completed")
          assert.strictEqual(document.summary, null)
          assert.strictEqual(document.crmPipelineId, "pipeline_sandbox")
        })
      )
    )

    it.effect("selects dotted fields, keeping the nesting and the order asked for", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const result = yield* run(
          ["conversations", "get", agent, Fixtures.ids.seedExample, "--fields", "tags,userName,nope.deeper"],
          { env }
        )
        assert.strictEqual(result.code, 0, result.stderr)
        assert.strictEqual(result.stdout, '{"tags":["new-lead","high-priority"],"userName":"John Doe"}\n')
      })
    )

    it.effect("prints YAML of the same document", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const result = yield* run(
          ["conversations", "get", agent, Fixtures.ids.voiceCall, "--format", "yaml"],
          {
            env
          }
        )
        const served = yield* SandboxEnv.served(agent, Fixtures.ids.voiceCall)
        assert.strictEqual(result.code, 0, result.stderr)
        assert.deepStrictEqual(parseYaml(result.stdout), JSON.parse(served.body).data)
      })
    )

    it.effect("prints a lead card with --format pretty, without colour when NO_COLOR is set", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const result = yield* run(
          ["conversations", "get", agent, Fixtures.ids.seedExample, "--format", "pretty"],
          {
            env: { ...env, NO_COLOR: "1" }
          }
        )
        assert.strictEqual(result.code, 0, result.stderr)
        assert.match(result.stdout, /^John Doe\n/)
        assert.match(result.stdout, /company\s+Acme Corp/)
        assert.match(result.stdout, /tags\s+new-lead high-priority/)
        assert.notInclude(result.stdout, "\u001b[")
      })
    )
  })

  describe("ids", () => {
    it.effect("ids with /, ?, #, spaces and non-ASCII reach the right document", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const ids = ["a/b", "what?x=1", "hash#tag", "with space", "ünïcødé-日本", "../../etc"]
        yield* Effect.forEach(
          ids,
          (id) =>
            Effect.gen(function* () {
              const result = yield* run(["conversations", "get", agent, id, "--format", "json"], { env })
              assert.strictEqual(result.code, 0, `${id}: ${result.stderr}`)
              assert.strictEqual(JSON.parse(result.stdout).ID, id)
            }),
          { concurrency: 3 }
        )
      })
    )

    it.effect("a control character exits 2 with a clear message, and nothing is sent", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const result = yield* run(["conversations", "get", agent, "bad\u0007id"], { env })
        assert.strictEqual(result.code, 2)
        assert.strictEqual(result.stdout, "")
        assert.strictEqual(
          result.stderr,
          "convocore: invalid convoId: convoId contains a control character (U+0007) at position 3 (6 characters)\n"
        )
      })
    )
  })

  describe("exit codes", () => {
    const expectExit = (
      args: ReadonlyArray<string>,
      code: number,
      stderr: RegExp,
      extraEnv: Record<string, string | undefined> = {}
    ) =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const result = yield* run(args, { env: { ...env, ...extraEnv } })
        assert.strictEqual(result.code, code, result.stderr)
        assert.strictEqual(result.stdout, "")
        assert.match(result.stderr, stderr)
        assert.notInclude(result.stderr, "    at ")
      })

    it.effect("3 not found", () =>
      expectExit(["conversations", "get", agent, Fixtures.ids.notFound], 3, /^convocore: not found: /)
    )
    it.effect("4 unauthorized (a deleted conversation answers 401)", () =>
      expectExit(["conversations", "get", agent, Fixtures.ids.deleted], 4, /unauthorized/)
    )
    it.effect("4 forbidden (a plan gate)", () =>
      expectExit(
        ["conversations", "get", agent, Fixtures.ids.forbidden],
        4,
        /forbidden: Business plan or higher/
      )
    )
    it.effect("2 bad request, with its issues", () =>
      expectExit(["conversations", "get", agent, Fixtures.ids.badRequest], 2, /Invalid conversation id/)
    )
    it.effect("2 missing key", () =>
      expectExit(["conversations", "get", agent, "x"], 2, /no API key: pass --api-key/, {
        CONVOCORE_API_KEY: undefined
      })
    )
    it.effect("2 unknown option", () =>
      expectExit(["conversations", "get", agent, "x", "--no-such-flag"], 2, /no-such-flag/)
    )
    it.effect("2 a duration flag without a unit: one line with a hint", () =>
      expectExit(
        ["conversations", "get", agent, "x", "--timeout", "5"],
        2,
        /^convocore: --timeout 5: add a unit, e\.g\. 5s or 5000ms \(see 'convocore conversations get --help'\)\n$/
      )
    )
    it.effect("2 a zero or nonsense duration flag", () =>
      Effect.zipRight(
        expectExit(
          ["conversations", "get", agent, "x", "--deadline", "0s"],
          2,
          /^convocore: --deadline 0s: must be longer than zero/
        ),
        expectExit(
          ["conversations", "get", agent, "x", "--deadline", "soon"],
          2,
          /^convocore: --deadline soon: "soon" is not a duration/
        )
      )
    )
    it.effect("2 several bad variables: every one named in one report", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const bad = { CONVOCORE_DEADLINE: "soon", CONVOCORE_BACKOFF_BASE: "-1s", CONVOCORE_MAX_ATTEMPTS: "0" }
        const result = yield* run(["conversations", "get", agent, "x"], { env: { ...env, ...bad } })
        assert.strictEqual(result.code, 2, result.stderr)
        assert.strictEqual(result.stderr.trim().split("\n").length, 1)
        assert.include(result.stderr, 'CONVOCORE_DEADLINE: "soon" is not a duration')
        assert.include(result.stderr, 'CONVOCORE_BACKOFF_BASE: "-1s" is negative')
        assert.include(result.stderr, 'CONVOCORE_MAX_ATTEMPTS: "0" is not a whole number of at least 1')
      })
    )
    it.effect("5 rate limited", () =>
      SandboxEnv.withFaults(
        { eu: "status=429,retry-after=5m", na: "status=429,retry-after=5m" },
        expectExit(["conversations", "get", agent, "x", "--deadline", "3s"], 5, /rate-limited|rate limited/)
      )
    )
    it.effect("6 upstream unavailable (both regions refuse connections)", () =>
      SandboxEnv.withFaults(
        { eu: "down", na: "down" },
        expectExit(["conversations", "get", agent, "x"], 6, /all regions failed/)
      )
    )
    it.effect("6, not 3: EU answers 503 twice and NA, reached only by failing over, answers 404", () =>
      SandboxEnv.withFaults(
        { eu: "status=503" },
        expectExit(["conversations", "get", agent, Fixtures.ids.notFound], 6, /all regions failed/)
      )
    )
    it.effect("7 invalid response", () =>
      SandboxEnv.withFaults(
        { eu: "broken-primitive", na: "broken-primitive" },
        expectExit(["conversations", "get", agent, "x"], 7, /invalid response .*messagesNum/)
      )
    )
    it.effect("7 a 200 that carries no conversation", () =>
      expectExit(["conversations", "get", agent, Fixtures.ids.minimal], 7, /carries no conversation/)
    )
    it.effect("with --format json the error is the encoded error object", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const result = yield* run(
          ["conversations", "get", agent, Fixtures.ids.notFound, "--format", "json"],
          { env }
        )
        assert.strictEqual(result.code, 3)
        assert.strictEqual(result.stdout, "")
        const error = JSON.parse(result.stderr)
        assert.strictEqual(error._tag, "NotFound")
        assert.strictEqual(error.status, 404)
        assert.strictEqual(error.code, "NOT_FOUND")
      })
    )
  })

  describe("--verbose", () => {
    const failovers = [
      ["EU refuses connections", "down", /attempt 1 region eu: connect-failed/],
      [
        "EU answers an HTML page with status 200",
        "content-type=text/html",
        /attempt 1 region eu: invalid-response 200/
      ]
    ] as const
    for (const [name, fault, firstAttempt] of failovers) {
      it.effect(`${name}: shows the failover on stderr and keeps stdout the document`, () =>
        SandboxEnv.withFaults(
          { eu: fault },
          Effect.gen(function* () {
            const env = yield* SandboxEnv.env
            const result = yield* run(
              ["conversations", "get", agent, Fixtures.ids.seedExample, "--verbose"],
              {
                env
              }
            )
            assert.strictEqual(result.code, 0, result.stderr)
            assert.strictEqual(result.stdout, `${JSON.stringify(seedExampleResponse.data)}\n`)
            assert.match(result.stderr, firstAttempt)
            assert.match(result.stderr, /attempt 2 region na: ok 200/)
          })
        )
      )
    }

    it.effect("--timeout ends a hanging attempt and the call fails over", () =>
      SandboxEnv.withFaults(
        { eu: "hang" },
        Effect.gen(function* () {
          const env = yield* SandboxEnv.env
          const result = yield* run(
            ["conversations", "get", agent, Fixtures.ids.seedExample, "--verbose", "--timeout", "300ms"],
            { env }
          )
          assert.strictEqual(result.code, 0, result.stderr)
          assert.match(result.stderr, /attempt 1 region eu: timeout/)
          assert.match(result.stderr, /region na: ok 200/)
        })
      )
    )

    it.effect(
      "durations: CONVOCORE_DEADLINE=30s, and --timeout 2s given as a value over a broken variable",
      () =>
        Effect.gen(function* () {
          const env = yield* SandboxEnv.env
          const result = yield* run(
            ["conversations", "get", agent, Fixtures.ids.seedExample, "--format", "json", "--timeout", "2s"],
            { env: { ...env, CONVOCORE_DEADLINE: "30s", CONVOCORE_ATTEMPT_TIMEOUT: "never read" } }
          )
          assert.strictEqual(result.code, 0, result.stderr)
          assert.strictEqual(result.stdout, `${JSON.stringify(seedExampleResponse.data)}\n`)
          const words = yield* run(
            [
              "conversations",
              "get",
              agent,
              Fixtures.ids.seedExample,
              "--format",
              "json",
              "--timeout",
              "10 seconds"
            ],
            { env }
          )
          assert.strictEqual(words.code, 0, words.stderr)
        })
    )

    it.effect("--region na --region-policy pinned never leaves NA", () =>
      SandboxEnv.withFaults(
        { na: "down" },
        Effect.gen(function* () {
          const env = yield* SandboxEnv.env
          const result = yield* run(
            ["conversations", "get", agent, "x", "--verbose", "--region", "na", "--region-policy", "pinned"],
            { env }
          )
          assert.strictEqual(result.code, 6, result.stderr)
          assert.match(result.stderr, /region na: connect-failed/)
          assert.notInclude(result.stderr, "region eu")
        })
      )
    )

    it.effect("never shows the key, right or wrong, on stdout or stderr", () =>
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        const wrong = "vg_wrong_key_7c1d9e3b5a"
        const byFlag = yield* run(["conversations", "get", agent, "x", "--verbose", "--api-key", wrong], {
          env
        })
        assert.strictEqual(byFlag.code, 4)
        const byEnv = yield* run(["conversations", "get", agent, "x", "--verbose", "--format", "json"], {
          env: { ...env, CONVOCORE_API_KEY: wrong }
        })
        assert.strictEqual(byEnv.code, 4)
        for (const result of [byFlag, byEnv]) {
          assert.match(result.stderr, /attempt 1 region eu: unauthorized 401/)
          assert.notInclude(result.stdout + result.stderr, wrong)
          assert.notInclude(result.stdout + result.stderr, "7c1d9e3b5a")
        }
      })
    )
  })
})
