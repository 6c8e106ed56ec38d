import { Effect, Tracer } from "effect"

/** The current tracer, with every span it starts also pushed onto `spans` for the test to inspect. */
export const recordingTracer = (spans: Array<Tracer.Span>) =>
  Effect.map(Effect.tracer, (native) =>
    Tracer.make({
      span: (...args) => {
        const span = native.span(...args)
        spans.push(span)
        return span
      },
      context: (f, fiber) => native.context(f, fiber)
    })
  )
