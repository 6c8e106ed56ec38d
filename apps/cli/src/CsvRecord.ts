/**
 * CSV export: the header and one record per conversation. Columns are dotted paths (as `--fields`);
 * `convoId` is the id that was asked for (the document's own `ID` can differ from it). Cells: strings as
 * they are, numbers and booleans as JSON writes them, absent and `null` as an empty cell, arrays and
 * objects as compact JSON. Quoting is csv-stringify's (RFC 4180: a cell with a comma, quote or line
 * break is quoted, quotes doubled).
 *
 * Lead fields are typed by people (names, notes, companies), and a spreadsheet runs a cell that starts
 * with `=`, `+`, `-`, `@`, a tab or a carriage return as a formula. Such text cells are neutralised as
 * OWASP recommends (a `'` before them), unless the caller asks for the raw text (`--csv-raw`). Numbers are
 * written as they are: `-5` is a number, not a formula.
 */
import { stringify } from "csv-stringify/sync"
import * as FieldPaths from "./FieldPaths.js"

/** The lead fields an analyst wants first; `--fields` replaces them. */
export const defaultColumns: ReadonlyArray<FieldPaths.FieldPath> = [
  "convoId",
  "ID",
  "userName",
  "userEmail",
  "userPhone",
  "userCompany",
  "stage",
  "state",
  "origin",
  "value",
  "currency",
  "leadScore",
  "hotLabel",
  "tags",
  "messagesNum",
  "ts",
  "lastMessageTS",
  "lastModified",
  "assignedTo.name"
].map((column) => column.split("."))

export const requestedIdColumn = "convoId"

const formulaStart = /^[=+\-@\t\r]/

/** A text cell a spreadsheet would not run: a leading `'` before what would start a formula. */
export const neutralised = (text: string): string => (formulaStart.test(text) ? `'${text}` : text)

export interface CellOptions {
  /** Keep text that starts like a formula as it is (for tools that need the exact text). */
  readonly raw?: boolean | undefined
}

export const cell = (value: unknown, options: CellOptions = {}): string => {
  if (value === undefined || value === null) return ""
  if (typeof value === "string") return options.raw === true ? value : neutralised(value)
  if (typeof value === "number" || typeof value === "boolean") return String(value)
  return JSON.stringify(value)
}

const line = (cells: ReadonlyArray<string>): string => stringify([cells as Array<string>])

export const header = (columns: ReadonlyArray<FieldPaths.FieldPath>): string =>
  line(columns.map(FieldPaths.format))

export const record = (
  columns: ReadonlyArray<FieldPaths.FieldPath>,
  convoId: string,
  document: unknown,
  options: CellOptions = {}
): string =>
  line(
    columns.map((column) =>
      column.length === 1 && column[0] === requestedIdColumn
        ? cell(convoId, options)
        : cell(FieldPaths.get(document, column), options)
    )
  )
