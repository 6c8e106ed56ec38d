/**
 * Each command's help page, read from @effect/cli's own help document of the command (descriptions,
 * value names, defaults). The build runs this once (build.mjs) and bundles the pages with the entry, so
 * that `--help` is answered without loading Effect; the tests compare the built help with pages read
 * afresh here.
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import type * as HelpDoc from "@effect/cli/HelpDoc"
import type * as Span from "@effect/cli/HelpDoc/Span"
import type * as CommandTree from "./CommandTree.js"
import * as Help from "./Help.js"

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

const optional = /^This setting is optional\.(?: Defaults to: (.*))?$/

const entry = ([span, doc]: readonly [Span.Span, HelpDoc.HelpDoc]): Help.Entry => {
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
      texts.push(`(default${Help.unbreakable}${fallback})`)
  }
  return { term, text: texts.join(" "), required }
}

const pageOf = (descriptor: Descriptor.Command<unknown>, withBuiltIns = false): Help.Page => {
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
  const args: Array<Help.Entry> = []
  const options: Array<Help.Entry> = []
  for (const doc of flat) {
    if (doc._tag === "Header") section = spanText(doc.value)
    else if (doc._tag === "Paragraph" && section === "DESCRIPTION") description.push(spanText(doc.value))
    else if (doc._tag === "DescriptionList")
      (section === "ARGUMENTS" ? args : options).push(...doc.definitions.map(entry))
  }
  return { description: description.join(" "), arguments: args, options }
}

const pageNode = (node: CommandTree.Node): Help.PageNode => ({
  name: node.name,
  page: pageOf(node.descriptor),
  children: node.children.map(pageNode)
})

/** The pages of every command in the tree, and the global flags (@effect/cli's built-ins). */
export const pagesOf = (root: CommandTree.Node): Help.Pages => ({
  root: pageNode(root),
  globals: pageOf(Descriptor.make(root.name), true).options
})
