import type Database from 'better-sqlite3'
import type { NewRun, RunCancelByJobKeyParams, RunCancelResult, RunInsertResult } from '../driver.js'
import { insertedRunRecord } from '../inserted-run.js'
import { runFromRow, type RunRow } from './rows.js'
import { INSERT_COLUMNS, insertValues, type SqliteStatements } from './statements.js'

const NOT_STARTED = `status IN ('scheduled', 'queued') AND attempt = 0`
const CURRENT = `task = @task AND job_key = @jobKey AND job_key_current = 1`

/**
 * Appends two JSON arrays as stored (compact `JSON.stringify` text, so the first and last
 * characters are the brackets); anything else is replaced by the new value. Batch jobs rely
 * on it: work added under a job key joins the items already waiting.
 */
const MERGED_PAYLOAD = `CASE
    WHEN substr(payload, 1, 1) = '[' AND substr(excluded.payload, 1, 1) = '[' THEN
      CASE WHEN payload = '[]' THEN excluded.payload WHEN excluded.payload = '[]' THEN payload
           ELSE substr(payload, 1, length(payload) - 1) || ',' || substr(excluded.payload, 2) END
    ELSE excluded.payload END`

/**
 * Inserting runs, one at a time inside the driver's write transaction: plain runs and
 * idempotency keys, and job keys with their three modes. Every job-key write targets the
 * unique index on (task, job_key) where `job_key_current = 1`.
 */
export class SqliteRunInserter {
  private readonly upsertKeyed: Database.Statement
  private readonly insertKeyedOrNothing: Database.Statement
  private readonly getCurrent: Database.Statement
  private readonly retireCurrent: Database.Statement
  private readonly cancelCurrent: Database.Statement

  constructor(
    db: Database.Database,
    private readonly sql: SqliteStatements,
  ) {
    // The update applies only to a run that has not started; a started (or final) one is
    // left as it is and nothing is returned, which sends the caller to retire-then-insert.
    this.upsertKeyed = db.prepare(`
      INSERT INTO errand_runs ${INSERT_COLUMNS} VALUES ${insertValues('1')}
      ON CONFLICT (task, job_key) WHERE job_key_current = 1 DO UPDATE SET
        payload = ${MERGED_PAYLOAD},
        status = CASE WHEN @preserveRunAt THEN status ELSE excluded.status END,
        run_at = CASE WHEN @preserveRunAt THEN run_at ELSE excluded.run_at END,
        max_attempts = excluded.max_attempts, priority = excluded.priority, queue = excluded.queue,
        concurrency_key = excluded.concurrency_key, concurrency_limit = excluded.concurrency_limit,
        flags = excluded.flags, metadata = excluded.metadata, retry_policy = excluded.retry_policy,
        timeout_ms = excluded.timeout_ms, updated_at = excluded.updated_at
      WHERE ${NOT_STARTED}
      RETURNING *`)
    this.insertKeyedOrNothing = db.prepare(`
      INSERT INTO errand_runs ${INSERT_COLUMNS} VALUES ${insertValues('1')}
      ON CONFLICT (task, job_key) WHERE job_key_current = 1 DO NOTHING
      RETURNING *`)
    this.getCurrent = db.prepare(`SELECT * FROM errand_runs WHERE ${CURRENT}`)
    this.retireCurrent = db.prepare(`UPDATE errand_runs SET job_key_current = 0 WHERE ${CURRENT} AND NOT (${NOT_STARTED})`)
    this.cancelCurrent = db.prepare(`
      UPDATE errand_runs SET status = 'cancelled', cancel_reason = @reason, completed_at = @now, updated_at = @now,
        job_key_current = 0
      WHERE ${CURRENT} AND ${NOT_STARTED}
      RETURNING *`)
  }

  /** Inserts one run; the caller holds the write transaction. */
  insert(run: NewRun, now: number): RunInsertResult {
    if (run.jobKey !== null) return this.insertKeyed(run, now)
    // No RETURNING: a conflict (an idempotency key, a schedule's tick) changes nothing.
    if (this.sql.insertRun.run(insertParams(run, now)).changes > 0) return { run: insertedRunRecord(run, new Date(now)), created: true }
    const existing = this.sql.getByIdempotencyKey.get(run.task, run.idempotencyKey) as RunRow | undefined
    if (existing) return { run: runFromRow(existing), created: false, reason: 'idempotent' }
    const tick = run.scheduleKey && run.scheduledFor ? (this.sql.getByScheduledTick.get(run.scheduleKey, run.scheduledFor.getTime()) as RunRow | undefined) : undefined
    if (tick) return { run: runFromRow(tick), created: false, reason: 'scheduled_tick' }
    throw new Error(`Run ${run.id} conflicts with an existing run but no idempotency key or schedule tick matches`)
  }

  private insertKeyed(run: NewRun, now: number): RunInsertResult {
    if (run.idempotencyKey !== null) throw new Error('A run takes an idempotency key or a job key, not both')
    const params = insertParams(run, now)
    if (run.jobKeyMode === 'unsafe_dedupe') {
      const inserted = this.insertKeyedOrNothing.get(params) as RunRow | undefined
      if (inserted) return { run: runFromRow(inserted), created: true }
      return { run: runFromRow(this.getCurrent.get(params) as RunRow), created: false, reason: 'deduped' }
    }
    const upsert = { ...params, preserveRunAt: run.jobKeyMode === 'preserve_run_at' ? 1 : 0 }
    let row = this.upsertKeyed.get(upsert) as RunRow | undefined
    if (!row) {
      // The key's run has started: it keeps going (and keeps its retries); the key moves to a new run.
      this.retireCurrent.run(params)
      row = this.upsertKeyed.get(upsert) as RunRow
    }
    return row.id === run.id ? { run: runFromRow(row), created: true } : { run: runFromRow(row), created: false, reason: 'replaced' }
  }

  /** Cancels the key's run if it has not started, freeing the key. */
  cancelByJobKey(params: RunCancelByJobKeyParams): RunCancelResult | null {
    const key = { task: params.task, jobKey: params.jobKey, reason: params.reason, now: params.now.getTime() }
    const cancelled = this.cancelCurrent.get(key) as RunRow | undefined
    if (cancelled) return { run: runFromRow(cancelled), cancelled: true }
    const current = this.getCurrent.get(key) as RunRow | undefined
    return current ? { run: runFromRow(current), cancelled: false } : null
  }
}

function insertParams(run: NewRun, now: number): Record<string, unknown> {
  return {
    id: run.id,
    task: run.task,
    status: run.status,
    payload: run.payloadJson,
    maxAttempts: run.maxAttempts,
    priority: run.priority,
    queue: run.queue,
    concurrencyKey: run.concurrencyKey,
    concurrencyLimit: run.concurrencyLimit,
    idempotencyKey: run.idempotencyKey,
    jobKey: run.jobKey,
    flags: JSON.stringify(run.flags),
    metadata: run.metadataJson,
    retryPolicy: JSON.stringify(run.retryPolicy),
    timeoutMs: run.timeoutMs,
    runAt: run.runAt.getTime(),
    now,
    replayOf: run.replayOf,
    replayReason: run.replayReason,
    scheduleKey: run.scheduleKey ?? null,
    scheduledFor: run.scheduledFor?.getTime() ?? null,
  }
}
