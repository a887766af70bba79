import { fromStoredJson } from '../../core/json.js'
import type { Attempt, AttemptOutcome, LogLevel, RunLog, SerializedError, Step } from '../../core/run.js'
import type { RunStatus } from '../../core/run-state.js'
import type { RetryPolicy } from '../../core/retry.js'
import type { RunRecord } from '../driver.js'

/** A row of `errand_runs` as better-sqlite3 returns it. */
export interface RunRow {
  id: string
  task: string
  status: string
  payload: string
  output: string | null
  error: string | null
  attempt: number
  max_attempts: number
  priority: number
  queue: string | null
  concurrency_key: string | null
  concurrency_limit: number | null
  idempotency_key: string | null
  job_key: string | null
  job_key_current: number
  flags: string
  metadata: string
  progress: string | null
  retry_policy: string
  timeout_ms: number | null
  run_at: number
  created_at: number
  started_at: number | null
  locked_at: number | null
  completed_at: number | null
  updated_at: number
  locked_by: string | null
  lease_expires_at: number | null
  replay_of: string | null
  replay_reason: string | null
  cancel_reason: string | null
  schedule_key: string | null
  scheduled_for: number | null
}

export interface AttemptRow {
  run_id: string
  attempt: number
  worker_id: string | null
  started_at: number
  finished_at: number
  outcome: string
  error: string | null
}

const toDate = (ms: number | null): Date | null => (ms === null ? null : new Date(ms))

export function runFromRow(row: RunRow): RunRecord {
  return {
    id: row.id,
    task: row.task,
    status: row.status as RunStatus,
    payload: fromStoredJson(row.payload),
    output: fromStoredJson(row.output),
    error: fromStoredJson(row.error) as SerializedError | null,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    priority: row.priority,
    queue: row.queue,
    concurrencyKey: row.concurrency_key,
    concurrencyLimit: row.concurrency_limit,
    idempotencyKey: row.idempotency_key,
    jobKey: row.job_key,
    flags: fromStoredJson(row.flags) as string[],
    metadata: fromStoredJson(row.metadata) as Record<string, unknown>,
    progress: fromStoredJson(row.progress),
    runAt: new Date(row.run_at),
    createdAt: new Date(row.created_at),
    startedAt: toDate(row.started_at),
    completedAt: toDate(row.completed_at),
    updatedAt: new Date(row.updated_at),
    replayOf: row.replay_of,
    replayReason: row.replay_reason,
    cancelReason: row.cancel_reason,
    timeoutMs: row.timeout_ms,
    // Kept on a completed run for its last attempt's record (see attemptOnRun).
    lockedBy: row.status === 'running' ? row.locked_by : null,
    leaseExpiresAt: toDate(row.lease_expires_at),
    scheduleKey: row.schedule_key,
    scheduledFor: toDate(row.scheduled_for),
    retryPolicy: JSON.parse(row.retry_policy) as RetryPolicy,
  }
}

export function attemptFromRow(row: AttemptRow): Attempt {
  return {
    runId: row.run_id,
    attempt: row.attempt,
    workerId: row.worker_id,
    startedAt: new Date(row.started_at),
    finishedAt: new Date(row.finished_at),
    outcome: row.outcome as AttemptOutcome,
    error: fromStoredJson(row.error) as SerializedError | null,
  }
}

/**
 * The attempt read off the run itself: the one in progress (stored when it ends), or a
 * completed run's last, which is never stored (one insert fewer per run). Runs completed
 * before that was so have it stored, and `locked_by` cleared: `stored` says which attempts are.
 */
export function attemptOnRun(row: RunRow, stored: readonly Attempt[]): Attempt | null {
  if (row.locked_at === null) return null
  if (row.status === 'running') return attemptOf(row, null, 'running')
  if (row.status !== 'completed' || stored.some((attempt) => attempt.attempt === row.attempt)) return null
  return attemptOf(row, row.completed_at, 'completed')
}

function attemptOf(row: RunRow, finishedAt: number | null, outcome: 'running' | 'completed'): Attempt {
  return {
    runId: row.id,
    attempt: row.attempt,
    workerId: row.locked_by,
    startedAt: new Date(row.locked_at as number),
    finishedAt: finishedAt === null ? null : new Date(finishedAt),
    outcome,
    error: null,
  }
}

export interface StepRow {
  run_id: string
  name: string
  kind: string
  attempt: number
  output: string | null
  wake_at: number | null
  completed_at: number
}

export function stepFromRow(row: StepRow): Step {
  return {
    runId: row.run_id,
    name: row.name,
    kind: row.kind as Step['kind'],
    attempt: row.attempt,
    output: fromStoredJson(row.output),
    wakeAt: toDate(row.wake_at),
    completedAt: new Date(row.completed_at),
  }
}

export interface LogRow {
  run_id: string
  attempt: number
  at: number
  level: string
  message: string
  data: string | null
}

export function logFromRow(row: LogRow): RunLog {
  return {
    runId: row.run_id,
    attempt: row.attempt,
    at: new Date(row.at),
    level: row.level as LogLevel,
    message: row.message,
    data: fromStoredJson(row.data),
  }
}
