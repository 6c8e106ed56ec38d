/** The example response of the upstream documentation, exactly as published. */
export const seedExampleResponse = {
  success: true,
  message: "Conversation retrieved successfully",
  data: {
    ID: "agent123_convo456",
    userID: "agent123_convo456",
    ts: 1699999999,
    messagesNum: 5,
    userName: "John Doe",
    userEmail: "john@example.com",
    userPhone: "+1234567890",
    userCompany: "Acme Corp",
    userAddress: "123 Main St, City, State",
    userWebsite: "https://acme.com",
    notes: "Customer interested in premium plan, follow up next week",
    tags: ["new-lead", "high-priority"],
    origin: "web-chat",
    state: "ai-chatting",
    firstMessageTS: 1699999000,
    lastMessageTS: 1699999999,
    lastModified: 1699999999
  }
} as const
