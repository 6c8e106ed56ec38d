/**
 * A plausible lead conversation from a number: a person with a name, an email at their company's
 * domain, a phone number, a company, a pipeline stage, tags, an assigned agent and CRM activity, with
 * every time in order (`firstMessageTS` <= `ts` <= `lastMessageTS` <= `lastModified`, activities in
 * between). Small word lists and a seeded generator: the same number gives the same lead, and a demo
 * CSV reads like a CRM export. Every value fits the strict schema (known enum values only).
 */
import {
  type Conversation,
  ConversationStates,
  CrmActivityTypes,
  HotLabels,
  LeadStages
} from "@convocore-effect/schema"

/** Word lists, one string each so that they read as lists; `|` separates entries that hold spaces. */
const words = (text: string): ReadonlyArray<string> => text.split(text.includes("|") ? "|" : " ")
const pairs = (text: string) =>
  words(text).map((entry) => {
    const [name = "", value = ""] = entry.split(" = ")
    return [name, value] as const
  })

const firstNames = words(
  "Anna Ben Chloé David Elif Farah Giulia Hiro Isabel Jonas Kwame Lena Mateo Nora Olu Priya Quentin Rosa Sven Tara Umar Valentina Wei Yara Zoe"
)
const lastNames = words(
  "Andersen Bauer Costa Dubois Eriksen Fischer García Hughes Ito Jansen Kowalski Lindqvist Moreau Nakamura Okafor Patel Rossi Schmidt Tanaka Usman Varga Walsh Yilmaz Zimmermann"
)
const companies = pairs(
  "Northwind Logistics = northwind-logistics.com|Brightleaf Dental = brightleafdental.co.uk|Alpenblick Hotels = alpenblick-hotels.de|Cobalt Fitness = cobaltfitness.com|Harbor & Finch Legal = harborfinch.law|Lumen Solar = lumensolar.io|Maison Verte Interiors = maisonverte.fr|Quayside Motors = quaysidemotors.ie|Saffron Table Catering = saffrontable.com|Tidewater Realty = tidewaterrealty.com|Vela Software = velasoftware.dev|Kestrel Insurance = kestrel-insurance.com"
)
const streets = words(
  "Market Street|Rue de la Paix|Hauptstraße|Via Roma|King's Road|Calle Mayor|Elm Avenue|Harbour Lane"
)
const cities = pairs(
  "Dublin = +353 1|Lyon = +33 4|Munich = +49 89|Milan = +39 02|London = +44 20|Madrid = +34 91|Austin = +1 512|Toronto = +1 416"
)
const topics = words(
  "pricing for the team plan|a demo next week|integrating with their CRM|WhatsApp support for bookings|an invoice question|opening hours and booking|a quote for 40 seats|data residency in the EU"
)
const tagWords = words("vip pricing demo support renewal enterprise inbound referral follow-up trial")
const agents = pairs(
  "agent_mk = Maya Keller|agent_tr = Tomás Ruiz|agent_sj = Sophie Jensen|agent_ao = Ade Okoro"
)
const channels = words("web-chat whatsapp instagram messenger voice email")
const currencies = words("EUR USD GBP")
const languages = words("en de fr es it")

/** mulberry32: a small, fast generator whose whole state is one number, so a seed reproduces it. */
const generator = (seed: number) => {
  let state = seed | 0
  const next = () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
  // The index is within bounds for every non-empty list (all of this module's lists).
  const pick = <A>(items: ReadonlyArray<A>): A => items[int(0, items.length - 1)] as A
  return { next, int, pick }
}

const slug = (text: string) =>
  text
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z]/g, "")

/** The lead's fields of a conversation document; the caller adds the ids. */
export const make = (seed: number): Conversation => {
  const random = generator(seed)
  const first = random.pick(firstNames)
  const last = random.pick(lastNames)
  const [company, domain] = random.pick(companies)
  const [city, dialCode] = random.pick(cities)
  const [agentId, agentName] = random.pick(agents)
  const agentFirst = agentName.split(" ")[0] ?? agentName
  const topic = random.pick(topics)
  const channel = random.pick(channels)

  const firstMessageTS = random.int(1_735_689_600, 1_782_864_000) // 2025-01-01 to 2026-07-01
  const ts = firstMessageTS + random.int(0, 30)
  const lastMessageTS = ts + random.int(60, 3 * 24 * 3600)
  const lastModified = lastMessageTS + random.int(0, 3600)
  const between = () => random.int(ts, lastMessageTS)

  const leadScore = random.int(0, 100)
  const hotLabel = leadScore >= 70 ? HotLabels[0] : leadScore >= 40 ? HotLabels[1] : HotLabels[2]
  const tags = [...new Set(Array.from({ length: random.int(1, 3) }, () => random.pick(tagWords)))]
  const activityTimes = Array.from({ length: random.int(1, 4) }, between).sort((a, b) => a - b)

  return {
    origin: channel,
    messagesNum: random.int(2, 60),
    sessionsNum: random.int(1, 4),
    ts,
    firstMessageTS,
    lastMessageTS,
    lastModified,
    lang: random.pick(languages),
    userName: `${first} ${last}`,
    userEmail: `${slug(first)}.${slug(last)}@${domain}`,
    userPhone: `${dialCode} ${random.int(100, 999)} ${random.int(1000, 9999)}`,
    userCompany: company,
    userWebsite: `https://www.${domain}`,
    userAddress: `${random.int(1, 220)} ${random.pick(streets)}, ${city}`,
    stage: random.pick(LeadStages),
    state: random.pick(ConversationStates),
    value: random.int(5, 400) * 100,
    currency: random.pick(currencies),
    leadScore,
    hotScore: Math.max(0, Math.min(100, leadScore + random.int(-10, 10))),
    hotLabel,
    tags,
    title: `${first} from ${company} about ${topic}`,
    summary: `${first} ${last} (${company}) asked about ${topic} on ${channel}; ${agentName} followed up.`,
    lastMessage: `Thanks, ${agentFirst}! That works for us.`,
    chatAssignedTo: agentId,
    assignedTo: {
      userId: agentId,
      name: agentName,
      email: `${slug(agentFirst)}@convocore-demo.example`,
      assignedAt: ts,
      status: "accepted"
    },
    handoffHistory: [
      { requestedAt: ts, acceptedAt: Math.min(lastMessageTS, ts + random.int(5, 600)), acceptedBy: agentId }
    ],
    crmActivities: activityTimes.map((date, i) => {
      return {
        id: `act_${(seed >>> 0).toString(36)}_${i + 1}`,
        type: random.pick(CrmActivityTypes),
        title: `${topic[0]?.toUpperCase()}${topic.slice(1)} (${first})`,
        date,
        completed: date < lastMessageTS - 3600
      }
    })
  }
}
