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
import type { Attempt, LogLevel, Run, RunLog, SerializedError, Step } from '../core/run.js'
import type { RunStatus } from '../core/run-state.js'
import type {
  ScheduleReleaseHeldParams,
  SchedulePeekResult,
  ScheduleRecord,
  ScheduleSetEnabledParams,
  ScheduleTickDueParams,
  ScheduleTickResult,
  ScheduleTickWrite,
  ScheduleUpsertParams,
  ScheduleUpsertResult,
} from './schedule-records.js'

export * from './schedule-records.js'

/** A run as stored: the public {@link Run} plus what only the runtime needs. */
export interface RunRecord extends Run {
  retryPolicy: RetryPolicy
}

/** A new run, fully resolved by the runtime. JSON fields arrive already serialised. */
export interface NewRun {
  /**
   * A UUIDv7 whose time is the insert's `now` (or earlier). Drivers rely on it: the
   * creation-time ranges of `runList` and `runPrune` bound the id ({@link runIdFloor}). Ids
   * stay increasing when the clock steps back, so theirs can then be later: such a run is
   * pruned that much later, never earlier.
   */
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
  /** The schedule that made it. A run with both this and `scheduledFor` is unique per (schedule, tick). */
  scheduleKey?: string | null
  scheduledFor?: Date | null
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
export type InsertReason = 'idempotent' | 'replaced' | 'deduped' | 'scheduled_tick'

/** What happened to one new run: created, or an existing run returned (and maybe updated) instead. */
export interface RunInsertResult {
  run: RunRecord
  created: boolean
  /** Why no run was created; absent when one was. */
  reason?: InsertReason
}

export interface RunListParams extends RunListRangeParams {
  task?: string
  status?: RunStatus[]
  queue?: string
  /** Only runs made by this schedule. */
  schedule?: string
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
  /** Only runs in these serial queues (runs without a queue are left too). Default: any run. */
  queues?: string[] | null
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
    /** A durable sleep: back to `scheduled` until `runAt`, without using up the budget. */
    | { outcome: 'sleep'; runAt: Date }
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

export interface ScheduleListParams {
  after?: string
  limit?: number
}

export interface RunPruneParams {
  /** Final runs that finished before this are deleted. */
  finishedBefore: Date
  limit: number
}

export interface StepSaveParams {
  runId: string
  /** Fence: saved only while this attempt holds the run. */
  attempt: number
  name: string
  kind: Step['kind']
  outputJson: string
  wakeAt: Date | null
  now: Date
}

export interface RunProgressSetParams {
  id: string
  /** Fence: set only while this attempt holds the run. */
  attempt: number
  progressJson: string
  now: Date
}

export interface LogAppendParams {
  entries: Array<{ runId: string; attempt: number; at: Date; level: LogLevel; message: string; dataJson: string }>
}

export interface LogListParams {
  runId: string
  limit: number
}

export interface RunWatchFinishedParams {
  id: string
  onFinished: () => void
}

/** The interface every store implements. One conformance suite checks them all. */
export interface StoreDriver extends StoreDriverInsights {
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
  /**
   * Optional upkeep of the store's own structures, run by every worker's maintenance after
   * its other steps (PostgreSQL: folds the run counters' deltas, drops key places that no
   * path gave back, and the rows of idle serial queues and concurrency keys). Resolves to
   * whether runs may have become claimable.
   */
  runUpkeep?(params: { now: Date }): Promise<boolean>
  /** Every attempt of a run, oldest first, the one in progress included. */
  attemptList(params: { runId: string }): Promise<Attempt[]>

  /**
   * Optional wake-up hints from other processes (PostgreSQL LISTEN/NOTIFY, SQLite's
   * `data_version` watch): `listener` is
   * called, coalesced, when runs may have become available. Only a hint: workers keep
   * polling, which stays the truth. Returns a function that unsubscribes.
   */
  subscribeRunsAvailable?(listener: () => void): () => void
  /**
   * Optional: notification, from any process, that a run reached a final status
   * (PostgreSQL LISTEN/NOTIFY, SQLite's `data_version` watch). Resolves once the watch is armed: from then on a finish
   * calls `onFinished`, and so does a lost notification connection coming back (what was
   * sent meanwhile is lost), so a read of the run made after it resolves misses no finish.
   * May also call it for nothing. Resolves with the function that stops watching, or null
   * when the store does not notify (turned off): the caller polls instead.
   */
  watchRunFinished?(params: RunWatchFinishedParams): Promise<(() => void) | null>

  // Schedules. A tick's run is unique per (schedule key, tick time) by a unique index; the
  // tick pass locks due schedules and advances them in the transaction that inserts the runs.

  /** Creates or updates a schedule by key, keeping its next tick unless cron, time zone or enablement changed. */
  scheduleUpsert(params: ScheduleUpsertParams): Promise<ScheduleUpsertResult>
  scheduleGet(params: { key: string }): Promise<ScheduleRecord | null>
  /** Schedules by key: those after `after` (a key), at most `limit` of them (default every one). */
  scheduleList(params: ScheduleListParams): Promise<ScheduleRecord[]>
  /** Pauses (no next tick) or resumes (from `nextTickAt`) a schedule. Null when there is no such schedule. */
  scheduleSetEnabled(params: ScheduleSetEnabledParams): Promise<ScheduleRecord | null>
  /** Deletes a schedule (its runs stay). False when there was none. */
  scheduleDelete(params: { key: string }): Promise<boolean>
  /** What the scheduler needs to know to sleep: the earliest next tick, and whether runs are held. One cheap query. */
  schedulePeek(params: Record<string, never>): Promise<SchedulePeekResult>
  /**
   * Takes up to `limit` enabled schedules whose next tick is due (skipping ones another
   * process holds), asks `plan` what to write, and in the same transaction inserts the
   * runs and advances each schedule, guarded on the next tick it read.
   */
  scheduleTickDue<W extends ScheduleTickWrite>(params: ScheduleTickDueParams<W>): Promise<Array<ScheduleTickResult<W>>>
  /**
   * Releases held runs: for each schedule with no unfinished run other than held ones, its
   * oldest held run becomes `queued`, due now. Returns the released runs.
   */
  scheduleReleaseHeld(params: ScheduleReleaseHeldParams): Promise<Array<{ id: string; scheduleKey: string }>>
  /** A run's completed steps, in the order they completed. */
  stepList(params: { runId: string }): Promise<Step[]>
  /**
   * Stores a completed step, fenced on the attempt. False when the attempt no longer holds
   * the run, or a step of that name is already stored (the first result stands).
   */
  stepSave(params: StepSaveParams): Promise<boolean>
  /** Sets a running run's progress, fenced on the attempt. False when the lease is lost. */
  runProgressSet(params: RunProgressSetParams): Promise<boolean>
  /** Appends handler log messages. */
  logAppend(params: LogAppendParams): Promise<void>
  /** A run's log messages, oldest first, at most `limit` (the newest ones). */
  logList(params: LogListParams): Promise<RunLog[]>
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
