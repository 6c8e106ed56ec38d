import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as ExportJournal from "../src/ExportJournal.js"
import * as ResumableOutput from "../src/ResumableOutput.js"

const description: ExportJournal.FileDescription = {
  format: "ndjson",
  agent: "agent-1",
  source: { ids: "/ids.txt" },
  fields: null,
  csvRaw: false
}

/** Which of `ids` the output says it holds. */
const doneOf = (output: ResumableOutput.ResumableOutput, ids: ReadonlyArray<string>) =>
  ids.filter((id) => output.earlier.done.has(id))

const fresh = () => Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "convocore-resume-")), "out.ndjson")

describe("ResumableOutput", () => {
  it("resuming a complete export skips every id and writes nothing", () => {
    const path = fresh()
    const output = ResumableOutput.open(path, { resume: false, force: false, header: undefined, description })
    output.append('{"ID":"a"}\n', "a")
    output.close()
    const again = ResumableOutput.open(path, { resume: true, force: false, header: undefined, description })
    assert.deepStrictEqual(doneOf(again, ["a", "b"]), ["a"])
    again.close()
    assert.strictEqual(Fs.readFileSync(path, "utf8"), '{"ID":"a"}\n')
  })

  it("on resume, cuts a torn record and one the journal never confirmed, and skips the ids it holds", () => {
    const path = fresh()
    const first = ResumableOutput.open(path, { resume: false, force: false, header: undefined, description })
    first.append('{"ID":"a"}\n', "a")
    first.append('{"ID":"b"}\n', "b")
    first.close()
    // Killed after writing c's record but before its journal line, then in the middle of d's record.
    Fs.appendFileSync(path, '{"ID":"c"}\n{"ID":"d","na')
    const second = ResumableOutput.open(path, { resume: true, force: false, header: undefined, description })
    assert.deepStrictEqual(doneOf(second, ["a", "b", "c", "d"]), ["a", "b"])
    second.append('{"ID":"c"}\n', "c")
    second.close()
    assert.strictEqual(Fs.readFileSync(path, "utf8"), '{"ID":"a"}\n{"ID":"b"}\n{"ID":"c"}\n')
  })

  it("ignores a torn journal line", () => {
    const path = fresh()
    const first = ResumableOutput.open(path, { resume: false, force: false, header: undefined, description })
    first.append("x\n", "x")
    first.close()
    Fs.appendFileSync(ResumableOutput.journalPath(path), "[4,")
    const second = ResumableOutput.open(path, { resume: true, force: false, header: undefined, description })
    assert.deepStrictEqual(doneOf(second, ["x"]), ["x"])
    second.close()
    assert.strictEqual(
      Fs.readFileSync(ResumableOutput.journalPath(path), "utf8"),
      `${ExportJournal.fileEntry(description)}[2,"x"]\n`
    )
  })

  it("keeps a CSV header and refuses to resume with other columns", () => {
    const path = fresh()
    const first = ResumableOutput.open(path, { resume: false, force: false, header: "a,b\n", description })
    assert.isTrue(first.empty)
    first.append("a,b\n", null)
    first.append('1,"two\nlines"\n', "one")
    first.close()
    const second = ResumableOutput.open(path, { resume: true, force: false, header: "a,b\n", description })
    assert.isFalse(second.empty)
    assert.deepStrictEqual(doneOf(second, ["one", "a"]), ["one"])
    second.close()
    assert.throws(
      () => ResumableOutput.open(path, { resume: true, force: false, header: "a,c\n", description }),
      /columns/
    )
  })

  it("refuses to resume an output that has no journal", () => {
    const path = fresh()
    Fs.writeFileSync(path, "x\n")
    assert.throws(
      () => ResumableOutput.open(path, { resume: true, force: false, header: undefined, description }),
      /does not/
    )
  })

  it("refuses to start afresh over an earlier export unless forced, leaving it untouched", () => {
    const path = fresh()
    const first = ResumableOutput.open(path, { resume: false, force: false, header: undefined, description })
    first.append('{"ID":"a"}\n', "a")
    first.close()
    assert.throws(
      () => ResumableOutput.open(path, { resume: false, force: false, header: undefined, description }),
      /holds an earlier export.*--resume continues it, --force starts it afresh/
    )
    assert.strictEqual(Fs.readFileSync(path, "utf8"), '{"ID":"a"}\n')
    const forced = ResumableOutput.open(path, { resume: false, force: true, header: undefined, description })
    assert.isTrue(forced.empty)
    forced.close()
    assert.strictEqual(Fs.readFileSync(path, "utf8"), "")
  })

  it("refuses to resume an export of another format, source or fields, naming the difference, untouched", () => {
    const path = fresh()
    const first = ResumableOutput.open(path, { resume: false, force: false, header: undefined, description })
    first.append('{"ID":"a"}\n', "a")
    first.close()
    Fs.appendFileSync(path, '{"ID":"torn')
    const files = () => [
      Fs.readFileSync(path, "utf8"),
      Fs.readFileSync(ResumableOutput.journalPath(path), "utf8")
    ]
    const before = files()
    assert.throws(
      () =>
        ResumableOutput.open(path, {
          resume: true,
          force: false,
          header: "convoId,ID\n",
          description: { ...description, format: "csv", source: { all: true } }
        }),
      `--resume: ${path} holds format ndjson, source agent agent-1 --ids /ids.txt; this run asks for format csv, source agent agent-1 --all`
    )
    assert.deepStrictEqual(files(), before, "neither the output nor its journal was cut")
  })
})
