/**
 * Fibers waiting for a signal by id, woken from outside any fiber (a Redis pub/sub message): a replica's
 * waiters on another replica's upstream call, and a purge awaiting its own message.
 */
import { Deferred, Effect, Exit, FiberId } from "effect"

export class WakeUps {
  private readonly waiting = new Map<string, Set<() => void>>()

  /** Wakes every fiber waiting on `id`. */
  wake(id: string): void {
    const woken = this.waiting.get(id)
    if (woken === undefined) return
    this.waiting.delete(id)
    for (const resume of woken) resume()
  }

  wakeAll(): void {
    for (const id of [...this.waiting.keys()]) this.wake(id)
  }

  /**
   * Runs `effect` with a signal for `id`, registered before `effect` starts so that no wake-up between
   * the two is lost; the registration ends with `effect`.
   */
  waitingOn<A>(id: string, effect: (woken: Effect.Effect<void>) => Effect.Effect<A>): Effect.Effect<A> {
    return Effect.suspend(() => {
      const signal = Deferred.unsafeMake<void>(FiberId.none)
      const resume = () => Deferred.unsafeDone(signal, Exit.void)
      const set = this.waiting.get(id) ?? new Set()
      set.add(resume)
      this.waiting.set(id, set)
      return Effect.ensuring(
        effect(Deferred.await(signal)),
        Effect.sync(() => {
          set.delete(resume)
          if (set.size === 0 && this.waiting.get(id) === set) this.waiting.delete(id)
        })
      )
    })
  }
}
