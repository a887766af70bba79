/**
 * The records and params of the schedule methods of the driver seam ({@link StoreDriver}),
 * kept apart from the runs' so each file stays readable.
 */
import type { RetryPolicy } from '../core/retry.js'
import type { CatchUp, Overlap } from '../core/schedule.js'
import type { TickOutcome } from '../core/schedule-plan.js'
import type { NewRun, RunInsertResult, StoreDriver } from './driver.js'

/**
 * `run_at` of a run held back by its schedule (overlap `'queue'`): far enough ahead that no
 * claim or promotion takes it, until {@link StoreDriver.scheduleReleaseHeld} sets it to now.
 * The SQL of each store writes this instant as a literal, so that a partial index can serve it.
 */
export const HELD_RUN_AT = new Date('9999-12-31T00:00:00.000Z')

/** The settings every run of a schedule gets, resolved when the schedule is written. */
export interface ScheduleRunSpec {
  priority: number
  maxAttempts: number
  retryPolicy: RetryPolicy
  timeoutMs: number | null
  metadata: Record<string, unknown>
  /** The grouping settings below are absent from specs stored before they existed: none. */
  queue?: string | null
  concurrencyKey?: string | null
  concurrencyLimit?: number | null
  flags?: string[]
}

/** A schedule as stored. */
export interface ScheduleRecord {
  key: string
  task: string
  cron: string
  timezone: string
  payload: unknown
  /** The run options as given (JSON), for display; ticks use `runSpec`. */
  options: Record<string, unknown>
  runSpec: ScheduleRunSpec
  catchUp: CatchUp
  overlap: Overlap
  enabled: boolean
  /** Null while paused. */
  nextTickAt: Date | null
  lastTickAt: Date | null
  lastTickOutcome: TickOutcome | null
  /** The run of the newest tick that had one. */
  lastRunId: string | null
  /** Tells a changed declaration from an unchanged one. */
  fingerprint: string
  createdAt: Date
  updatedAt: Date
}

/** A schedule to write. JSON fields arrive serialised. */
export interface NewSchedule {
  key: string
  task: string
  cron: string
  timezone: string
  payloadJson: string
  optionsJson: string
  runSpec: ScheduleRunSpec
  catchUp: CatchUp
  overlap: Overlap
  /** `null` keeps the stored value (`true` for a new schedule). */
  enabled: boolean | null
  /** The first tick of `cron` after `now`: used when the schedule is new, resumed, or its cron or time zone changed. */
  nextTickAt: Date | null
  fingerprint: string
}

/** Params of {@link StoreDriver.scheduleUpsert}. */
export interface ScheduleUpsertParams {
  schedule: NewSchedule
  now: Date
  /** Write only if the fingerprint differs from the stored one (declarations synced at start-up). */
  onlyIfChanged: boolean
}

/** What an upsert did: `unchanged` when `onlyIfChanged` found the same fingerprint. */
export interface ScheduleUpsertResult {
  schedule: ScheduleRecord
  outcome: 'created' | 'updated' | 'unchanged'
}

/** Params of {@link StoreDriver.scheduleSetEnabled}. */
export interface ScheduleSetEnabledParams {
  key: string
  enabled: boolean
  /** Where a resumed schedule starts: the first tick after now. Ignored when pausing or already enabled. */
  nextTickAt: Date | null
  now: Date
}

/** A due schedule, locked for the tick pass, with what its overlap policy needs. */
export interface DueSchedule extends ScheduleRecord {
  /** Whether a run of this schedule is scheduled, queued or running. */
  hasUnfinishedRun: boolean
}

/** What one tick pass writes for one schedule, decided by the runtime. */
export interface ScheduleTickWrite {
  /** Runs to insert, each with `scheduleKey` and `scheduledFor`; the (schedule, tick) index refuses repeats. */
  runs: NewRun[]
  nextTickAt: Date | null
  /** The newest tick dealt with; null keeps the stored one. */
  lastTick: { at: Date; outcome: TickOutcome } | null
}

/** Params of {@link StoreDriver.scheduleTickDue}; `W` is the runtime's own write type, handed back in the results. */
export interface ScheduleTickDueParams<W extends ScheduleTickWrite> {
  now: Date
  limit: number
  /**
   * Decides what to write for one due schedule; null leaves it alone. Called inside the
   * transaction that holds the schedule, so it must be synchronous, and pure (a busy store
   * may run the transaction again).
   */
  plan(schedule: DueSchedule): W | null
}

/** One schedule ticked by a pass: as it was read, what was written, and the runs. */
export interface ScheduleTickResult<W extends ScheduleTickWrite> {
  schedule: DueSchedule
  write: W
  /** One per run of `write.runs`, in order. */
  runs: RunInsertResult[]
}

/** Result of {@link StoreDriver.schedulePeek}. */
export interface SchedulePeekResult {
  /** The earliest next tick of an enabled schedule, or null. */
  nextTickAt: Date | null
  /** Whether any run is held back by its schedule. */
  heldRuns: boolean
}

/** Params of {@link StoreDriver.scheduleReleaseHeld}: at most `limit` runs, one per schedule. */
export interface ScheduleReleaseHeldParams {
  now: Date
  limit: number
}
