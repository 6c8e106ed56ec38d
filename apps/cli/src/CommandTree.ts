/**
 * The command tree as help and the command line's first reading walk it: a command's name with its
 * children. Cli.ts's tree carries each command's @effect/cli descriptor (whose public `getSubcommands`
 * stops one level down, so a nested command cannot be reached through it); the help pages of
 * HelpDocument.ts carry each command's page.
 */
import type * as Descriptor from "@effect/cli/CommandDescriptor"

export interface Tree<Self> {
  readonly name: string
  readonly children: ReadonlyArray<Self>
}

export interface Node extends Tree<Node> {
  readonly descriptor: Descriptor.Command<unknown>
}

export const node = (
  name: string,
  command: { readonly descriptor: Descriptor.Command<unknown> },
  children: ReadonlyArray<Node> = []
): Node => ({ name, descriptor: command.descriptor, children })

export interface Located<N> {
  /** The command's names from the root: `["convocore", "conversations", "get"]`. */
  readonly path: ReadonlyArray<string>
  readonly node: N
  /** A word where a subcommand was expected that names none (`convocore conversations got`). */
  readonly unknown: string | undefined
  /** Whether a word other than an option follows the command (an argument, or an option's value). */
  readonly positional: boolean
}

/**
 * Follows the words that name subcommands, from the root, until the first word that is not one. Flags
 * are skipped, and so is a word right after a flag when it names no subcommand (it may be the flag's
 * value, as in `--log-level debug`); `--` ends the search.
 */
export const locate = <N extends Tree<N>>(root: N, args: ReadonlyArray<string>): Located<N> => {
  let current = root
  const path = [root.name]
  for (const [i, word] of args.entries()) {
    if (word === "--") break
    if (word.startsWith("-")) continue
    const child = current.children.find((candidate) => candidate.name === word)
    if (child === undefined) {
      const previous = args[i - 1]
      if (previous?.startsWith("-") === true && !previous.includes("=")) continue
      return {
        path,
        node: current,
        unknown: current.children.length > 0 ? word : undefined,
        positional: true
      }
    }
    current = child
    path.push(child.name)
  }
  return { path, node: current, unknown: undefined, positional: false }
}

/** The words before `--`: after it, `-h` is an argument like any other. */
export const optionWords = (args: ReadonlyArray<string>): ReadonlyArray<string> =>
  args.includes("--") ? args.slice(0, args.indexOf("--")) : args

/**
 * Whether the command line asks for the located command's help: `-h` or `--help` anywhere, or a command
 * that needs a subcommand named alone (no argument, no built-in such as `--version` or `--completions`).
 */
export const asksForHelp = <N extends Tree<N>>(located: Located<N>, args: ReadonlyArray<string>): boolean => {
  const options = optionWords(args)
  if (options.some((arg) => arg === "-h" || arg === "--help")) return true
  const builtInAsked = options.some((arg) => /^--(version|wizard|completions)(=|$)/.test(arg))
  return located.node.children.length > 0 && !located.positional && !builtInAsked
}
