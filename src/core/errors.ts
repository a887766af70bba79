/**
 * Typed errors. Every error errand throws on purpose carries a stable `code`, so callers
 * (and the HTTP API) can branch on it without parsing messages.
 */

/** Stable error codes. Never renamed once released. */
export type ErrorCode =
  | 'validation_failed'
  | 'unknown_task'
  | 'invalid_duration'
  | 'invalid_option'
  | 'task_conflict'
  | 'run_not_found'
  | 'run_failed'
  | 'run_cancelled'
  | 'wait_timeout'
  | 'invalid_transition'
  | 'attempt_timeout'
  | 'lease_lost'
  | 'worker_shutdown'
  | 'not_serializable'
  | 'non_retryable'
  | 'retry_after'
  | 'batch_items_failed'
  | 'store_closed'
  | 'store_error'
  | 'invalid_cron'
  | 'schedule_not_found'
  | 'duplicate_step'
  | 'handler_ignored_abort'

/** Base class of every error errand raises deliberately. */
export class ErrandError extends Error {
  readonly code: ErrorCode
  readonly details: unknown

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.details = options?.details
  }
}

/** One problem found while validating input. `path` locates it inside the value. */
export interface ValidationIssue {
  message: string
  path: ReadonlyArray<string | number>
}

/** A payload or option did not validate. Nothing was written. */
export class ValidationError extends ErrandError {
  readonly issues: readonly ValidationIssue[]
  constructor(message: string, issues: readonly ValidationIssue[]) {
    super('validation_failed', `${message}: ${formatIssues(issues)}`, { details: issues })
    this.issues = issues
  }
}

function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ')
}

/** An option had a value errand cannot use (a negative delay, both `delay` and `runAt`...). */
export class InvalidOptionError extends ErrandError {
  constructor(message: string) {
    super('invalid_option', message)
  }
}

/** A duration string or number could not be read. */
export class InvalidDurationError extends ErrandError {
  constructor(input: unknown, reason: string) {
    super('invalid_duration', `Invalid duration ${JSON.stringify(input) ?? String(input)}: ${reason}`)
  }
}

/** The task name is not registered with this errand instance. */
export class UnknownTaskError extends ErrandError {
  constructor(task: string) {
    super('unknown_task', `Unknown task "${task}": register it with errand.register() or errand.task() first`)
  }
}

/** Two different definitions were registered under one task name. */
export class TaskConflictError extends ErrandError {
  constructor(task: string) {
    super('task_conflict', `A different task is already registered as "${task}"`)
  }
}

/** No run has that id. */
export class RunNotFoundError extends ErrandError {
  constructor(id: string) {
    super('run_not_found', `Run ${id} not found`)
  }
}

/** The run is not in a state that allows the requested change. */
export class InvalidTransitionError extends ErrandError {
  constructor(message: string) {
    super('invalid_transition', message)
  }
}

/** A value meant for storage (payload, output, step result) is not plain JSON. */
export class NotSerializableError extends ErrandError {
  constructor(what: string, path: ReadonlyArray<string | number>, reason: string) {
    const where = path.length ? ` at ${path.join('.')}` : ''
    super('not_serializable', `${what} is not JSON-serialisable${where}: ${reason}`)
  }
}

/** Waiting for a run gave up before it finished. */
export class WaitTimeoutError extends ErrandError {
  readonly runId: string
  constructor(runId: string, timeoutMs: number) {
    super('wait_timeout', `Run ${runId} did not finish within ${timeoutMs}ms`)
    this.runId = runId
  }
}

/**
 * Thrown from a handler: the run fails at once, with no further retries.
 * @example throw new NonRetryableError('account deleted')
 */
export class NonRetryableError extends ErrandError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('non_retryable', message, options)
  }
}

/**
 * Thrown from a handler: retry after `delay` (ms or a duration string) instead of the
 * policy's backoff. Still counts as an attempt.
 */
export class RetryAfterError extends ErrandError {
  readonly delay: number | string
  constructor(message: string, delay: number | string, options?: { cause?: unknown }) {
    super('retry_after', message, options)
    this.delay = delay
  }
}

/** One failed item of a batch run: its position in the attempt's payload, and what it threw. */
export interface BatchItemFailure {
  index: number
  error: unknown
}

/**
 * Some items of a batch run failed (the handler returned one result or promise per item,
 * and some rejected). The run is retried with only the failed items as its payload; the
 * results of the others are kept in its output. `failures` says which items failed, and why.
 */
export class BatchItemsFailedError extends ErrandError {
  readonly failures: readonly BatchItemFailure[]
  constructor(total: number, failures: readonly BatchItemFailure[]) {
    const first = failures.slice(0, 3).map(({ index, error }) => `item ${index}: ${error instanceof Error ? error.message : String(error)}`)
    const more = failures.length > 3 ? `; and ${failures.length - 3} more` : ''
    super('batch_items_failed', `${failures.length} of ${total} items failed: ${first.join('; ')}${more}`)
    this.failures = failures
  }
}

/** The attempt ran past its timeout. */
export class AttemptTimeoutError extends ErrandError {
  constructor(timeoutMs: number) {
    super('attempt_timeout', `Attempt timed out after ${timeoutMs}ms`)
  }
}

/** The worker no longer holds the run (its lease expired, or the run was cancelled). */
export class LeaseLostError extends ErrandError {
  constructor(runId: string) {
    super('lease_lost', `Lease on run ${runId} was lost`)
  }
}

/** The worker is stopping and its grace period ran out. */
export class WorkerShutdownError extends ErrandError {
  constructor() {
    super('worker_shutdown', 'Worker is shutting down')
  }
}

/**
 * Reported (as a `worker.error`), never thrown: an attempt's handler was still running a
 * while after its signal aborted. Its attempt is over for errand, so the run may be running
 * again meanwhile (given back at a shutdown, taken by another worker after a lost lease).
 */
export class HandlerIgnoredAbortError extends ErrandError {
  readonly runId: string
  readonly attempt: number

  constructor(run: { id: string; task: string; attempt: number }, afterMs: number, reason: unknown) {
    const why = reason instanceof Error ? reason.message : String(reason)
    super(
      'handler_ignored_abort',
      `The handler of run ${run.id} (task ${run.task}, attempt ${run.attempt}) was still running ${afterMs}ms after its signal aborted (${why}); the run may be running again meanwhile`,
      { details: { runId: run.id, task: run.task, attempt: run.attempt } },
    )
    this.runId = run.id
    this.attempt = run.attempt
  }
}

/** The store was closed. */
export class StoreClosedError extends ErrandError {
  constructor() {
    super('store_closed', 'The store is closed')
  }
}

/** A waited-for run ended `dead_lettered`. `run` is the run as it ended. */
export class RunFailedError<TRun = unknown> extends ErrandError {
  readonly run: TRun
  constructor(runId: string, run: TRun, lastError: string | undefined) {
    super('run_failed', `Run ${runId} failed${lastError ? `: ${lastError}` : ''}`)
    this.run = run
  }
}

/** A waited-for run was cancelled. `run` is the run as it ended. */
export class RunCancelledError<TRun = unknown> extends ErrandError {
  readonly run: TRun
  constructor(runId: string, run: TRun, reason: string | null) {
    super('run_cancelled', `Run ${runId} was cancelled${reason ? `: ${reason}` : ''}`)
    this.run = run
  }
}

/** A cron expression or a time zone could not be read, or the expression never fires. */
export class InvalidCronError extends ErrandError {
  constructor(message: string) {
    super('invalid_cron', message)
  }
}

/** No schedule has that key. */
export class ScheduleNotFoundError extends ErrandError {
  constructor(key: string) {
    super('schedule_not_found', `Schedule "${key}" not found`)
  }
}

/** A step name was used twice in one attempt; step names must be unique within a run. */
export class DuplicateStepError extends ErrandError {
  constructor(name: string) {
    super(
      'duplicate_step',
      `Step "${name}" was used twice in one run: step names must be unique within a run (in a loop, use names like \`sync-\${id}\`)`,
    )
  }
}
