/**
 * Named fixtures: conversations and errors at fixed, documented ids, shaped like what Convocore is seen
 * to return (see API-NOTES: dashboard ids, API-created `{agentId}_{suffix}` ids, calls keyed by phone
 * number, the captured error bodies). Every fixture document passes the strict schema; the drift fault
 * is how a test gets off-spec data.
 *
 * Placement: every agent lives in both regions unless the sandbox is told otherwise, except the two
 * single-region fixture agents, so that home-region discovery ("auto") has something to discover.
 */
import type { ApiErrorBody, Conversation, Region } from "@convocore-effect/schema"
import { seedExampleResponse } from "@convocore-effect/schema"

/** The key the sandbox accepts unless configured otherwise; shaped like a Convocore secret (`vg_…`). */
export const demoApiKey = "vg_sandbox_demo_key"

export const successMessage = "Conversation retrieved successfully"

/** The agent of the seed's example and of every document fixture; it lives in both regions. */
export const demoAgent = "agent123"
/** An agent whose data is stored in EU only: NA answers 404 for all of its conversations. */
export const euOnlyAgent = "agent-eu-only"
/** An agent whose data is stored in NA only: EU answers 404 for all of its conversations. */
export const naOnlyAgent = "agent-na-only"

export const defaultPlacement: ReadonlyMap<string, ReadonlyArray<Region.Region>> = new Map([
  [euOnlyAgent, ["eu"]],
  [naOnlyAgent, ["na"]]
])

/** Conversation ids with a fixed answer. The document fixtures live under `demoAgent`. */
export const ids = {
  /** The seed's example response, byte for byte as documented. */
  seedExample: "convo456",
  /** A 15-character dashboard id, modelled on the row captured from the live API. */
  dashboard: "7EKgZfeuq82eFA0",
  /** An API-created conversation: `{agentId}_{suffix}`, with `userID` equal to `ID`. */
  apiCreated: `${demoAgent}_k3v9xq2m`,
  /** A voice call: `userID` is the caller's phone number; carries `vapi`, `voice` and `detailedCost`. */
  voiceCall: "Vc3mQ8pL2xR7tN1",
  /** `{ success, message }` with no `data`, which the API is allowed to send. */
  minimal: "minimal-envelope",
  /** Under any agent: 403, a plan gate. */
  forbidden: "plan-gated",
  /** Under any agent: 404, the captured body. */
  notFound: "not-found",
  /** Under any agent: 401, as the API answers for a deleted resource. */
  deleted: "deleted-convo",
  /** Under any agent: 400 with zod-style issues (`path`, `code` beside `message`). */
  badRequest: "bad-request"
} as const

const dashboard: Conversation = {
  ID: ids.dashboard,
  userID: ids.dashboard,
  origin: "web-chat",
  messagesNum: 5,
  ts: 1784460223,
  tags: [],
  firstMessageTS: 1784459980,
  lastMessageTS: 1784460223,
  lastModified: 1784460223,
  userName: "Amélie Laurent",
  userEmail: "amelie.laurent@example.fr",
  userPlatform: "web",
  userBrowser: "Firefox",
  userOs: "macOS",
  countryCode: "FR",
  lang: "fr",
  state: "ai-chatting",
  title: "Pricing for the team plan",
  lastMessage: "Merci, je regarde ça demain.",
  leadScore: 0,
  funnelStepsMatched: [],
  funnelScoreHistory: [],
  funnelNotificationSent: false
}

const apiCreated: Conversation = {
  ID: ids.apiCreated,
  userID: ids.apiCreated,
  origin: "web",
  messagesNum: 12,
  interactionsNum: 6,
  ts: 1784370000,
  firstMessageTS: 1784370000,
  lastMessageTS: 1784373600,
  lastModified: 1784373660,
  tags: ["api", "trial"],
  state: "human-chatting",
  userName: "Kenji Watanabe",
  userEmail: "kenji@example.jp",
  userCompany: "Watanabe Logistics",
  stage: "demo_req",
  value: 4800,
  currency: "USD",
  hotScore: 72,
  hotLabel: "warm",
  humanClaimedAt: 1784373000,
  humanLastRepliedAt: null,
  pendingAiReplyAt: null,
  chatAssignedTo: "user_ops_17",
  assignedTo: { userId: "user_ops_17", name: "Priya Raman", status: "accepted", assignedAt: 1784373000 },
  handoffHistory: [
    {
      requestedAt: 1784372900,
      acceptedAt: 1784373000,
      acceptedBy: "user_ops_17",
      organizationId: "convocore"
    }
  ],
  crmActivities: [
    {
      id: "act_1",
      type: "Demo",
      title: "Product demo",
      date: "2026-07-20",
      completed: false,
      firstChannel: "Web Chat",
      notesHistory: [{ text: "Asked for a demo on Monday", agentName: "Priya Raman", timestamp: 1784373100 }]
    }
  ],
  crmAlerts: { overdueActivity: false, staleLead: false },
  leadScore: 40,
  funnelStepsMatched: ["step_pricing", "step_demo"],
  funnelScoreHistory: [
    {
      timestamp: 1784371000,
      stepId: "step_pricing",
      stepName: "Asked about pricing",
      pointsAdded: 15,
      newScore: 15
    },
    {
      timestamp: 1784373000,
      stepId: "step_demo",
      stepName: "Requested a demo",
      pointsAdded: 25,
      newScore: 40
    }
  ],
  funnelNotificationSent: true,
  tokenUsage: {
    cumulativeInputTokens: 8120,
    cumulativeOutputTokens: 1430,
    cumulativeTotalTokens: 9550,
    cumulativeUsd: 0.0213,
    lastTurnModelId: "gpt-4o-mini",
    usagePerModel: {
      "gpt-4o-mini": {
        modelId: "gpt-4o-mini",
        inputTokens: 8120,
        outputTokens: 1430,
        totalTokens: 9550,
        usd: 0.0213
      }
    }
  }
}

const voiceCall: Conversation = {
  ID: ids.voiceCall,
  userID: "+14155550123",
  userPhone: "+14155550123",
  origin: "voice",
  campaignId: "cmp_spring_outreach",
  messagesNum: 18,
  ts: 1784280000,
  firstMessageTS: 1784280000,
  lastMessageTS: 1784280212,
  lastModified: 1784280230,
  convoTimeSeconds: 212,
  state: "ended_chat",
  endReason: "customer-ended-call",
  tags: ["call"],
  summary: "Caller asked to move the delivery to Friday; confirmed.",
  vapi: {
    cost: 0.31,
    callDuration: 212,
    recordingUrl: "https://recordings.sandbox.invalid/Vc3mQ8pL2xR7tN1.wav",
    callerPhoneNumber: "+14155550123",
    calleePhoneNumber: "+14155550999",
    callStatus: "ended"
  },
  voice: {
    latestSessionId: "vs_93a1f0",
    listenUrl: "wss://listen.sandbox.invalid/vs_93a1f0",
    listenUrlUNIX: 1784280000
  },
  detailedCost: {
    totalCreditsConsumed: 31,
    speechGenCost: 0.09,
    transcriberCost: 0.04,
    twilioCost: 0.06,
    llmCost: 0.12
  },
  averageLatency: 840
}

export type Fixture =
  | { readonly _tag: "Document"; readonly data: Conversation }
  | { readonly _tag: "Envelope"; readonly envelope: unknown }
  | { readonly _tag: "Error"; readonly status: number; readonly body: ApiErrorBody }

export const unauthorizedBody: ApiErrorBody = {
  message: "Unauthorized workspace scope",
  code: "UNAUTHORIZED"
}
export const notFoundBody: ApiErrorBody = { message: "Conversation not found", code: "NOT_FOUND" }

// Maps, not object literals: a convoId of `__proto__` or `constructor` must not find anything.
const byConvoId: ReadonlyMap<string, Fixture> = new Map(
  Object.entries({
    [ids.minimal]: { _tag: "Envelope", envelope: { success: true, message: successMessage } },
    [ids.forbidden]: {
      _tag: "Error",
      status: 403,
      body: { message: "Business plan or higher", code: "FORBIDDEN" }
    },
    [ids.notFound]: { _tag: "Error", status: 404, body: notFoundBody },
    [ids.deleted]: { _tag: "Error", status: 401, body: unauthorizedBody },
    [ids.badRequest]: {
      _tag: "Error",
      status: 400,
      body: {
        message: "Input validation failed",
        code: "BAD_REQUEST",
        issues: [{ message: "Invalid conversation id", path: ["convoId"], code: "custom" }]
      }
    }
  } satisfies Record<string, Fixture>)
)

const demoAgentDocuments: ReadonlyMap<string, Fixture> = new Map(
  Object.entries({
    [ids.seedExample]: { _tag: "Envelope", envelope: seedExampleResponse },
    [ids.dashboard]: { _tag: "Document", data: dashboard },
    [ids.apiCreated]: { _tag: "Document", data: apiCreated },
    [ids.voiceCall]: { _tag: "Document", data: voiceCall }
  } satisfies Record<string, Fixture>)
)

/** The fixture at these ids, if any; anything else is a generated document. */
export const lookup = (agentId: string, convoId: string): Fixture | undefined =>
  byConvoId.get(convoId) ?? (agentId === demoAgent ? demoAgentDocuments.get(convoId) : undefined)
