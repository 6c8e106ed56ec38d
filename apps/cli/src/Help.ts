/**
 * `--help` as gh and kubectl users read it: the description, a USAGE line with the command's full path,
 * the arguments, the flags with their defaults, the subcommands, the global flags, wrapped to the
 * terminal's width. The pages come from @effect/cli's own help document of each command
 * (HelpDocument.ts, run at build time), laid out here: its own renderer repeats each flag's type in
 * prose, shows a leaf's usage without its parents (`$ get`) and never wraps. This module imports nothing,
 * so that the entry can answer `--help` before Effect is loaded.
 */
import type * as CommandTree from "./CommandTree.js"

export interface Entry {
  /** `--format pretty|json|yaml`, `-o, --output FILE`, `<agentId>`. */
  readonly term: string
  readonly text: string
  readonly required: boolean
}

export interface Page {
  readonly description: string
  readonly arguments: ReadonlyArray<Entry>
  readonly options: ReadonlyArray<Entry>
}

export interface PageNode extends CommandTree.Tree<PageNode> {
  readonly page: Page
}

/** Every command's page, and the global flags every command takes. */
export interface Pages {
  readonly root: PageNode
  readonly globals: ReadonlyArray<Entry>
}

/** Joins words that wrap must keep on one line; printed as a space. */
export const unbreakable = "\u00a0"

/** Greedy word wrap; a word longer than the width gets a line of its own. */
export const wrap = (text: string, width: number): ReadonlyArray<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/[ \t\n]+/).filter((w) => w !== "")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line === "" ? word : `${line} ${word}`
  }
  if (line !== "") lines.push(line)
  return lines.map((l) => l.replaceAll(unbreakable, " "))
}

/** Terms in a left column, texts wrapped beside them; a term too wide for the column gets its own line. */
const table = (rows: ReadonlyArray<readonly [string, string]>, width: number): ReadonlyArray<string> => {
  const column = Math.min(Math.max(...rows.map(([term]) => term.length)) + 2, Math.floor(width / 2.5))
  const lines: Array<string> = []
  for (const [term, text] of rows) {
    const wrapped = [...wrap(text, Math.max(width - 2 - column, 20))]
    const first = term.length + 2 <= column ? wrapped.shift() : undefined
    lines.push(`  ${term.padEnd(column)}${first ?? ""}`.trimEnd())
    for (const rest of wrapped) lines.push(`  ${" ".repeat(column)}${rest}`)
  }
  return lines
}

/** Flags are aligned on their long names, as gh does: `-o, --output` beside `    --format`. */
const flagRows = (entries: ReadonlyArray<Entry>) =>
  entries.map((e) => [e.term.startsWith("--") ? `    ${e.term}` : e.term, e.text] as const)

export const render = (pages: Pages, located: CommandTree.Located<PageNode>, width: number): string => {
  const { node, path } = located
  const own = node.page
  const command = path.join(" ")
  const out: Array<string> = []
  const section = (title: string, lines: ReadonlyArray<string>) => {
    if (lines.length > 0) out.push("", title, ...lines)
  }
  out.push(...wrap(own.description, width))
  const required = own.options.filter((e) => e.required).map((e) => e.term.split(", ").pop())
  const usage =
    node.children.length > 0
      ? `${command} <command> [flags]`
      : [command, ...own.arguments.map((e) => e.term), ...required, "[flags]"].join(" ")
  section("USAGE", [`  $ ${usage}`])
  section(
    "COMMANDS",
    table(
      node.children.map((child) => [child.name, child.page.description] as const),
      width
    )
  )
  section(
    "ARGUMENTS",
    table(
      own.arguments.map((e) => [e.term, e.text] as const),
      width
    )
  )
  section("FLAGS", table(flagRows(own.options), width))
  section("GLOBAL FLAGS", table(flagRows(pages.globals), width))
  if (node.children.length > 0)
    out.push("", ...wrap(`Run '${command} <command> --help' for more about a command.`, width))
  return `${out.join("\n")}\n`
}

/** The terminal's width, or 80 when the output is not a terminal; never narrower than 40. */
export const widthOf = (stream: NodeJS.WriteStream): number =>
  Math.max(40, stream.isTTY === true && stream.columns > 0 ? stream.columns : 80)
