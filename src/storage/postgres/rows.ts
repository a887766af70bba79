import type { Attempt, AttemptOutcome, SerializedError } from '../../core/run.js'
import type { RunStatus } from '../../core/run-state.js'
import type { RetryPolicy } from '../../core/retry.js'
import type { RunRecord } from '../driver.js'
import { fromJsonbText } from './json-column.js'

/**
 * Every runs query selects columns in portable forms: JSON as text and times as epoch
 * milliseconds. Rows then read the same whether node-postgres ran the query (which would
 * otherwise parse jsonb and timestamptz itself) or a caller's transaction handle from some
 * other library did, and wrapped values (see json-column.ts) are unwrapped in one place.
 */
/**
 * A timestamptz column as whole epoch milliseconds (float8, read as a JS number). date_part,
 * not extract: extract returns numeric, and a claim's eight times per run cost about 2.9 µs
 * of the server's time that way, against 0.9 here. The float8 seconds are within 0.03 ms of
 * a millisecond time up to the year 9999, so rounding gives it back exactly (every time
 * errand writes is a JS Date, whole milliseconds; a finer one is rounded to the nearest).
 */
export const ms = (column: string) => `round(date_part('epoch', ${column}) * 1000)`

/** The select list of a runs row under table alias `a`, in the shape {@link runFromRow} reads. */
export function runColumns(a: string): string {
  return [
    `${a}.id`,
    `${a}.task`,
    `${a}.status`,
    `${a}.payload::text AS payload`,
    `${a}.output::text AS output`,
    `${a}.error::text AS error`,
    `${a}.attempt`,
    `${a}.max_attempts`,
    `${a}.priority`,
    `${a}.queue`,
    `${a}.concurrency_key`,
    `${a}.concurrency_limit`,
    `${a}.idempotency_key`,
    `${a}.job_key`,
    `${a}.flags::text AS flags`,
    `${a}.metadata::text AS metadata`,
    `${a}.progress::text AS progress`,
    `${a}.retry_policy::text AS retry_policy`,
    `${a}.timeout_ms::float8 AS timeout_ms`,
    `${ms(`${a}.run_at`)} AS run_at`,
    `${ms(`${a}.created_at`)} AS created_at`,
    `${ms(`${a}.started_at`)} AS started_at`,
    `${ms(`${a}.locked_at`)} AS locked_at`,
    `${ms(`${a}.completed_at`)} AS completed_at`,
    `${ms(`${a}.updated_at`)} AS updated_at`,
    `${a}.locked_by`,
    `${ms(`${a}.lease_expires_at`)} AS lease_expires_at`,
    `${a}.replay_of`,
    `${a}.replay_reason`,
    `${a}.cancel_reason`,
    `${a}.schedule_key`,
    `${ms(`${a}.scheduled_for`)} AS scheduled_for`,
  ].join(', ')
}

/** The select list of an attempts row under alias `a`. */
export function attemptColumns(a: string): string {
  return `${a}.run_id, ${a}.attempt, ${a}.worker_id, ${ms(`${a}.started_at`)} AS started_at, ${ms(`${a}.finished_at`)} AS finished_at, ${a}.outcome, ${a}.error::text AS error`
}

type Num = number | string
type NumOrNull = Num | null

/** A runs row as selected by {@link runColumns}. Numbers may arrive as strings from other clients. */
export interface RunRow {
  id: string
  task: string
  status: string
  payload: string
  output: string | null
  error: string | null
  attempt: Num
  max_attempts: Num
  priority: Num
  queue: string | null
  concurrency_key: string | null
  concurrency_limit: NumOrNull
  idempotency_key: string | null
  job_key: string | null
  flags: string
  metadata: string
  progress: string | null
  retry_policy: string
  timeout_ms: NumOrNull
  run_at: Num
  created_at: Num
  started_at: NumOrNull
  locked_at: NumOrNull
  completed_at: NumOrNull
  updated_at: Num
  locked_by: string | null
  lease_expires_at: NumOrNull
  replay_of: string | null
  replay_reason: string | null
  cancel_reason: string | null
  schedule_key: string | null
  scheduled_for: NumOrNull
}

export interface AttemptRow {
  run_id: string
  attempt: Num
  worker_id: string | null
  started_at: Num
  finished_at: NumOrNull
  outcome: string
  error: string | null
}

const toDate = (value: NumOrNull): Date | null => (value === null ? null : new Date(Number(value)))
const toNumber = (value: NumOrNull): number | null => (value === null ? null : Number(value))

export function runFromRow(row: RunRow): RunRecord {
  return {
    id: row.id,
    task: row.task,
    status: row.status as RunStatus,
    payload: fromJsonbText(row.payload),
    output: fromJsonbText(row.output),
    error: fromJsonbText(row.error) as SerializedError | null,
    attempt: Number(row.attempt),
    maxAttempts: Number(row.max_attempts),
    priority: Number(row.priority),
    queue: row.queue,
    concurrencyKey: row.concurrency_key,
    concurrencyLimit: toNumber(row.concurrency_limit),
    idempotencyKey: row.idempotency_key,
    jobKey: row.job_key,
    flags: fromJsonbText(row.flags) as string[],
    metadata: fromJsonbText(row.metadata) as Record<string, unknown>,
    progress: fromJsonbText(row.progress),
    runAt: new Date(Number(row.run_at)),
    createdAt: new Date(Number(row.created_at)),
    startedAt: toDate(row.started_at),
    completedAt: toDate(row.completed_at),
    updatedAt: new Date(Number(row.updated_at)),
    replayOf: row.replay_of,
    replayReason: row.replay_reason,
    cancelReason: row.cancel_reason,
    timeoutMs: toNumber(row.timeout_ms),
    // Kept on a completed run for its last attempt's record (see listAttempts).
    lockedBy: row.status === 'running' ? row.locked_by : null,
    leaseExpiresAt: toDate(row.lease_expires_at),
    scheduleKey: row.schedule_key,
    scheduledFor: toDate(row.scheduled_for),
    retryPolicy: fromJsonbText(row.retry_policy) as RetryPolicy,
  }
}

/** An attempt row; the attempt in progress (read off the run) has no `finished_at`. */
export function attemptFromRow(row: AttemptRow): Attempt {
  return {
    runId: row.run_id,
    attempt: Number(row.attempt),
    workerId: row.worker_id,
    startedAt: new Date(Number(row.started_at)),
    finishedAt: toDate(row.finished_at),
    outcome: row.outcome as AttemptOutcome,
    error: fromJsonbText(row.error) as SerializedError | null,
  }
}
