/**
 * The command tree as help and the command line's first reading walk it: each command's own
 * descriptor (its description, arguments and options) with its children. @effect/cli keeps the same
 * tree, but its public `getSubcommands` stops one level down, so a nested command cannot be reached
 * through it.
 */
import type * as Descriptor from "@effect/cli/CommandDescriptor"

export interface Node {
  readonly name: string
  readonly descriptor: Descriptor.Command<unknown>
  readonly children: ReadonlyArray<Node>
}

export const node = (
  name: string,
  command: { readonly descriptor: Descriptor.Command<unknown> },
  children: ReadonlyArray<Node> = []
): Node => ({ name, descriptor: command.descriptor, children })

export interface Located {
  /** The command's names from the root: `["convocore", "conversations", "get"]`. */
  readonly path: ReadonlyArray<string>
  readonly node: Node
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
export const locate = (root: Node, args: ReadonlyArray<string>): Located => {
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
