import { Fixtures } from "@convocore-effect/sandbox"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { run } from "./services/Binary.js"
import { parse as parseCsv } from "./services/Csv.js"
import * as SandboxEnv from "./services/SandboxEnv.js"

const agent = Fixtures.demoAgent

const lines = (text: string) => text.split("\n").filter((line) => line.length > 0)

layer(SandboxEnv.layer)("conversations list", (it) => {
  it.effect("lists every conversation once, newest first, page after page; each is served by get", () =>
    Effect.gen(function* () {
      const env = yield* SandboxEnv.env
      const result = yield* run(["conversations", "list", agent], { env })
      assert.strictEqual(result.code, 0, result.stderr)
      const rows = lines(result.stdout).map((line) => JSON.parse(line) as { ID: string; ts: number })
      // More than one page of 20: the listing followed the cursor.
      assert.isAbove(rows.length, 20)
      assert.strictEqual(new Set(rows.map((row) => row.ID)).size, rows.length)
      for (let i = 1; i < rows.length; i++) assert.isAtMost(rows[i]!.ts, rows[i - 1]!.ts)
      const last = rows.at(-1)!
      const document = yield* run(["conversations", "get", agent, last.ID, "--format", "json"], { env })
      assert.strictEqual(document.code, 0, document.stderr)
      assert.strictEqual((JSON.parse(document.stdout) as { ID: string }).ID, last.ID)
    })
  )

  it.effect("--limit stops early; json is one array; csv has a header and a record per row", () =>
    Effect.gen(function* () {
      const env = yield* SandboxEnv.env
      const json = yield* run(["conversations", "list", agent, "--limit", "3", "--format", "json"], { env })
      assert.strictEqual(json.code, 0, json.stderr)
      const array = JSON.parse(json.stdout) as ReadonlyArray<{ ID: string }>
      assert.strictEqual(array.length, 3)
      const csv = yield* run(["conversations", "list", agent, "--limit", "3", "--format", "csv"], { env })
      const table = parseCsv(csv.stdout)
      assert.deepStrictEqual(table[0]?.slice(0, 3), ["ID", "origin", "state"])
      assert.deepStrictEqual(
        table.slice(1).map((record) => record[0]),
        array.map((row) => row.ID)
      )
    })
  )

  it.effect("a region that fails is failed over like any call; a bad --limit is a usage error", () =>
    SandboxEnv.withFaults(
      { eu: "down" },
      Effect.gen(function* () {
        const env = yield* SandboxEnv.env
        // EU refuses connections: the pages come from NA.
        const listed = yield* run(["conversations", "list", agent, "--limit", "25"], { env })
        assert.strictEqual(listed.code, 0, listed.stderr)
        assert.lengthOf(lines(listed.stdout), 25)
        const refused = yield* run(["conversations", "list", agent, "--limit", "0"], { env })
        assert.strictEqual(refused.code, 2)
        assert.match(refused.stderr, /^convocore: --limit 0: expected 1 or more/)
      })
    )
  )
})
