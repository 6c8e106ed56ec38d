/**
 * The conversation document of `GET /v3/agents/{agentId}/convos/{convoId}`: every property of the
 * upstream OpenAPI `data` schema (1.0.4), with its nesting, enums, nullable fields and unions.
 *
 * `Conversation` is the tolerant reader (see ./Tolerance.ts): no property is required, enums are open,
 * a `null` is accepted where the API has been seen to send one instead of a value, unknown keys are kept
 * at every level and written back on encode, and nothing is ever inserted. `ConversationStrict` is the
 * same schema with those loosenings removed: exactly the spec.
 */
import { Schema } from "effect"
import * as FastDecoder from "./FastDecoder.js"
import { field, LooseStruct, OpenEnum, specRequired, toStrict } from "./Tolerance.js"

/** Numbers in JSON are finite; `JsonNumber` rejects NaN and Infinity as a JSON validator does. */
const Num = Schema.JsonNumber
const Str = Schema.String
const Bool = Schema.Boolean
/** Unix time in seconds (`ts`, `firstMessageTS`, `lastMessageTS`, `lastModified`). */
const UnixSeconds = Schema.JsonNumber.annotations({ description: "Unix timestamp in seconds" })
const StringOrNumber = Schema.Union(Str, Num)
const Strings = Schema.Array(Str)
/** An object whose contents the spec leaves open (`additionalProperties: {}`). */
const OpenObject = Schema.Record({ key: Str, value: Schema.Unknown })

export const LeadStages = [
  "new",
  "engaged",
  "email_sent",
  "follow_up",
  "info_req",
  "demo_req",
  "demo_conf",
  "demo_done",
  "proposal",
  "negotiation",
  "trial",
  "won",
  "lost"
] as const
export const ConversationStates = ["requested_chat", "human-chatting", "ai-chatting", "ended_chat"] as const
export const ResolvedRuntimes = ["legacy", "v4"] as const
export const AssignmentStatuses = ["pending", "accepted", "done"] as const
export const HotLabels = ["hot", "warm", "cold"] as const
export const CrmActivityTypes = [
  "Message",
  "Call",
  "Email",
  "Demo",
  "Meeting",
  "Follow-Up",
  "Note",
  "Stage Change",
  "Handoff",
  "System"
] as const
export const CrmChannels = [
  "LinkedIn",
  "WhatsApp",
  "Instagram",
  "Facebook",
  "Email",
  "Phone/Call",
  "Zoom/Video",
  "In Person",
  "Referral",
  "Web Chat",
  "Unknown"
] as const
export const EngagementTriggers = ["phrase", "ai_rule", "ownership"] as const

export const VoiceflowV4Session = LooseStruct({
  sessionKey: specRequired(Str),
  projectId: specRequired(Str),
  environmentAlias: field(Str),
  updatedAt: field(Num),
  resolvedRuntime: field(OpenEnum(...ResolvedRuntimes))
}).annotations({
  identifier: "VoiceflowV4Session",
  description: "Voiceflow v4 session key persisted on the chat/convo doc for cross-request continuity"
})

export const Handoff = LooseStruct({
  requestedAt: field(Num),
  acceptedAt: field(Num),
  completedAt: field(Num),
  acceptedBy: field(Str.annotations({ description: "Agent ID who accepted" })),
  organizationId: field(
    Str.annotations({
      description:
        'Organization ID that accepted the handoff. Set to "convocore" for main dashboard, or the org ID for specific organizations'
    })
  ),
  requestedTeamKey: field(Str),
  teamIds: field(Strings.annotations({ description: "Team IDs the agent who accepted belongs to" })),
  teamKeys: field(Strings.annotations({ description: "Team keys the agent who accepted belongs to" }))
}).annotations({ identifier: "Handoff" })

export const Vapi = LooseStruct({
  cost: field(Num),
  callDuration: field(Num),
  recordingUrl: field(Str),
  callerPhoneNumber: field(Str),
  calleePhoneNumber: field(Str),
  callStatus: field(Str),
  callError: field(Str)
}).annotations({ identifier: "Vapi" })

export const NodesInfo = LooseStruct({ currentNode: field(Str) }).annotations({ identifier: "NodesInfo" })

export const Voice = LooseStruct({
  latestSessionId: field(Str),
  listenUrl: field(
    Str.annotations({ description: "This is the url that is used to listen to the call in realtime." })
  ),
  listenUrlUNIX: field(Num)
}).annotations({ identifier: "Voice" })

export const DetailedCost = LooseStruct({
  totalCreditsConsumed: field(Num),
  speechGenCost: field(Num),
  transcriberCost: field(Num),
  twilioCost: field(Num),
  llmCost: field(Num)
}).annotations({ identifier: "DetailedCost" })

export const Assignment = LooseStruct({
  userId: specRequired(Str),
  name: field(Str),
  email: field(Str),
  photoUrl: field(Str),
  note: field(Str),
  assignedAt: field(StringOrNumber),
  status: field(OpenEnum(...AssignmentStatuses))
}).annotations({ identifier: "Assignment" })

export const CrmNote = LooseStruct({
  agentId: field(Str),
  agentName: field(Str),
  text: specRequired(Str),
  timestamp: field(StringOrNumber)
}).annotations({ identifier: "CrmNote" })

export const CrmActivity = LooseStruct({
  id: field(Str),
  title: field(Str),
  type: specRequired(OpenEnum(...CrmActivityTypes)),
  date: field(StringOrNumber),
  dueDate: field(StringOrNumber),
  completed: field(Bool),
  responded: field(Bool),
  firstChannel: field(OpenEnum(...CrmChannels)),
  firstEngaged: field(Bool),
  secondChannel: field(OpenEnum(...CrmChannels)),
  secondEngaged: field(Bool),
  note: field(Str),
  notesHistory: field(Schema.Array(CrmNote)),
  metadata: field(OpenObject)
}).annotations({ identifier: "CrmActivity" })

export const CrmAlerts = LooseStruct({
  overdueECD: field(Bool),
  overdueActivity: field(Bool),
  staleLead: field(Bool),
  responded: field(Bool),
  newHandoffAssigned: field(Bool)
}).annotations({ identifier: "CrmAlerts" })

export const FunnelScoreChange = LooseStruct({
  timestamp: specRequired(Num),
  stepId: specRequired(Str),
  stepName: specRequired(Str),
  pointsAdded: specRequired(Num),
  newScore: specRequired(Num),
  extractedData: field(OpenObject),
  messageContext: field(Str)
}).annotations({ identifier: "FunnelScoreChange" })

export const ModelUsage = LooseStruct({
  modelId: field(Str),
  inputTokens: field(Num),
  outputTokens: field(Num),
  totalTokens: field(Num),
  usd: field(Num),
  lastUsedTs: field(Num)
}).annotations({ identifier: "ModelUsage" })

export const TokenUsage = LooseStruct({
  cumulativeInputTokens: field(Num),
  cumulativeOutputTokens: field(Num),
  cumulativeTotalTokens: field(Num),
  cumulativeUsd: field(Num),
  lastTurnInputTokens: field(Num),
  lastTurnOutputTokens: field(Num),
  lastTurnTotalTokens: field(Num),
  lastTurnUsd: field(Num),
  lastTurnModelId: field(Str),
  lastTurnContextWindow: field(Num),
  lastTurnInputUsdPer1k: field(Num),
  lastTurnOutputUsdPer1k: field(Num),
  lastTurnTs: field(Num),
  usagePerModel: field(Schema.Record({ key: Str, value: ModelUsage }))
}).annotations({
  identifier: "TokenUsage",
  description: "Cumulative + last-turn LLM token usage for this conversation"
})

export const InboundEngagementState = LooseStruct({
  firstDecisionAt: field(Num),
  firstDecisionShouldReply: field(Bool),
  lastDecisionAt: field(Num),
  lastDecisionShouldReply: field(Bool),
  lastDecisionReason: field(Str),
  aiOwnedThread: field(Bool),
  ignoreThread: field(Bool),
  lastTriggeredBy: field(OpenEnum(...EngagementTriggers))
}).annotations({
  identifier: "InboundEngagementState",
  description:
    "Per-thread state for inbound engagement decisions, ownership, and persistent ignore/reply behavior."
})

export const Conversation = LooseStruct({
  // Lead information
  userEmail: field(Str),
  userName: field(Str),
  userPhone: field(Str),
  userAddress: field(Str),
  userCompany: field(Str),
  userWebsite: field(Str),
  notes: field(Str),
  userProfilePic: field(Str),
  // CRM
  stage: field(OpenEnum(...LeadStages)),
  value: field(Schema.Union(Num, Str)),
  currency: field(Str),
  expectedCloseDate: field(Str),
  subIndustry: field(Str),
  source: field(Str),
  language: field(Str),
  linkedIn: field(Str),
  facebook: field(Str),
  instagram: field(Str),
  demoDate: field(Str),
  demoTime: field(Str),
  demoLink: field(Str),
  lostReason: field(Str),
  lastActivityDate: field(StringOrNumber),
  // Identity
  ID: field(Str),
  userID: field(
    Str.annotations({
      description:
        "UserID/ConvoID it is the phone number of the user if it is a call and is NOT unique for every individual call/conversation."
    })
  ),
  campaignId: field(Str.annotations({ description: "The campaign id that the call may belong to." })),
  userImage: field(
    Str.annotations({
      description: "This is the image of the user that is used to display in the lead card."
    })
  ),
  socialHandle: field(Str),
  isFollowingBusiness: field(Bool),
  socialVerified: field(Bool),
  userOs: field(Str),
  userBrowser: field(Str),
  ipAddress: field(Str),
  countryCode: field(Str),
  /** Untyped in the spec; a channel string in practice (`web-chat`, `whatsapp`, ...). */
  origin: Schema.optional(Schema.Unknown),
  whatsappPhoneNumberId: field(Str),
  whatsappBusinessNumber: field(Str),
  whatsappDisplayPhoneNumber: field(Str),
  whatsappBusinessAccountId: field(Str),
  voiceflowV4Session: field(VoiceflowV4Session),
  // Conversation data
  messagesNum: field(Num),
  interactionsNum: field(Num),
  ts: field(UnixSeconds),
  tags: field(Strings),
  convoTimeSeconds: field(Num),
  firstMessageTS: field(UnixSeconds),
  lastMessageTS: field(UnixSeconds),
  userPlatform: field(Str),
  state: field(OpenEnum(...ConversationStates)),
  smbContact: field(Bool),
  smbContactName: field(Str),
  smbContactRemovedAt: field(Num),
  smbLastSeenAt: field(Num),
  // Nullable in the spec itself: no tolerance marker, strict keeps the null.
  humanClaimedAt: Schema.optional(Schema.NullOr(Num)),
  humanLastRepliedAt: Schema.optional(Schema.NullOr(Num)),
  pendingAiReplyAt: Schema.optional(Schema.NullOr(Num)),
  chatAssignedTo: field(Str),
  handoffHistory: field(
    Schema.Array(Handoff).annotations({
      description: "Complete history of all handoffs for this conversation"
    })
  ),
  isTyping: field(
    Bool.annotations({ description: "Indicates if the human agent is currently typing a response" })
  ),
  lastModified: field(UnixSeconds),
  sessionsNum: field(Num),
  lang: field(Str),
  vapi: field(Vapi),
  ratingFrom5: field(Num),
  totalUserInteractions: field(Num),
  isBlocked: field(Bool),
  nodesInfo: field(NodesInfo),
  capturedVariables: Schema.optional(Schema.Unknown),
  campaignCalls: field(Schema.Array(Schema.Unknown)),
  sessions: field(Schema.Array(Schema.Unknown)),
  endReason: field(Str),
  isTest: field(Bool),
  metrics: field(Schema.Array(Schema.Unknown)),
  notifyToUserId: field(Str),
  averageLatency: field(Num),
  voice: field(Voice),
  detailedCost: field(DetailedCost),
  summary: field(
    Str.annotations({ description: "This is the summary of the conversation that is generated by the AI." })
  ),
  requestedTeamKey: field(Str),
  delegatedBy: field(Str.annotations({ description: "ID of the user who delegated this chat" })),
  delegatedAt: field(Num.annotations({ description: "Unix timestamp when the chat was delegated" })),
  lastViewed: field(
    Num.annotations({ description: "Unix timestamp when the conversation was last viewed/opened" })
  ),
  note: field(Str),
  assignedTo: field(Assignment),
  hotScore: field(Num),
  hotLabel: field(OpenEnum(...HotLabels)),
  crmActivities: field(Schema.Array(CrmActivity)),
  crmAlerts: field(CrmAlerts),
  contactIdentityId: field(Str),
  linkedChannels: field(Strings),
  crossChannelContext: field(Str),
  // Funnel scoring. The spec gives defaults to four of these; see `specDefaults`.
  leadScore: field(Num.annotations({ description: "Current lead score (0-100)" })),
  funnelStepsMatched: field(Strings.annotations({ description: "Array of matched funnel step IDs" })),
  funnelScoreHistory: field(
    Schema.Array(FunnelScoreChange).annotations({ description: "History of score changes" })
  ),
  funnelNotificationSent: field(
    Bool.annotations({ description: "Whether notification email has been sent" })
  ),
  funnelLastEvaluated: field(Num.annotations({ description: "Unix timestamp of last funnel evaluation" })),
  funnelExtractedData: field(
    OpenObject.annotations({ description: "Extracted business data from conversations" })
  ),
  funnelSummary: field(
    Str.annotations({ description: "AI-generated conversation summary for email notifications" })
  ),
  tokenUsage: field(TokenUsage),
  inboundEngagementState: field(InboundEngagementState),
  title: field(Str),
  lastMessage: field(Str)
}).annotations({ identifier: "Conversation", title: "Convocore conversation" })

export type Conversation = typeof Conversation.Type
export type ConversationEncoded = typeof Conversation.Encoded

/** Exactly the spec: closed enums, no excess keys, no tolerated nulls, nested required properties. */
export const ConversationStrict = toStrict(Conversation).annotations({ identifier: "ConversationStrict" })

/**
 * The defaults the spec declares. They describe what Convocore means when a property is absent; the
 * reader never writes them into a document. Use `withSpecDefaults` to read a document with them applied.
 */
export const specDefaults = {
  leadScore: 0,
  funnelStepsMatched: [],
  funnelScoreHistory: [],
  funnelNotificationSent: false
} as const satisfies Partial<Conversation>

export type ConversationWithDefaults = Conversation & {
  readonly leadScore: number
  readonly funnelStepsMatched: ReadonlyArray<string>
  readonly funnelScoreHistory: ReadonlyArray<typeof FunnelScoreChange.Type>
  readonly funnelNotificationSent: boolean
}

/** A copy of the document with the spec's defaults filled in where a property is absent or null. */
export const withSpecDefaults = (conversation: Conversation): ConversationWithDefaults => ({
  ...conversation,
  leadScore: conversation.leadScore ?? specDefaults.leadScore,
  funnelStepsMatched: conversation.funnelStepsMatched ?? specDefaults.funnelStepsMatched,
  funnelScoreHistory: conversation.funnelScoreHistory ?? specDefaults.funnelScoreHistory,
  funnelNotificationSent: conversation.funnelNotificationSent ?? specDefaults.funnelNotificationSent
})

/** Decoders at validator speed with Effect's error messages; see ./FastDecoder.ts. */
export const conversationDecoder = FastDecoder.make(Conversation)
export const conversationStrictDecoder = FastDecoder.make(ConversationStrict)
