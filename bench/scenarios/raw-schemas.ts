/**
 * The two tables the raw SQLite limit is measured on, each with its insert, claim and
 * complete statements.
 *
 * `lean` is the smallest job table that can still be claimed and completed safely: a due
 * index, a lease, and completions fenced on (id, status, attempt). It is the store's limit.
 *
 * `errand` is errand's own schema (its migrations, so every index is there) driven by SQL
 * that mirrors src/storage/sqlite/statements.ts: the same claim, the same fenced completion
 * plus the attempt row. The gap between `lean` and `errand` is the schema's cost; the gap
 * between `errand` and the library is the runtime's own (JavaScript) cost. If the driver's
 * SQL changes, update this mirror.
 */
import type Database from 'better-sqlite3'
import { SQLITE_MIGRATIONS } from '../../src/storage/sqlite/migrations.js'
import type { RawSchema } from '../jobs.js'

export interface RawStatements {
  /** Binds { n, now }. */
  insert: Database.Statement
  /** Binds { worker, now, lease, limit }; returns rows with at least id, attempt and payload. */
  claim: Database.Statement
  /** Completes one claimed row, fenced on (id, status, attempt). */
  complete(row: ClaimedRow, now: number): void
}

export interface ClaimedRow {
  id: number | string
  attempt: number
  payload: string
}

const LEAN_SCHEMA = `
  CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    run_at INTEGER NOT NULL,
    locked_by TEXT,
    lease_expires_at INTEGER,
    completed_at INTEGER
  ) STRICT;
  CREATE INDEX jobs_due ON jobs (run_at, id) WHERE status = 'queued';`

function leanStatements(db: Database.Database): RawStatements {
  db.exec(LEAN_SCHEMA)
  // Named parameters throughout: better-sqlite3 12 rejects positional values for `?NNN` parameters.
  const complete = db.prepare(`
    UPDATE jobs SET status = 'completed', completed_at = @now, locked_by = NULL, lease_expires_at = NULL
    WHERE id = @id AND status = 'running' AND attempt = @attempt`)
  return {
    insert: db.prepare(`INSERT INTO jobs (task, status, payload, run_at) VALUES ('noop', 'queued', json_object('i', @n), @now)`),
    claim: db.prepare(`
      UPDATE jobs SET status = 'running', attempt = attempt + 1, locked_by = @worker, lease_expires_at = @lease
      WHERE id IN (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= @now ORDER BY run_at, id LIMIT @limit)
      RETURNING id, attempt, payload`),
    complete: (row, now) => void complete.run({ now, id: row.id, attempt: row.attempt }),
  }
}

function errandStatements(db: Database.Database): RawStatements {
  for (const migration of SQLITE_MIGRATIONS) db.exec(migration.sql)
  const finish = db.prepare(`
    UPDATE errand_runs SET status = 'completed', output = 'null', error = NULL, completed_at = @now,
      locked_by = NULL, lease_expires_at = NULL, updated_at = @now
    WHERE id = @id AND status = 'running' AND attempt = @attempt RETURNING locked_at`)
  const attempt = db.prepare(`
    INSERT OR REPLACE INTO errand_attempts (run_id, attempt, worker_id, started_at, finished_at, outcome, error)
    VALUES (?, ?, 'raw', ?, ?, 'completed', NULL)`)
  return {
    // Ids sort by insertion time, as errand's UUIDv7 ids do, so the primary key grows at its end.
    insert: db.prepare(`
      INSERT INTO errand_runs (id, task, status, payload, max_attempts, priority, flags, metadata, retry_policy,
        timeout_ms, run_at, created_at, updated_at)
      VALUES (printf('%012d', @n), 'noop', 'queued', json_object('i', @n), 3, 0, '[]', '{}',
        '{"backoff":"exponential","initialDelayMs":1000,"maxDelayMs":3600000,"jitter":true}', 900000, @now, @now, @now)
      ON CONFLICT DO NOTHING RETURNING *`),
    claim: db.prepare(`
      UPDATE errand_runs
      SET status = 'running', attempt = attempt + 1, locked_by = @worker, locked_at = @now, lease_expires_at = @lease,
          started_at = coalesce(started_at, @now), updated_at = @now
      WHERE id IN (
        SELECT id FROM errand_runs INDEXED BY errand_runs_due
        WHERE status IN ('scheduled', 'queued') AND run_at <= @now AND task IN (SELECT value FROM json_each('["noop"]'))
        ORDER BY priority, run_at, id LIMIT @limit)
      RETURNING *`),
    complete: (row, now) => {
      const done = finish.get({ now, id: row.id, attempt: row.attempt }) as { locked_at: number } | undefined
      if (done) attempt.run(row.id, row.attempt, done.locked_at, now)
    },
  }
}

export function prepareRawSchema(db: Database.Database, schema: RawSchema): RawStatements {
  return schema === 'lean' ? leanStatements(db) : errandStatements(db)
}
