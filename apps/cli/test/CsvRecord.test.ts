import { assert, describe, it } from "@effect/vitest"
import * as CsvRecord from "../src/CsvRecord.js"
import * as Csv from "./services/Csv.js"

describe("CsvRecord", () => {
  it("writes cells: strings as they are, numbers and booleans as JSON, absent and null empty, the rest as JSON", () => {
    assert.strictEqual(CsvRecord.cell("a"), "a")
    assert.strictEqual(CsvRecord.cell(1.5), "1.5")
    assert.strictEqual(CsvRecord.cell(false), "false")
    assert.strictEqual(CsvRecord.cell(null), "")
    assert.strictEqual(CsvRecord.cell(undefined), "")
    assert.strictEqual(CsvRecord.cell(["x", "y"]), '["x","y"]')
    assert.strictEqual(CsvRecord.cell({ a: 1 }), '{"a":1}')
  })

  it("quotes commas, quotes and line breaks, and reads back to the same cells", () => {
    const columns = [["convoId"], ["userName"], ["notes"], ["tags"], ["assignedTo", "name"]]
    const document = {
      userName: 'Ann "the lead", Jr',
      notes: "line one\nline two",
      tags: ["a,b"],
      assignedTo: { name: "Bo" }
    }
    const text = CsvRecord.header(columns) + CsvRecord.record(columns, "id,1", document)
    assert.strictEqual(
      text,
      'convoId,userName,notes,tags,assignedTo.name\n"id,1","Ann ""the lead"", Jr","line one\nline two","[""a,b""]",Bo\n'
    )
    assert.deepStrictEqual(Csv.parse(text), [
      ["convoId", "userName", "notes", "tags", "assignedTo.name"],
      ["id,1", 'Ann "the lead", Jr', "line one\nline two", '["a,b"]', "Bo"]
    ])
  })

  it("neutralises text a spreadsheet would run as a formula, unless asked for the raw text", () => {
    const columns = [["convoId"], ["userName"], ["note"], ["value"], ["userPhone"]]
    const document = {
      userName: '=HYPERLINK("http://x")',
      note: "@SUM(A1)",
      value: -5,
      userPhone: "+1 555 0100"
    }
    assert.deepStrictEqual(Csv.parse(CsvRecord.record(columns, "-id", document))[0], [
      "'-id",
      '\'=HYPERLINK("http://x")',
      "'@SUM(A1)",
      "-5",
      "'+1 555 0100"
    ])
    for (const start of ["=", "+", "-", "@", "\t", "\r"])
      assert.strictEqual(CsvRecord.cell(`${start}x`), `'${start}x`)
    assert.strictEqual(CsvRecord.cell("plain"), "plain")
    assert.deepStrictEqual(Csv.parse(CsvRecord.record(columns, "-id", document, { raw: true }))[0], [
      "-id",
      '=HYPERLINK("http://x")',
      "@SUM(A1)",
      "-5",
      "+1 555 0100"
    ])
  })

  it("starts its default columns with the id asked for", () => {
    assert.deepStrictEqual(CsvRecord.defaultColumns[0], ["convoId"])
    assert.isTrue(CsvRecord.defaultColumns.some((c) => c.join(".") === "userEmail"))
  })
})
