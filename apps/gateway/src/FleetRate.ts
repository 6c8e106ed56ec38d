/**
 * The upstream budget of a gateway fleet: the client's `RateController` interface (a permit before each
 * attempt, each answer recorded), with permits from one schedule that every replica shares
 * (./FleetRateStore.ts) and the client's adaptive algorithm (`AdaptiveRate`) run on one shared state.
 *
 * - The paced rate per region is min(ceiling, the fleet's adaptive rate): the ceiling is
 *   `GATEWAY_UPSTREAM_RATE` (or `CONVOCORE_MAX_RATE` when lower); the adaptive rate is unthrottled
 *   until an upstream 429, then CUBIC, as in the client.
 * - Each replica queues its callers in order; the first few of the queue take slots in the shared
 *   schedule once they are at most `horizonMs` off, so a rate that moves applies within that time, not
 *   after a queue of slots taken at the old rate. A slot that would come at or past the caller's deadline
 *   is not taken: the call stops as out of time, as with the client's own controller.
 * - An answer is applied to the shared state by compare-and-set, always to the newest version: a 429 to
 *   a request sent before the fleet's last decrease was already acted on (one decrease per congestion
 *   event, whichever replica saw it first, not one per replica).
 * - Times in the shared state are the store's clock: each replica keeps its offset from the store's
 *   answers and converts its own readings.
 *
 * When the store fails (Redis down or slow), the replica paces itself on its own at its share of the
 * ceiling (the ceiling over the replicas last counted by their heartbeats) with the client's own
 * controller, says so once in the log and in `/metrics`, and shares again once a heartbeat (every
 * second) gets an answer.
 */
import {
  AdaptiveRate,
  makeController,
  type RateController,
  type RateStats,
  statsOf,
  type Target,
  totalOf
} from "@convocore-effect/client"
import { Clock, Duration, Effect, Option, Runtime, type Scope } from "effect"
import type { FleetRateStore, SharedRate } from "./FleetRateStore.js"
import type { RedisUnavailable } from "./RedisConnection.js"

/** The interface the client's resilient call uses. */
export type Controller = Omit<RateController, "_tag">

export interface FleetRateOptions {
  /** The store the fleet shares; undefined: this replica is on its own (no `GATEWAY_REDIS_URL`). */
  readonly store: FleetRateStore | undefined
  /** Requests per second per region that the whole fleet may send; undefined: the adaptive rate alone. */
  readonly ceiling: number | undefined
  /** The store's key for a region's schedule. */
  readonly keyOf: (target: Target) => string
  /** This replica's name in the fleet's heartbeats. */
  readonly replica: string
}

export type PermitOutcome = "granted" | "waited" | "refused"

export interface BudgetStatus {
  /** Whether permits come from the shared schedule (false: on its own, by choice or while the store fails). */
  readonly shared: boolean
  /** Replicas counted by their heartbeats when last asked (1 on its own). */
  readonly replicas: number
  readonly permits: Readonly<Record<PermitOutcome, number>>
  /** Decreases of the shared rate on a 429 that this replica applied. */
  readonly backoffs: number
}

/** Each replica says it is alive this often; after the store failed, the next heartbeat that gets an answer ends the spell. */
export const heartbeatEveryMs = 1_000
/** While the first connection to the store is being made, a permit asks again this often. */
const connectPollMs = 20
/**
 * How far ahead a replica takes slots: far enough to keep sending at the rate while its event loop or
 * Redis answers late, near enough that a rate lowered by a 429 applies within this time.
 */
export const horizonMs = 250
/**
 * Callers of one replica asking Redis for a slot at once: one at a time, a replica would take at most one
 * slot per round trip, which a busy event loop stretches to tens of milliseconds.
 */
const headsPerReplica = 4

/** A slot in the shared schedule, refused (it would come past the deadline), or a permit on its own. */
type Taken =
  | { readonly _tag: "Slot"; readonly waitMs: number }
  | { readonly _tag: "Refused" }
  | { readonly _tag: "Own"; readonly outcome: PermitOutcome }

// Clocks read whole milliseconds: a wait of a fraction would wake to the same reading.
const sleepMs = (ms: number) => Effect.sleep(Duration.millis(Math.ceil(ms)))

export const make = (options: FleetRateOptions) =>
  Effect.gen(function* () {
    const { store, ceiling, keyOf } = options
    const fork = Runtime.runFork(yield* Effect.runtime<never>())
    const views = new Map<Target, SharedRate>()
    const queues = new Map<Target, { readonly lock: Effect.Semaphore; waiting: number }>()
    /** The store's clock minus this replica's. */
    let offset = 0
    let replicas = 1
    /** The controller of a replica on its own: always without a store, else while the store fails. */
    let own: Controller | undefined = store === undefined ? makeController(ceiling) : undefined
    const permits: Record<PermitOutcome, number> = { granted: 0, waited: 0, refused: 0 }
    let backoffs = 0

    const view = (target: Target): SharedRate =>
      views.get(target) ?? { state: AdaptiveRate.initial, version: 0 }
    const queueOf = (target: Target) => {
      const queue = queues.get(target) ?? { lock: Effect.unsafeMakeSemaphore(headsPerReplica), waiting: 0 }
      queues.set(target, queue)
      return queue
    }
    const learn = (target: Target, reply: { readonly now: number; readonly shared: SharedRate }) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        offset = reply.now - now
        views.set(target, reply.shared)
      })

    /** Whether the current spell on its own was logged. */
    let announced = false
    let failedAt = Number.NEGATIVE_INFINITY

    const storeFailed = (error: RedisUnavailable) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        // Before the first connection, the fleet's size is unknown: permits wait for it (see `take`).
        if (store?.connecting() === true) return Effect.void
        failedAt = now
        const share = ceiling === undefined ? undefined : ceiling / Math.max(1, replicas)
        if (own === undefined) own = makeController(share)
        if (announced) return Effect.void
        announced = true
        return Effect.logWarning(
          `upstream budget: ${error.message}; this replica paces itself on its own at ${
            share === undefined
              ? "its own adaptive rate"
              : `${+share.toFixed(2)}/s, its share of ${ceiling}/s over ${replicas} replica(s) last counted`
          } until Redis answers again`
        )
      })
    /** The store answered a command sent at `sentAt`; one sent before the last failure proves nothing. */
    const storeAnswered = (sentAt: number) =>
      Effect.suspend(() => {
        if (own === undefined || store === undefined || sentAt <= failedAt) return Effect.void
        own = undefined
        const said = announced
        announced = false
        return said
          ? Effect.logInfo("upstream budget: Redis answers again; permits come from the fleet's schedule")
          : Effect.void
      })

    /**
     * Takes a slot in the shared schedule, not yet waited for. A slot more than `horizonMs` off is not
     * taken yet: the caller comes back when it is that close, so that a rate that moves applies to every
     * slot but the next `horizonMs` of them. Falls back to pacing on its own when the store fails.
     */
    const take = (
      fleet: FleetRateStore,
      target: Target,
      deadlineAt: number,
      force: boolean
    ): Effect.Effect<Taken> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const { state } = view(target)
        const rate = AdaptiveRate.effective(state, ceiling)
        const remaining = deadlineAt - now
        return fleet
          .reserve(keyOf(target), {
            intervalMs: rate === Number.POSITIVE_INFINITY ? 0 : 1000 / rate,
            maxWaitMs: Math.min(remaining, horizonMs),
            force
          })
          .pipe(
            Effect.tap((reply) => Effect.zipRight(learn(target, reply), storeAnswered(now))),
            Effect.flatMap((reply): Effect.Effect<Taken> => {
              if (reply.granted) return Effect.succeed({ _tag: "Slot", waitMs: reply.waitMs })
              if (reply.waitMs >= remaining) return Effect.succeed({ _tag: "Refused" })
              return Effect.zipRight(
                sleepMs(reply.waitMs - horizonMs + 1),
                take(fleet, target, deadlineAt, force)
              )
            }),
            Effect.catchAll((error) =>
              // Before the first connection, the fleet's size is unknown: wait for it rather than guess.
              fleet.connecting() && now + connectPollMs < deadlineAt
                ? Effect.zipRight(sleepMs(connectPollMs), take(fleet, target, deadlineAt, force))
                : Effect.zipRight(
                    storeFailed(error),
                    Effect.map(
                      ownPermit(target, deadlineAt, force),
                      (outcome): Taken => ({ _tag: "Own", outcome })
                    )
                  )
            )
          )
      })

    /** Waits for a slot taken; `behindOthers`: it queued behind other callers of this replica first. */
    const use = (taken: Taken, behindOthers: boolean): Effect.Effect<PermitOutcome> => {
      switch (taken._tag) {
        case "Refused":
          return Effect.succeed("refused")
        case "Own":
          return Effect.succeed(taken.outcome)
        case "Slot":
          return taken.waitMs <= 0
            ? Effect.succeed(behindOthers ? "waited" : "granted")
            : Effect.as(sleepMs(taken.waitMs), "waited")
      }
    }

    const ownPermit = (target: Target, deadlineAt: number, retryOf429: boolean) =>
      Effect.flatMap(Clock.currentTimeMillis, (before) =>
        Effect.flatMap(
          (own ?? makeController(ceiling)).permit(target, deadlineAt, retryOf429),
          (admitted): Effect.Effect<PermitOutcome> =>
            admitted
              ? Effect.map(Clock.currentTimeMillis, (after) => (after > before ? "waited" : "granted"))
              : Effect.succeed("refused")
        )
      )

    const outcome = (target: Target, deadlineAt: number, retryOf429: boolean) =>
      Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<PermitOutcome> => {
        // On its own until a heartbeat finds Redis again: callers never wait on a probe of a slow Redis.
        if (store === undefined || own !== undefined) return ownPermit(target, deadlineAt, retryOf429)
        // Counted in the schedule, never made to wait twice (see the client's controller).
        if (retryOf429) return Effect.flatMap(take(store, target, deadlineAt, true), (t) => use(t, false))
        const queue = queueOf(target)
        const { state } = view(target)
        // Unthrottled and nobody waiting: no queue, one round trip.
        if (
          queue.waiting === 0 &&
          AdaptiveRate.effective(state, ceiling) === Number.POSITIVE_INFINITY &&
          state.pausedUntil <= now + offset
        )
          return Effect.flatMap(take(store, target, deadlineAt, false), (t) => use(t, false))
        if (now >= deadlineAt) return Effect.succeed("refused")
        const behindOthers = queue.waiting > 0
        queue.waiting++
        // In order within this replica: the heads of the queue take the next slots, then leave it to wait for them.
        return queue.lock
          .withPermits(1)(take(store, target, deadlineAt, false))
          .pipe(
            Effect.timeoutTo({
              duration: Duration.millis(deadlineAt - now),
              onTimeout: (): Taken => ({ _tag: "Refused" }),
              onSuccess: (taken) => taken
            }),
            Effect.ensuring(Effect.sync(() => queue.waiting--)),
            Effect.flatMap((taken) => use(taken, behindOthers))
          )
      })

    const permit = (target: Target, deadlineAt: number, retryOf429 = false): Effect.Effect<boolean> =>
      Effect.map(outcome(target, deadlineAt, retryOf429), (result) => {
        permits[result]++
        return result !== "refused"
      })

    /** Answers not yet in the shared state, per region, in the order they came. */
    const pending = new Map<Target, Array<{ readonly answer: AdaptiveRate.Answer; readonly now: number }>>()
    const flushing = new Set<Target>()

    /**
     * Applies the pending answers, in order, to the newest shared state in one compare-and-set; another
     * replica that wrote first means: read its state, apply them again. One write in flight per region and
     * replica, and no answer lost to a conflict, however busy the fleet.
     */
    const flush = (fleet: FleetRateStore, target: Target): Effect.Effect<void> =>
      Effect.suspend(() => {
        const answers = pending.get(target) ?? []
        // Answers that come while the write is in flight wait for the next one.
        const batch = answers.length
        if (batch === 0) {
          flushing.delete(target)
          return Effect.void
        }
        const before = view(target)
        let decreases = 0
        const next = answers.slice(0, batch).reduce((state, { answer, now }) => {
          const after = AdaptiveRate.record(
            state,
            {
              throttled: answer.throttled,
              sentAt: answer.sentAt + offset,
              spentUntil: answer.spentUntil === undefined ? undefined : answer.spentUntil + offset
            },
            now + offset
          )
          if (after.decreasedAt !== state.decreasedAt) decreases++
          return after
        }, before.state)
        return fleet.update(keyOf(target), before.version, next).pipe(
          Effect.tap((reply) => learn(target, reply)),
          Effect.flatMap((reply) => {
            if (reply.applied) {
              answers.splice(0, batch)
              backoffs += decreases
            }
            return flush(fleet, target)
          }),
          Effect.catchAll((error) => {
            // On its own from here: its controller takes the answers the fleet could not.
            flushing.delete(target)
            pending.delete(target)
            return Effect.zipRight(
              storeFailed(error),
              Effect.sync(() => {
                for (const { answer, now } of answers)
                  if (own !== undefined) recordOwn(own, target, answer, now)
              })
            )
          })
        )
      })

    /** Records an answer on the replica's own controller, counting the decrease it makes, if any. */
    const recordOwn = (controller: Controller, target: Target, answer: AdaptiveRate.Answer, now: number) => {
      const decreasedAt = () =>
        Option.match(controller.snapshot(target), { onNone: () => 0, onSome: (state) => state.decreasedAt })
      const before = decreasedAt()
      controller.record(target, answer, now)
      if (decreasedAt() !== before) backoffs++
    }

    const record = (target: Target, answer: AdaptiveRate.Answer, now: number): void => {
      if (store === undefined || own !== undefined) {
        if (own !== undefined) recordOwn(own, target, answer, now)
        return
      }
      const answers = pending.get(target) ?? []
      answers.push({ answer, now })
      pending.set(target, answers)
      if (flushing.has(target)) return
      flushing.add(target)
      fork(flush(store, target))
    }

    const stats = (target: Target): RateStats =>
      own === undefined ? statsOf(view(target).state, ceiling) : own.stats(target)
    const total = (): RateStats =>
      own === undefined
        ? totalOf([...views.values()].map((shared) => statsOf(shared.state, ceiling)))
        : own.total()
    const snapshot = (target: Target): Option.Option<AdaptiveRate.RateState> =>
      own === undefined
        ? Option.map(Option.fromNullable(views.get(target)), (v) => v.state)
        : own.snapshot(target)

    /** Counts this replica in the fleet every second, for the share it takes if the store fails. */
    const heartbeats = (fleet: FleetRateStore): Effect.Effect<never, never, Scope.Scope> =>
      Effect.gen(function* () {
        yield* Effect.addFinalizer(() => Effect.ignore(fleet.leave(options.replica)))
        const beat = Effect.flatMap(Clock.currentTimeMillis, (sentAt) =>
          Effect.flatMap(fleet.heartbeat(options.replica), (count) => {
            replicas = Math.max(1, count)
            return storeAnswered(sentAt)
          })
        )
        return yield* beat.pipe(
          Effect.catchAll(storeFailed),
          Effect.zipRight(Effect.sleep(Duration.millis(heartbeatEveryMs))),
          Effect.forever
        )
      })

    const controller: Controller = { permit, record, stats, total, snapshot }
    const status = (): BudgetStatus => ({
      shared: store !== undefined && own === undefined,
      replicas: store === undefined ? 1 : replicas,
      permits: { ...permits },
      backoffs
    })
    return { controller, status, heartbeats: store === undefined ? Effect.never : heartbeats(store) }
  })
