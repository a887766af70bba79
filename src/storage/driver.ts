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
  idempotencyKey: string | null
  jobKey: string | null
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

/** What happened to one new run: created, or an existing run returned instead. */
export interface RunInsertResult {
  run: RunRecord
  created: boolean
  /** Why an existing run was returned. */
  reason?: 'idempotent'
}

export interface RunListParams extends RunListRangeParams {
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

/** How one attempt ended, decided by the runtime. */
export type AttemptResult = Lease & { workerId: string } & (
    | { outcome: 'completed'; outputJson: string }
    | { outcome: 'retry'; error: SerializedError; delayMs: number }
    | { outcome: 'dead_lettered'; error: SerializedError }
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
export interface StoreDriver extends StoreDriverInsights {
  readonly dialect: string
  /** Applies pending migrations, under a lock so that many processes may race safely. */
  migrate(): Promise<void>
  close(): Promise<void>

  /** Inserts runs in one transaction; an idempotency key already taken returns that run. */
  runInsertMany(params: RunInsertManyParams): Promise<RunInsertResult[]>
  runGet(params: { id: string }): Promise<RunRecord | null>
  /** Newest first. */
  runList(params: RunListParams): Promise<RunListResult>
  /** Takes up to `limit` due runs, priority then time order, and leases them. */
  runClaim(params: RunClaimParams): Promise<RunRecord[]>
  /** Extends leases; returns the ids whose lease is no longer held. */
  runHeartbeat(params: RunHeartbeatParams): Promise<string[]>
  /** Applies attempt results in one transaction; returns, per result, whether it applied. */
  runFinishMany(params: RunFinishManyParams): Promise<boolean[]>
  /** Cancels a run that is not final. Returns null when there is no such run. */
  runCancel(params: RunCancelParams): Promise<RunCancelResult | null>
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

// ---------------------------------------------------------------------------------------
// Listing, counting and watching runs at scale, for the HTTP API and the dashboard
// (schema migration 5). The runs list pages on indexes; counts come from counters the
// store maintains as runs change, never from COUNT(*) over the runs table.
// ---------------------------------------------------------------------------------------

/**
 * A creation-time range for `runList`. Run ids are UUIDv7 made from the creation time, so
 * drivers bound the id as well as `created_at` ({@link runIdFloor}): the range is served by
 * the primary key (or the filter's (…, id) index) instead of a scan.
 */
export interface RunListRangeParams {
  /** Runs created at or after this time. */
  createdFrom?: Date
  /** Runs created before this time. */
  createdBefore?: Date
}

/** How many runs of one task in one queue have one status. `queue` null: no queue. */
export interface RunCountRow {
  task: string
  queue: string | null
  status: RunStatus
  count: number
}

export interface RunActivityParams {
  /** Start of the window; the first bucket starts at `since` rounded down to `bucketMs`. */
  since: Date
  /** Width of a bucket in ms (e.g. 60000). */
  bucketMs: number
}

/** Runs that reached a final status within one time bucket. */
export interface RunActivityBucket {
  /** Start of the bucket. */
  at: Date
  status: Extract<RunStatus, 'completed' | 'cancelled' | 'dead_lettered'>
  count: number
}

/** Where a change feed stands: the last change seen, in (updatedAt, id) order. */
export interface RunChangeCursor {
  updatedAt: Date
  id: string
}

export interface RunListChangedParams {
  /** Changes strictly after this position. */
  after: RunChangeCursor
  limit: number
}

/** A run as the change feed reports it: enough to update a list row, without the payload. */
export interface RunChange {
  id: string
  task: string
  queue: string | null
  status: RunStatus
  attempt: number
  maxAttempts: number
  priority: number
  runAt: Date
  createdAt: Date
  startedAt: Date | null
  completedAt: Date | null
  updatedAt: Date
}

/** Methods every store implements for the HTTP API and the dashboard. */
export interface StoreDriverInsights {
  /**
   * Run counts by (task, queue, status), read from counters that the store keeps up to
   * date in the same transactions that change runs. Rows with a zero count are left out.
   */
  runCountByStatus(): Promise<RunCountRow[]>
  /** Runs that reached a final status since `since`, per bucket and status (zero buckets left out), oldest first. */
  runActivity(params: RunActivityParams): Promise<RunActivityBucket[]>
  /**
   * Runs changed after a position, oldest change first, by (updatedAt, id). Writers in other
   * processes may commit a change stamped slightly earlier than one already read, so a
   * follower re-reads a short window behind its position and drops what it has seen.
   */
  runListChanged(params: RunListChangedParams): Promise<RunChange[]>
}

/** The smallest run id created at `at`: ids are UUIDv7, whose first 48 bits are the creation time in ms. */
export function runIdFloor(at: Date): string {
  const ms = Math.max(0, Math.min(2 ** 48 - 1, Math.floor(at.getTime())))
  const hex = ms.toString(16).padStart(12, '0')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`
}
