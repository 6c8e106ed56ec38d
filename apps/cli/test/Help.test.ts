/**
 * The help the binary answers with comes from pages read at build time (build.mjs, HelpDocument.ts), so
 * that it needs no Effect: here it is compared with the pages @effect/cli's descriptors of the command
 * tree give now, for every command, so that the two can never differ.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { tree } from "../src/Cli.js"
import * as CommandTree from "../src/CommandTree.js"
import * as Help from "../src/Help.js"
import * as HelpDocument from "../src/HelpDocument.js"
import { run } from "./services/Binary.js"

const pages = HelpDocument.pagesOf(tree)

const commandPaths = (
  node: Help.PageNode,
  path: ReadonlyArray<string> = []
): Array<ReadonlyArray<string>> => [
  path,
  ...node.children.flatMap((child) => commandPaths(child, [...path, child.name]))
]

describe("help pages", () => {
  it("cover every command of the tree", () => {
    assert.deepStrictEqual(
      commandPaths(pages.root).map((path) => path.join(" ")),
      ["", "conversations", "conversations get", "conversations list", "conversations export", "sandbox"]
    )
  })

  for (const path of commandPaths(pages.root))
    it.effect(`convocore ${[...path, "--help"].join(" ")}: the page @effect/cli's descriptors give`, () =>
      Effect.gen(function* () {
        const result = yield* run([...path, "--help"])
        assert.strictEqual(result.code, 0, result.stderr)
        assert.strictEqual(result.stderr, "")
        assert.strictEqual(result.stdout, Help.render(pages, CommandTree.locate(pages.root, path), 80))
      })
    )
})
