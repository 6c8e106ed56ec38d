/**
 * @convocore-effect/sandbox: an embedded fake of Convocore's V3 API, with both regions, seeded
 * documents, named fixtures and scripted faults, in-process or on real listeners.
 */
export * as Counters from "./Counters.js"
export * as Documents from "./Documents.js"
export * as FaultSpec from "./FaultSpec.js"
export * as Faults from "./Faults.js"
export * as Fixtures from "./Fixtures.js"
export * as Handler from "./Handler.js"
export * as InProcess from "./InProcess.js"
export * as Listener from "./Listener.js"
export * as Listing from "./Listing.js"
export * as ListRoute from "./ListRoute.js"
export * as Sandbox from "./Sandbox.js"
export * as TokenBucket from "./TokenBucket.js"
