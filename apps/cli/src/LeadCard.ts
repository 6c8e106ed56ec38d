/**
 * The pretty format: a lead card for a person at a terminal. It shows what a salesperson looks for
 * first and leaves the rest to `--format json`. Colour only when asked for (a terminal, no `NO_COLOR`).
 */
import type { Conversation } from "@convocore-effect/schema"

export interface Style {
  readonly bold: (text: string) => string
  readonly dim: (text: string) => string
  readonly accent: (text: string) => string
}

const wrap = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`

export const colors: Style = { bold: wrap(1, 22), dim: wrap(2, 22), accent: wrap(36, 39) }
export const plain: Style = { bold: (t) => t, dim: (t) => t, accent: (t) => t }

/** `NO_COLOR` (https://no-color.org): a non-empty value turns colour off. */
export const styleFor = (isTty: boolean, env: NodeJS.ProcessEnv): Style =>
  isTty && (env.NO_COLOR === undefined || env.NO_COLOR === "") && env.TERM !== "dumb" ? colors : plain

/**
 * A date and time in the local time zone, the zone named (`Nov 14, 2023, 10:13:20 PM UTC`), from a
 * Unix time. The spec says seconds for the conversation's own timestamps; for the others it states no
 * unit, and values past 1e12 can only be milliseconds. `timeZone` overrides the local zone.
 */
export const localDate = (value: unknown, timeZone?: string): string | undefined => {
  if (typeof value === "string") return value === "" ? undefined : value
  if (typeof value !== "number" || !Number.isFinite(value)) return undefined
  const date = new Date(value > 1e12 ? value : value * 1000)
  if (Number.isNaN(date.getTime())) return String(value)
  return new Intl.DateTimeFormat(undefined, {
    dateStyle: "medium",
    timeStyle: "long",
    ...(timeZone === undefined ? {} : { timeZone })
  }).format(date)
}

const text = (value: unknown): string | undefined => {
  if (value === undefined || value === null || value === "") return undefined
  return typeof value === "string" ? value : JSON.stringify(value)
}

export const render = (document: Conversation, style: Style): string => {
  const lines: Array<string> = []
  const row = (label: string, value: string | undefined) => {
    if (value !== undefined) lines.push(`  ${style.dim(label.padEnd(14))}${value}`)
  }
  const title = text(document.userName) ?? text(document.title) ?? text(document.ID) ?? "(unnamed lead)"
  lines.push(style.bold(title))
  row("id", text(document.ID))
  row("email", text(document.userEmail))
  row("phone", text(document.userPhone))
  row("company", text(document.userCompany))
  row("website", text(document.userWebsite))
  row("address", text(document.userAddress))
  row("stage", text(document.stage))
  row("state", text(document.state))
  row("origin", text(document.origin))
  row(
    "tags",
    document.tags && document.tags.length > 0 ? document.tags.map(style.accent).join(" ") : undefined
  )
  const score = [
    document.leadScore === undefined || document.leadScore === null
      ? undefined
      : `lead ${document.leadScore}`,
    document.hotScore === undefined || document.hotScore === null ? undefined : `hot ${document.hotScore}`,
    text(document.hotLabel)
  ].filter((part) => part !== undefined)
  row("score", score.length > 0 ? score.join(", ") : undefined)
  if (document.value !== undefined && document.value !== null)
    row("value", `${document.value}${document.currency ? ` ${document.currency}` : ""}`)
  row("messages", text(document.messagesNum))
  row("assigned", text(document.assignedTo?.name ?? document.assignedTo?.email ?? document.chatAssignedTo))
  // The conversation started with its first message; `ts` is when the record was made.
  row("started", localDate(document.firstMessageTS ?? document.ts))
  row("last message", localDate(document.lastMessageTS))
  row("modified", localDate(document.lastModified))
  row("notes", text(document.notes))
  row("summary", text(document.summary))
  const handoffs = document.handoffHistory ?? []
  if (handoffs.length > 0) {
    lines.push(`  ${style.bold("handoffs")}`)
    for (const handoff of handoffs) {
      const parts = [
        localDate(handoff.requestedAt) && `requested ${localDate(handoff.requestedAt)}`,
        handoff.acceptedBy && `accepted by ${handoff.acceptedBy}`,
        localDate(handoff.acceptedAt) && `at ${localDate(handoff.acceptedAt)}`,
        localDate(handoff.completedAt) && `completed ${localDate(handoff.completedAt)}`
      ].filter((part): part is string => typeof part === "string" && part !== "")
      lines.push(`    - ${parts.length > 0 ? parts.join(", ") : "(no details)"}`)
    }
  }
  const activities = document.crmActivities ?? []
  if (activities.length > 0) {
    lines.push(`  ${style.bold("CRM activities")}`)
    for (const activity of activities) {
      const when = localDate(activity.date)
      const done = activity.completed === true ? " (done)" : ""
      lines.push(
        `    - ${style.accent(String(activity.type))}${activity.title ? `: ${activity.title}` : ""}${when ? style.dim(` ${when}`) : ""}${done}`
      )
    }
  }
  return `${lines.join("\n")}\n`
}
