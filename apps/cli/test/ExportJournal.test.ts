import { assert, describe, it } from "@effect/vitest"
import * as ExportJournal from "../src/ExportJournal.js"

const description: ExportJournal.FileDescription = {
  format: "csv",
  agent: "agent-1",
  source: { all: true },
  fields: ["ID", "status"],
  csvRaw: false
}

const journal = (...entries: ReadonlyArray<string>) => [Buffer.from(entries.join(""))]

describe("ExportJournal", () => {
  it("reads back what the file is, the records, the failures and the listing's resume point", () => {
    const recovered = ExportJournal.recover(
      journal(
        ExportJournal.fileEntry(description),
        ExportJournal.recordEntry(4, null),
        ExportJournal.failedEntry("x", "retryable"),
        ExportJournal.failedEntry("y", "permanent"),
        ExportJournal.recordEntry(10, "a"),
        ExportJournal.listedEntry("cursor-2"),
        ExportJournal.recordEntry(16, "x")
      ),
      16
    )
    assert.deepStrictEqual(recovered.description, description)
    assert.strictEqual(recovered.written, 2)
    assert.isTrue(recovered.done.has("a") && recovered.done.has("x"))
    // x was written after it failed: only y is still a failure.
    assert.deepStrictEqual([...recovered.failed], [["y", "permanent"]])
    assert.deepStrictEqual(recovered.listed, { _tag: "From", cursor: "cursor-2" })
    assert.strictEqual(recovered.end, 16)
  })

  it("stops at a record past the output's end: nothing after it is trusted", () => {
    const entries = [
      ExportJournal.fileEntry(description),
      ExportJournal.recordEntry(10, "a"),
      ExportJournal.recordEntry(20, "b"),
      ExportJournal.listedEntry(null)
    ]
    const recovered = ExportJournal.recover(journal(...entries), 15)
    assert.isFalse(recovered.done.has("b"))
    assert.strictEqual(recovered.listed, undefined)
    assert.strictEqual(recovered.end, 10)
    assert.strictEqual(recovered.journalBytes, Buffer.byteLength(entries[0]! + entries[1]!))
  })

  it("reads the same from chunks cut anywhere, a torn last entry left out", () => {
    const text = [
      ExportJournal.fileEntry(description),
      ExportJournal.recordEntry(10, "a"),
      ExportJournal.failedEntry("b", "retryable"),
      ExportJournal.listedEntry("c1"),
      ExportJournal.recordEntry(20, "ü"),
      '[30,"to'
    ].join("")
    const whole = ExportJournal.recover([Buffer.from(text)], 100)
    const bytes = Buffer.from(text)
    for (const size of [1, 3, 7, 64]) {
      const chunks = Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
        bytes.subarray(i * size, (i + 1) * size)
      )
      const cut = ExportJournal.recover(chunks, 100)
      assert.deepStrictEqual(
        [cut.journalBytes, cut.end, cut.written, [...cut.failed], cut.listed, cut.done.has("ü")],
        [whole.journalBytes, whole.end, whole.written, [...whole.failed], whole.listed, true]
      )
    }
    assert.strictEqual(whole.journalBytes, bytes.length - '[30,"to'.length)
  })

  it("names each difference between the file and a resume that asks for something else", () => {
    assert.strictEqual(ExportJournal.mismatch("out.csv", description, description), undefined)
    assert.strictEqual(
      ExportJournal.mismatch("out.csv", description, { ...description, format: "ndjson", fields: null }),
      "--resume: out.csv holds format csv, fields ID,status; this run asks for format ndjson, fields (the default)"
    )
    assert.strictEqual(
      ExportJournal.mismatch("out.csv", description, { ...description, agent: "agent-2", csvRaw: true }),
      "--resume: out.csv holds source agent agent-1 --all, csv-raw off; this run asks for source agent agent-2 --all, csv-raw on"
    )
  })
})
