/**
 * Versioned schema migrations for SQLite. Append only: a released migration never changes.
 * They run inside `BEGIN IMMEDIATE`, which takes the database's write lock, so when several
 * processes start at once one applies them and the others see them applied.
 */
export interface SqliteMigration {
  version: number
  name: string
  sql: string
}

export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'runs and attempts',
    sql: `
      CREATE TABLE errand_runs (
        id TEXT PRIMARY KEY,
        task TEXT NOT NULL,
        status TEXT NOT NULL,
        payload TEXT NOT NULL,
        output TEXT,
        error TEXT,
        attempt INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        queue TEXT,
        concurrency_key TEXT,
        idempotency_key TEXT,
        job_key TEXT,
        flags TEXT NOT NULL DEFAULT '[]',
        metadata TEXT NOT NULL DEFAULT '{}',
        progress TEXT,
        retry_policy TEXT NOT NULL,
        timeout_ms INTEGER,
        run_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        locked_at INTEGER,
        completed_at INTEGER,
        updated_at INTEGER NOT NULL,
        locked_by TEXT,
        lease_expires_at INTEGER,
        replay_of TEXT,
        replay_reason TEXT,
        cancel_reason TEXT
      ) STRICT;
      -- The claim walks this index in order; finished runs are not in it, so it stays small.
      CREATE INDEX errand_runs_due ON errand_runs (priority, run_at, id) WHERE status IN ('scheduled', 'queued');
      CREATE INDEX errand_runs_lease ON errand_runs (lease_expires_at) WHERE status = 'running';
      CREATE INDEX errand_runs_task ON errand_runs (task, id);
      CREATE INDEX errand_runs_status ON errand_runs (status, id);
      CREATE INDEX errand_runs_queue ON errand_runs (queue, id) WHERE queue IS NOT NULL;
      CREATE INDEX errand_runs_finished ON errand_runs (completed_at) WHERE completed_at IS NOT NULL;
      -- Idempotency rests on this index, never on select-then-insert.
      CREATE UNIQUE INDEX errand_runs_idempotency ON errand_runs (task, idempotency_key) WHERE idempotency_key IS NOT NULL;

      CREATE TABLE errand_attempts (
        run_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        worker_id TEXT,
        started_at INTEGER NOT NULL,
        finished_at INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        error TEXT,
        PRIMARY KEY (run_id, attempt)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'steps, logs',
    sql: `
      CREATE TABLE errand_steps (
        run_id TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        output TEXT,
        wake_at INTEGER,
        completed_at INTEGER NOT NULL,
        PRIMARY KEY (run_id, name)
      ) STRICT;

      CREATE TABLE errand_logs (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at INTEGER NOT NULL,
        level TEXT NOT NULL,
        message TEXT NOT NULL,
        data TEXT
      ) STRICT;
      CREATE INDEX errand_logs_run ON errand_logs (run_id, id);
    `,
  },
]
