/**
 * Spans only when someone listens. Effect's own tracer, used when an application provides none, keeps
 * spans nowhere; building one per call and per attempt, and the context changes that parent them, was a
 * large share of a call's cost for nothing. With any other tracer (OpenTelemetry's, a test's), every call
 * and attempt is a span as before.
 */
import { Effect, type Tracer } from "effect"

/** The tracer Effect runs with when the application provides none. */
const defaultTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/** Whether `tracer` keeps spans, as every tracer but Effect's default does. */
export const listening = (tracer: Tracer.Tracer): boolean => tracer !== defaultTracer

/** Runs `f` inside a span named `name`, the parent of what `f` does: for a caller that knows a tracer listens. */
export const within = <A, E, R>(
  name: string,
  options: Tracer.SpanOptions,
  f: (span: Tracer.Span) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => Effect.useSpan(name, options, (span) => Effect.withParentSpan(f(span), span))

/** Runs `f` inside a span named `name` when a tracer listens and tracing is on; without one otherwise. */
export const whenTraced = <A, E, R>(
  name: string,
  options: Tracer.SpanOptions,
  f: (span: Tracer.Span | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.tracerWith((tracer) => (listening(tracer) ? within(name, options, f) : f(undefined)))

/** Sets attributes on the current span when a tracer listens; builds nothing otherwise. */
export const annotateWhenTraced = (attributes: () => Record<string, unknown>): Effect.Effect<void> =>
  Effect.tracerWith((tracer) => (listening(tracer) ? Effect.annotateCurrentSpan(attributes()) : Effect.void))
