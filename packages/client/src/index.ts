/**
 * @convocore-effect/client: configuration, the resilient HttpClient layer (retry, EU/NA failover,
 * circuit breaker, deadline) and the `Convocore` service.
 */

export * as AdaptiveRate from "./AdaptiveRate.js"
export * from "./AttemptResult.js"
export * from "./CircuitBreaker.js"
export * from "./ConversationListing.js"
export * from "./Convocore.js"
export * from "./ConvocoreConfig.js"
export * as Decide from "./Decide.js"
export * from "./RateController.js"
export * from "./ResilientHttpClient.js"
export * as RetryPolicy from "./RetryPolicy.js"
export * from "./Trail.js"
export * as UndiciTransport from "./UndiciTransport.js"
export * from "./version.js"
