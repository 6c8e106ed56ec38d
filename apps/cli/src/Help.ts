/**
 * `--help` as gh and kubectl users read it: the description, a USAGE line with the command's full path,
 * the arguments, the flags with their defaults, the subcommands, the global flags, wrapped to the
 * terminal's width. The text comes from @effect/cli's own help document of each command (descriptions,
 * value names, defaults), laid out here: its own renderer repeats each flag's type in prose, shows a
 * leaf's usage without its parents (`$ get`) and never wraps.
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import type * as HelpDoc from "@effect/cli/HelpDoc"
import type * as Span from "@effect/cli/HelpDoc/Span"
import type * as CommandTree from "./CommandTree.js"

const config = CliConfig.make({ showBuiltIns: false, showTypes: false })

const spanText = (span: Span.Span): string => {
  switch (span._tag) {
    case "Text":
    case "URI":
      return span.value
    case "Sequence":
      return spanText(span.left) + spanText(span.right)
    default:
      return spanText(span.value)
  }
}

const paragraphs = (doc: HelpDoc.HelpDoc): ReadonlyArray<string> => {
  switch (doc._tag) {
    case "Paragraph":
      return [spanText(doc.value)]
    case "Sequence":
      return [...paragraphs(doc.left), ...paragraphs(doc.right)]
    default:
      return []
  }
}

interface Entry {
  /** `--format pretty|json|yaml`, `-o, --output FILE`, `<agentId>`. */
  readonly term: string
  readonly text: string
  readonly required: boolean
}

interface Sections {
  readonly description: string
  readonly arguments: ReadonlyArray<Entry>
  readonly options: ReadonlyArray<Entry>
}

/** Joins words that wrap must keep on one line; printed as a space. */
const unbreakable = "\u00a0"

const optional = /^This setting is optional\.(?: Defaults to: (.*))?$/

const entry = ([span, doc]: readonly [Span.Span, HelpDoc.HelpDoc]): Entry => {
  const term = spanText(span)
    .replace(/^\((.*)\)$/, "$1")
    .replaceAll(" | ", "|")
  const texts: Array<string> = []
  let required = true
  // The first paragraph names the value's type in prose ("An integer."): the term shows it already.
  for (const text of paragraphs(doc).slice(1)) {
    const match = optional.exec(text)
    if (match === null) {
      // Where the value may come from is said in each description already.
      if (text !== "This option can be set from environment variables.") texts.push(text)
      continue
    }
    required = false
    const fallback = match[1]
    // A flag's default (false) and an absent value (Option.none) are what "optional" already says.
    if (fallback !== undefined && fallback !== "false" && !fallback.startsWith("{"))
      texts.push(`(default${unbreakable}${fallback})`)
  }
  return { term, text: texts.join(" "), required }
}

const sectionsOf = (descriptor: Descriptor.Command<unknown>, withBuiltIns = false): Sections => {
  const flat: Array<HelpDoc.HelpDoc> = []
  const walk = (doc: HelpDoc.HelpDoc): void => {
    if (doc._tag === "Sequence") {
      walk(doc.left)
      walk(doc.right)
    } else flat.push(doc)
  }
  walk(Descriptor.getHelp(descriptor, withBuiltIns ? CliConfig.make({ showTypes: false }) : config))
  let section = ""
  const description: Array<string> = []
  const args: Array<Entry> = []
  const options: Array<Entry> = []
  for (const doc of flat) {
    if (doc._tag === "Header") section = spanText(doc.value)
    else if (doc._tag === "Paragraph" && section === "DESCRIPTION") description.push(spanText(doc.value))
    else if (doc._tag === "DescriptionList")
      (section === "ARGUMENTS" ? args : options).push(...doc.definitions.map(entry))
  }
  return { description: description.join(" "), arguments: args, options }
}

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

const globals = sectionsOf(Descriptor.make("convocore"), true).options

export const render = (located: CommandTree.Located, width: number): string => {
  const { node, path } = located
  const own = sectionsOf(node.descriptor)
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
      node.children.map((child) => [child.name, sectionsOf(child.descriptor).description] as const),
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
  section("GLOBAL FLAGS", table(flagRows(globals), width))
  if (node.children.length > 0)
    out.push("", ...wrap(`Run '${command} <command> --help' for more about a command.`, width))
  return `${out.join("\n")}\n`
}

/** The terminal's width, or 80 when the output is not a terminal; never narrower than 40. */
export const widthOf = (stream: NodeJS.WriteStream): number =>
  Math.max(40, stream.isTTY === true && stream.columns > 0 ? stream.columns : 80)
