/**
 * The internal seam between the runtime and a database. Each store (SQLite, PostgreSQL)
 * implements this interface in its own dialect; the runtime never sees SQL or a concrete
 * driver. Methods are named entityVerb and take one params object, so fields can be added
 * without breaking callers. Every method that depends on time takes `now` from the
 * runtime's clock, which lets tests move time.
 *
 * Fencing: every write about an attempt (heartbeat, finish) matches
 * `id AND status = 'running' AND attempt = :attempt`. Zero rows means the lease was lost
 * (rescued, cancelled): the driver reports it and changes nothing.
 */
import type { JobKeyMode } from '../core/queue-options.js'
import type { RetryPolicy } from '../core/retry.js'
import type { Attempt, Run, SerializedError } from '../core/run.js'
import type { RunStatus } from '../core/run-state.js'

/** A run as stored: the public {@link Run} plus what only the runtime needs. */
export interface RunRecord extends Run {
  retryPolicy: RetryPolicy
}

/** A new run, fully resolved by the runtime. JSON fields arrive already serialised. */
export interface NewRun {
  id: string
  task: string
  status: Extract<RunStatus, 'scheduled' | 'queued'>
  payloadJson: string
  maxAttempts: number
  priority: number
  queue: string | null
  concurrencyKey: string | null
  /** Set exactly when `concurrencyKey` is. */
  concurrencyLimit: number | null
  idempotencyKey: string | null
  jobKey: string | null
  /** Set exactly when `jobKey` is. */
  jobKeyMode: JobKeyMode | null
  flags: string[]
  metadataJson: string
  retryPolicy: RetryPolicy
  timeoutMs: number | null
  runAt: Date
  replayOf: string | null
  replayReason: string | null
}

export interface RunInsertManyParams {
  runs: NewRun[]
  now: Date
  /** A transaction handle of the caller's own, where the driver supports it. */
  tx?: unknown
}

/**
 * Why an enqueue did not create a run: `'idempotent'` (the idempotency key's run was
 * returned), `'replaced'` (the job key's run that had not started took the new work),
 * `'deduped'` (`unsafe_dedupe`: the job key's latest run was returned unchanged).
 */
export type InsertReason = 'idempotent' | 'replaced' | 'deduped'

/** What happened to one new run: created, or an existing run returned (and maybe updated) instead. */
export interface RunInsertResult {
  run: RunRecord
  created: boolean
  /** Why no run was created; absent when one was. */
  reason?: InsertReason
}

export interface RunListParams {
  task?: string
  status?: RunStatus[]
  queue?: string
  limit: number
  /** Opaque, from a previous page's `nextCursor`. */
  cursor?: string
}

export interface RunListResult {
  runs: RunRecord[]
  nextCursor: string | null
}

export interface RunClaimParams {
  workerId: string
  /** Only runs of these tasks. */
  tasks: string[]
  limit: number
  leaseMs: number
  now: Date
  /** Runs carrying any of these flags are left for other workers. Default none. */
  forbiddenFlags?: string[]
}

/** An attempt held by a worker. */
export interface Lease {
  id: string
  attempt: number
}

export interface RunHeartbeatParams {
  leases: Lease[]
  leaseMs: number
  now: Date
}

/**
 * A batch run whose items partly failed: the run keeps only the failed items as its
 * payload, and its output holds the results of every item that succeeded so far. Both
 * absent: payload and output stay as they are.
 */
export interface BatchRemainder {
  payloadJson?: string
  outputJson?: string
}

/** How one attempt ended, decided by the runtime. */
export type AttemptResult = Lease & { workerId: string } & (
    | { outcome: 'completed'; outputJson: string }
    | ({ outcome: 'retry'; error: SerializedError; delayMs: number } & BatchRemainder)
    | ({ outcome: 'dead_lettered'; error: SerializedError } & BatchRemainder)
    /** Shut down before finishing: back to `queued`, and the attempt does not use up the budget. */
    | { outcome: 'released'; error: SerializedError }
  )

export interface RunFinishManyParams {
  results: AttemptResult[]
  now: Date
}

export interface RunCancelParams {
  id: string
  reason: string | null
  now: Date
}

export interface RunCancelResult {
  run: RunRecord
  /** False when the run was already final. */
  cancelled: boolean
}

/** Which job key's waiting run to cancel: keys are scoped to a task. */
export interface RunCancelByJobKeyParams {
  task: string
  jobKey: string
  reason: string | null
  now: Date
}

export interface RunPromoteDueParams {
  now: Date
  limit: number
}

export interface RunRescueExpiredParams {
  now: Date
  limit: number
}

/** A run taken back from a worker whose lease ran out. */
export interface RescuedRun {
  id: string
  attempt: number
  status: RunStatus
}

export interface RunPruneParams {
  /** Final runs that finished before this are deleted. */
  finishedBefore: Date
  limit: number
}

/** The interface every store implements. One conformance suite checks them all. */
export interface StoreDriver {
  readonly dialect: string
  /** Applies pending migrations, under a lock so that many processes may race safely. */
  migrate(): Promise<void>
  close(): Promise<void>

  /**
   * Inserts runs in one transaction, in order. An idempotency key already taken returns
   * that run. A job key goes by its mode: its run that has not started is updated
   * (`replace`, `preserve_run_at`; array payloads are appended) or returned
   * (`unsafe_dedupe`, whatever its status); a started one leaves the key to a new run.
   * Both rest on unique indexes and atomic upserts, so concurrent inserts agree.
   */
  runInsertMany(params: RunInsertManyParams): Promise<RunInsertResult[]>
  runGet(params: { id: string }): Promise<RunRecord | null>
  /** Newest first. */
  runList(params: RunListParams): Promise<RunListResult>
  /**
   * Takes up to `limit` due runs, priority then time order, and leases them. A serial
   * queue gives at most one run at a time, and none while its started run waits for a
   * retry; a concurrency key gives at most its limit of running runs. Both hold across
   * every concurrent claimer.
   */
  runClaim(params: RunClaimParams): Promise<RunRecord[]>
  /** Extends leases; returns the ids whose lease is no longer held. */
  runHeartbeat(params: RunHeartbeatParams): Promise<string[]>
  /** Applies attempt results in one transaction; returns, per result, whether it applied. */
  runFinishMany(params: RunFinishManyParams): Promise<boolean[]>
  /** Cancels a run that is not final. Returns null when there is no such run. */
  runCancel(params: RunCancelParams): Promise<RunCancelResult | null>
  /**
   * Cancels the job key's run if it has not started, and frees the key (the next enqueue
   * creates a run, in any mode). A started or finished run is left alone and returned with
   * `cancelled: false`. Null when the key has no run.
   */
  runCancelByJobKey(params: RunCancelByJobKeyParams): Promise<RunCancelResult | null>
  /** Moves due `scheduled` runs to `queued`; returns how many moved. */
  runPromoteDue(params: RunPromoteDueParams): Promise<number>
  /** Takes back runs whose lease expired: `queued` again, or `dead_lettered` if no attempts remain. */
  runRescueExpired(params: RunRescueExpiredParams): Promise<RescuedRun[]>
  /** Deletes final runs (and their attempts) that finished before a time; returns how many. */
  runPrune(params: RunPruneParams): Promise<number>
  /** Every attempt of a run, oldest first, the one in progress included. */
  attemptList(params: { runId: string }): Promise<Attempt[]>

  /**
   * Optional wake-up hints from other processes (PostgreSQL LISTEN/NOTIFY): `listener` is
   * called, coalesced, when runs may have become available. Only a hint: workers keep
   * polling, which stays the truth. Returns a function that unsubscribes.
   */
  subscribeRunsAvailable?(listener: () => void): () => void
}
