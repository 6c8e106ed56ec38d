/**
 * `Stream.mapEffect(self, f, { concurrency: n, unordered: true })` done by `n` fixed worker fibers that
 * share the input: each takes the next element, runs `f`, puts the result in a bounded queue and takes
 * again; the stream reads the queue a chunk of whatever is ready at a time. Effect's own unordered
 * `mapEffect` makes every element a stream of its own, merged with a fiber, a channel and a race per
 * element, which cost more than the call itself for an export of many ids (bench/export-cpu.bench.ts;
 * `Stream.mergeAll` over fixed workers was in between). Same contract: at most `n` elements in flight,
 * results as they finish, an input failure fails the stream, and ending the stream early interrupts the
 * workers (they live in the stream's scope).
 */
import { Chunk, Effect, Option, Queue, Stream } from "effect"

/** What the last worker (or one whose input failed) puts in the queue after the results. */
class Ended<E> {
  constructor(readonly error: Option.Option<E>) {}
}

export const mapEffectUnordered = <A, E, R, B, R2>(
  self: Stream.Stream<A, E, R>,
  f: (a: A) => Effect.Effect<B, never, R2>,
  concurrency: number
): Stream.Stream<B, E, R | R2> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const workers = Math.max(1, Math.floor(concurrency))
      const pull = yield* Stream.toPull(self)
      const pulling = yield* Effect.makeSemaphore(1)
      const results = yield* Queue.bounded<B | Ended<E>>(workers)

      let buffered: ReadonlyArray<A> = []
      let index = 0
      const refill: Effect.Effect<A, Option.Option<E>, R> = Effect.suspend(() =>
        index < buffered.length
          ? Effect.succeed(buffered[index++] as A)
          : Effect.flatMap(pull, (chunk) => {
              buffered = Chunk.toReadonlyArray(chunk)
              index = 0
              return refill
            })
      )
      const locked = pulling.withPermits(1)(refill)
      // Taking from the chunk in hand is synchronous, so only a refill needs the lock.
      const next = Effect.suspend(() =>
        index < buffered.length ? Effect.succeed(buffered[index++] as A) : locked
      )

      let running = workers
      const worker: Effect.Effect<void, never, R | R2> = Effect.matchEffect(next, {
        onSuccess: (a) => Effect.flatMap(f(a), (b) => Effect.zipRight(Queue.offer(results, b), worker)),
        onFailure: (error) =>
          Option.isSome(error)
            ? Queue.offer(results, new Ended(error))
            : --running === 0
              ? Queue.offer(results, new Ended(Option.none()))
              : Effect.void
      })
      for (let i = 0; i < workers; i++) yield* Effect.forkScoped(worker)

      let ended: Ended<E> | undefined
      const take: Effect.Effect<Chunk.Chunk<B>, Option.Option<E>> = Effect.suspend(() =>
        ended !== undefined
          ? Effect.fail(ended.error)
          : Effect.map(Queue.takeBetween(results, 1, Number.POSITIVE_INFINITY), (taken) => {
              const values: Array<B> = []
              for (const item of taken) {
                if (item instanceof Ended) {
                  ended = item
                  break
                }
                values.push(item)
              }
              return Chunk.unsafeFromArray(values)
            })
      )
      return Stream.repeatEffectChunkOption(take)
    })
  )
