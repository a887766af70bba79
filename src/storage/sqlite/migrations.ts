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
    // Version 4 (versions 2 and 3 belong to other features; the runner applies whatever is
    // missing, in this list's order, so a gap is harmless).
    version: 4,
    name: 'job keys, serial queues, concurrency keys',
    sql: `
      ALTER TABLE errand_runs ADD COLUMN concurrency_limit INTEGER;
      -- 1 on the run a job key points at: its newest run. Earlier runs of the key keep
      -- job_key for the record, with 0 here.
      ALTER TABLE errand_runs ADD COLUMN job_key_current INTEGER NOT NULL DEFAULT 0;
      -- A job key's uniqueness rests on this index: upserts target it, never select-then-insert.
      CREATE UNIQUE INDEX errand_runs_job_key ON errand_runs (task, job_key) WHERE job_key_current = 1;
      -- The run holding a serial queue: started (attempt > 0) and not final. The claim's
      -- "is this queue taken" probe reads only this small index.
      CREATE INDEX errand_runs_queue_held ON errand_runs (queue)
        WHERE queue IS NOT NULL AND attempt > 0 AND status IN ('scheduled', 'queued', 'running');
      -- A queue's waiting runs in claim order, for the claim's "is this run the queue's head" probe.
      CREATE INDEX errand_runs_queue_order ON errand_runs (queue, priority, run_at, id)
        WHERE queue IS NOT NULL AND status IN ('scheduled', 'queued');
      -- Running runs per concurrency key, counted by the claim.
      CREATE INDEX errand_runs_concurrency_running ON errand_runs (concurrency_key)
        WHERE concurrency_key IS NOT NULL AND status = 'running';
    `,
  },
]
