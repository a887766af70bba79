import type Database from 'better-sqlite3'
import { SQLITE_CLAIM } from './claim.js'

const FINAL = `('completed', 'cancelled', 'dead_lettered')`
/** What every fenced write matches: this attempt of this run, still running. */
const FENCE = `id = @id AND status = 'running' AND attempt = @attempt`
const RELEASE_LEASE = `locked_by = NULL, lease_expires_at = NULL, updated_at = @now`
/** A batch run whose items partly failed keeps the failed items as payload and the results so far as output. */
const BATCH_REMAINDER = `payload = coalesce(@payload, payload), output = coalesce(@output, output)`

/** The columns a new run is inserted with, and their named parameters; `jobKeyCurrent` is 0 or 1. */
export const INSERT_COLUMNS = `(id, task, status, payload, max_attempts, priority, queue, concurrency_key, concurrency_limit,
  idempotency_key, job_key, job_key_current, flags, metadata, retry_policy, timeout_ms, run_at, created_at, updated_at,
  replay_of, replay_reason, schedule_key, scheduled_for)`
export const insertValues = (jobKeyCurrent: '0' | '1') => `(@id, @task, @status, @payload, @maxAttempts, @priority, @queue,
  @concurrencyKey, @concurrencyLimit, @idempotencyKey, @jobKey, ${jobKeyCurrent}, @flags, @metadata, @retryPolicy, @timeoutMs,
  @runAt, @now, @now, @replayOf, @replayReason, @scheduleKey, @scheduledFor)`

/** Every statement of the SQLite driver, prepared once. */
export class SqliteStatements {
  readonly insertRun: Database.Statement
  readonly getRun: Database.Statement
  readonly getByIdempotencyKey: Database.Statement
  readonly getByScheduledTick: Database.Statement
  readonly claim: Database.Statement
  readonly heartbeat: Database.Statement
  readonly finishCompleted: Database.Statement
  readonly finishRetry: Database.Statement
  readonly finishDeadLettered: Database.Statement
  readonly finishReleased: Database.Statement
  readonly finishSleep: Database.Statement
  readonly insertAttempt: Database.Statement
  readonly cancel: Database.Statement
  readonly promoteDue: Database.Statement
  readonly findExpired: Database.Statement
  readonly rescue: Database.Statement
  readonly findPrunable: Database.Statement
  readonly pruneAttempts: Database.Statement
  readonly pruneRuns: Database.Statement
  readonly listAttempts: Database.Statement
  readonly dataVersion: Database.Statement
  readonly anyDue: Database.Statement
  readonly finishedAmong: Database.Statement

  constructor(db: Database.Database) {
    this.insertRun = db.prepare(`
      INSERT INTO errand_runs ${INSERT_COLUMNS}
      VALUES ${insertValues('0')}
      ON CONFLICT DO NOTHING`)
    this.getRun = db.prepare(`SELECT * FROM errand_runs WHERE id = ?`)
    this.getByIdempotencyKey = db.prepare(`SELECT * FROM errand_runs WHERE task = ? AND idempotency_key = ?`)
    this.getByScheduledTick = db.prepare(`SELECT * FROM errand_runs WHERE schedule_key = ? AND scheduled_for = ?`)
    this.claim = db.prepare(SQLITE_CLAIM)
    this.dataVersion = db.prepare('PRAGMA data_version').pluck()
    this.anyDue = db.prepare(`
      SELECT 1 FROM errand_runs INDEXED BY errand_runs_due WHERE status IN ('scheduled', 'queued') AND run_at <= ? LIMIT 1`).pluck()
    this.finishedAmong = db.prepare(`
      SELECT j.value FROM json_each(?) AS j
      WHERE NOT EXISTS (SELECT 1 FROM errand_runs r WHERE r.id = j.value AND r.status NOT IN ('completed', 'cancelled', 'dead_lettered'))`).pluck()
    this.heartbeat = db.prepare(`
      UPDATE errand_runs SET lease_expires_at = ?, updated_at = ?
      WHERE id = ? AND status = 'running' AND attempt = ?`)
    // A completed run keeps locked_by: its last attempt is read off the run (attemptOnRun).
    this.finishCompleted = db.prepare(`
      UPDATE errand_runs SET status = 'completed', output = @output, error = NULL, completed_at = @now,
        lease_expires_at = NULL, updated_at = @now
      WHERE ${FENCE} RETURNING locked_at`)
    this.finishRetry = db.prepare(`
      UPDATE errand_runs SET status = 'scheduled', error = @error, run_at = @runAt, ${BATCH_REMAINDER}, ${RELEASE_LEASE}
      WHERE ${FENCE} RETURNING locked_at`)
    this.finishDeadLettered = db.prepare(`
      UPDATE errand_runs SET status = 'dead_lettered', error = @error, completed_at = @now, ${BATCH_REMAINDER}, ${RELEASE_LEASE}
      WHERE ${FENCE} RETURNING locked_at`)
    // A released attempt gives its attempt back by raising the budget: `attempt` itself
    // must only grow, because it is the fencing token.
    this.finishReleased = db.prepare(`
      UPDATE errand_runs SET status = 'queued', error = @error, max_attempts = max_attempts + 1, ${RELEASE_LEASE}
      WHERE ${FENCE} RETURNING locked_at`)
    // A durable sleep is not a failure: like a release, it gives the attempt back.
    this.finishSleep = db.prepare(`
      UPDATE errand_runs SET status = 'scheduled', run_at = @runAt, max_attempts = max_attempts + 1, ${RELEASE_LEASE}
      WHERE ${FENCE} RETURNING locked_at`)
    this.insertAttempt = db.prepare(`
      INSERT OR REPLACE INTO errand_attempts (run_id, attempt, worker_id, started_at, finished_at, outcome, error)
      VALUES (?, ?, ?, ?, ?, ?, ?)`)
    this.cancel = db.prepare(`
      UPDATE errand_runs SET status = 'cancelled', cancel_reason = @reason, completed_at = @now, updated_at = @now,
        locked_by = NULL, lease_expires_at = NULL
      WHERE id = @id AND status NOT IN ${FINAL}
      RETURNING *`)
    this.promoteDue = db.prepare(`
      UPDATE errand_runs SET status = 'queued', updated_at = @now
      WHERE id IN (SELECT id FROM errand_runs WHERE status = 'scheduled' AND run_at <= @now ORDER BY run_at LIMIT @limit)`)
    this.findExpired = db.prepare(`
      SELECT * FROM errand_runs WHERE status = 'running' AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT ?`)
    this.rescue = db.prepare(`
      UPDATE errand_runs
      SET status = CASE WHEN attempt >= max_attempts THEN 'dead_lettered' ELSE 'queued' END,
          completed_at = CASE WHEN attempt >= max_attempts THEN @now ELSE NULL END,
          error = @error, ${RELEASE_LEASE}
      WHERE ${FENCE} AND lease_expires_at < @now
      RETURNING status`)
    this.findPrunable = db.prepare(`
      SELECT id FROM errand_runs WHERE completed_at < ? AND status IN ${FINAL} ORDER BY completed_at LIMIT ?`)
    this.pruneAttempts = db.prepare(`DELETE FROM errand_attempts WHERE run_id IN (SELECT value FROM json_each(?))`)
    this.pruneRuns = db.prepare(`DELETE FROM errand_runs WHERE id IN (SELECT value FROM json_each(?))`)
    this.listAttempts = db.prepare(`SELECT * FROM errand_attempts WHERE run_id = ? ORDER BY attempt`)
  }
}
