/**
 * The command tree, and each command's work (a module of its own). `convocore --help` does not load
 * this module: its pages are read from this tree at build time (bin.ts, HelpDocument.ts).
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Effect, Either } from "effect"
import * as CommandTree from "./CommandTree.js"
import type { ExitWith } from "./ExitCode.js"
import * as ExportConversations from "./ExportConversations.js"
import * as FieldPaths from "./FieldPaths.js"
import * as Flags from "./Flags.js"
import * as GetConversation from "./GetConversation.js"
import * as ListConversations from "./ListConversations.js"
import * as ServeSandbox from "./ServeSandbox.js"

const fields = Options.text("fields").pipe(
  Options.withPseudoName("paths"),
  Options.withDescription(
    "Comma-separated dotted paths to keep, e.g. userName,userEmail,assignedTo.name (a path into an array applies to each element)"
  ),
  Options.mapEffect((text) =>
    Either.match(FieldPaths.parse(text), {
      onLeft: (message) => Effect.fail(Flags.refuse(message)),
      onRight: Effect.succeed
    })
  ),
  Options.optional
)

const csvRaw = Options.boolean("csv-raw").pipe(
  Options.withDescription(
    "CSV: write cells that start with =, +, -, @, a tab or a carriage return as they are; by default they get a leading ' so a spreadsheet does not run them as formulas"
  )
)

const get = Command.make(
  "get",
  {
    ...Flags.shared,
    agentId: Args.text({ name: "agentId" }).pipe(Args.withDescription("The agent (workspace bot) id")),
    convoId: Args.text({ name: "convoId" }).pipe(Args.withDescription("The conversation id")),
    format: Options.choice("format", ["pretty", "json", "yaml"]).pipe(
      Options.withDescription("Output format; default: pretty on a terminal, json when piped"),
      Options.optional
    ),
    fields
  },
  (flags): Effect.Effect<void, ExitWith> => GetConversation.run(flags)
).pipe(
  Command.withDescription(
    "Get one conversation: a lead card on a terminal, the JSON document when piped. Exit codes: 0 ok, 2 invalid input or missing key, 3 not found, 4 unauthorized/forbidden, 5 rate limited, 6 upstream unavailable, 7 invalid response"
  )
)

const list = Command.make(
  "list",
  {
    ...Flags.shared,
    agentId: Args.text({ name: "agentId" }).pipe(Args.withDescription("The agent (workspace bot) id")),
    format: Options.choice("format", ["ndjson", "json", "csv", "pretty"]).pipe(
      Options.withDescription(
        "Output format; default: a table on a terminal, ndjson (a row a line) when piped"
      ),
      Options.optional
    ),
    limit: Options.integer("limit").pipe(
      Options.withDescription("List at most this many conversations (default: all)"),
      Options.mapEffect((n) =>
        n >= 1 ? Effect.succeed(n) : Effect.fail(Flags.refuse(`--limit ${n}: expected 1 or more`))
      ),
      Options.optional
    ),
    csvRaw
  },
  (flags): Effect.Effect<void, ExitWith> => ListConversations.run(flags)
).pipe(
  Command.withDescription(
    "List an agent's conversations, newest first, following the upstream's cursor from page to page. Exit codes as for get"
  )
)

const exportCommand = Command.make(
  "export",
  {
    ...Flags.shared,
    agentId: Args.text({ name: "agentId" }).pipe(Args.withDescription("The agent (workspace bot) id")),
    ids: Options.text("ids").pipe(
      Options.withPseudoName("FILE|-"),
      Options.withDescription(
        "File of conversation ids, one per line (blank lines skipped, a repeated id exported once); - reads stdin"
      ),
      Options.optional
    ),
    all: Options.boolean("all").pipe(
      Options.withDescription(
        "Export every conversation the agent lists (instead of --ids), following the list's cursor page by page"
      )
    ),
    format: Options.choice("format", ["ndjson", "csv"]).pipe(
      Options.withDescription("ndjson: one document per line, as `get --format json`; csv: lead columns"),
      Options.withDefault("ndjson" as const)
    ),
    output: Options.text("output").pipe(
      Options.withPseudoName("FILE"),
      Options.withAlias("o"),
      Options.withDescription(
        "Write to this file (default stdout); needed for --resume. Locked while an export writes it: a second export into it is refused"
      ),
      Options.optional
    ),
    concurrency: Options.integer("concurrency").pipe(
      Options.withDescription("Requests in flight at once, 1 to 256"),
      Options.withDefault(8),
      Options.mapEffect((n) =>
        n >= 1 && n <= 256
          ? Effect.succeed(n)
          : Effect.fail(Flags.refuse(`--concurrency ${n}: expected 1 to 256`))
      )
    ),
    resume: Options.boolean("resume").pipe(
      Options.withDescription(
        "Continue an interrupted export into --output: skip ids already written, append the rest (with --all, list from where it stopped). Ids that failed for good (invalid, bad request, not found) are not retried. Refused if the file holds another format, agent, source or --fields"
      )
    ),
    force: Options.boolean("force").pipe(
      Options.withDescription(
        "Start afresh over an --output that holds an earlier export (it would be truncated)"
      )
    ),
    fields,
    csvRaw
  },
  (flags): Effect.Effect<void, ExitWith> => ExportConversations.run(flags)
).pipe(
  Command.withDescription(
    "Export many conversations of one agent to NDJSON or CSV, from --ids or --all, with bounded memory. Failed ids are listed at the end (exit 8), split into those worth a --resume and those that will fail again"
  )
)

const sandbox = Command.make(
  "sandbox",
  {
    port: Options.integer("port").pipe(
      Options.withDescription(
        "EU listens on this port, NA on the next one, the admin routes on the one after; 0 picks free ports"
      ),
      Options.withDefault(4010)
    ),
    faultEu: Options.text("fault-eu").pipe(
      Options.withPseudoName("spec"),
      Options.withDescription(
        'Faults of the EU region, e.g. down, "status=503,first=3", latency=2s, rate=5/s'
      ),
      Options.optional
    ),
    faultNa: Options.text("fault-na").pipe(
      Options.withPseudoName("spec"),
      Options.withDescription("Faults of the NA region, in the same grammar"),
      Options.optional
    )
  },
  (flags): Effect.Effect<void, ExitWith> => ServeSandbox.run(flags)
).pipe(
  Command.withDescription(
    "Run a fake Convocore V3 (EU and NA listeners, seeded documents, scripted faults) until Ctrl-C; prints its URLs and key"
  )
)

const conversations = Command.make("conversations").pipe(Command.withDescription("Read conversations"))
const conversationsCommands = [get, list, exportCommand] as const

const convocore = Command.make("convocore").pipe(
  Command.withDescription("Get and export Convocore conversations, and run the Convocore sandbox")
)

export const root = convocore.pipe(
  Command.withSubcommands([Command.withSubcommands(conversations, conversationsCommands), sandbox])
)

/** The same tree for help and for reading the command line (see CommandTree.ts). */
export const tree: CommandTree.Node = CommandTree.node("convocore", convocore, [
  CommandTree.node("conversations", conversations, [
    CommandTree.node("get", get),
    CommandTree.node("list", list),
    CommandTree.node("export", exportCommand)
  ]),
  CommandTree.node("sandbox", sandbox)
])
