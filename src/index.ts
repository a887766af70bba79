/**
 * errand: durable background jobs for TypeScript on Node.js.
 * @packageDocumentation
 */
import { Errand, type ErrandOptions } from './runtime/errand.js'
import { sqliteStore } from './storage/sqlite/index.js'

export { Errand, type ErrandOptions, type TaskInfo } from './runtime/errand.js'

/** Options of {@link createErrand}: as {@link ErrandOptions}, with `store` optional. */
export type CreateErrandOptions = Omit<ErrandOptions, 'store'> & { store?: ErrandOptions['store'] }

/**
 * Creates an errand instance. Without a `store`, runs live in a SQLite file, `./errand.db`.
 * @example
 * const errand = createErrand({ store: sqliteStore({ path: './errand.db' }) })
 */
export function createErrand(options: CreateErrandOptions = {}): Errand {
  return new Errand({ ...options, store: options.store ?? sqliteStore() })
}
export {
  defineTask,
  type TaskDefinition,
  type TaskHandle,
  type TaskContext,
  type TaskHandler,
  type TaskOptions,
  type TaskConfig,
  type EnqueueManyItem,
  type EnqueueAndWaitOptions,
  type RunResult,
  type RunLogger,
} from './runtime/task.js'
export type { StepApi } from './runtime/steps.js'
export type { RunHandle } from './runtime/run-handle.js'
export type { RunsApi, RunListOptions, RunList, RunFilter, JobKeyCancellation } from './runtime/runs.js'
export type { RunCounts, StatusCounts, RunActivity, RunActivityOptions, ActivityBucket } from './runtime/insights.js'
export type { BulkOptions, BulkResult } from './runtime/bulk.js'
export type { RunChangeListener } from './runtime/run-watch.js'
export type { RunChange } from './storage/driver.js'
export type { SchedulesApi } from './runtime/schedules.js'
export type { Schedule, ScheduleOptions, ScheduleRunOptions, TaskSchedule } from './runtime/schedule-spec.js'
export type { ScheduleTickSummary } from './runtime/schedule-ticker.js'
export type { CatchUp, Overlap } from './core/schedule.js'
export { Worker } from './runtime/worker.js'
export type { WorkerOptions, ForbiddenFlags } from './runtime/worker-options.js'
export type { ErrandEvents, ErrandEventName } from './runtime/events.js'
export type { Clock } from './runtime/clock.js'
export type { EnqueueOptions } from './core/run-options.js'
export type { JobKeyMode } from './core/queue-options.js'
export type { InsertReason } from './storage/driver.js'
export type { RetryOptions, RetryPolicy, Backoff } from './core/retry.js'
export type { Duration } from './core/durations.js'
export { parseDuration } from './core/durations.js'
export type { Run, Attempt, AttemptOutcome, SerializedError, Step, RunLog, LogLevel } from './core/run.js'
export { RUN_STATUSES, type RunStatus } from './core/run-state.js'
export type { StoreDriver } from './storage/driver.js'
export {
  ErrandError,
  ValidationError,
  InvalidOptionError,
  InvalidDurationError,
  UnknownTaskError,
  TaskConflictError,
  RunNotFoundError,
  InvalidTransitionError,
  NotSerializableError,
  WaitTimeoutError,
  NonRetryableError,
  RetryAfterError,
  BatchItemsFailedError,
  type BatchItemFailure,
  AttemptTimeoutError,
  LeaseLostError,
  WorkerShutdownError,
  StoreClosedError,
  RunFailedError,
  RunCancelledError,
  InvalidCronError,
  ScheduleNotFoundError,
  DuplicateStepError,
  HandlerIgnoredAbortError,
  type ErrorCode,
  type ValidationIssue,
} from './core/errors.js'
