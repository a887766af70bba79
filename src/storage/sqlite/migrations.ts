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
  {
    version: 3,
    name: 'schedules',
    sql: `
      ALTER TABLE errand_runs ADD COLUMN schedule_key TEXT;
      ALTER TABLE errand_runs ADD COLUMN scheduled_for INTEGER;
      -- Exactly one run per tick rests on this index, not on timing: a second insert for the
      -- same (schedule, tick) is refused, whichever process makes it.
      CREATE UNIQUE INDEX errand_runs_schedule_tick ON errand_runs (schedule_key, scheduled_for)
        WHERE schedule_key IS NOT NULL AND scheduled_for IS NOT NULL;
      CREATE INDEX errand_runs_schedule ON errand_runs (schedule_key, id) WHERE schedule_key IS NOT NULL;
      -- "Is a run of this schedule unfinished?" (overlap): only unfinished runs of schedules,
      -- so neither a backlog of other runs nor a schedule's long history is walked.
      CREATE INDEX errand_runs_schedule_unfinished ON errand_runs (schedule_key)
        WHERE schedule_key IS NOT NULL AND status IN ('scheduled', 'queued', 'running');
      -- Runs held back by overlap 'queue' (run_at = HELD_RUN_AT, written as a literal so the
      -- queries that repeat it can use this index). Usually empty.
      CREATE INDEX errand_runs_held ON errand_runs (schedule_key, scheduled_for)
        WHERE schedule_key IS NOT NULL AND status = 'scheduled' AND run_at = 253402214400000;

      CREATE TABLE errand_schedules (
        key TEXT PRIMARY KEY,
        task TEXT NOT NULL,
        cron TEXT NOT NULL,
        timezone TEXT NOT NULL,
        payload TEXT NOT NULL,
        options TEXT NOT NULL,
        run_spec TEXT NOT NULL,
        catch_up TEXT NOT NULL,
        overlap TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        next_tick_at INTEGER,
        last_tick_at INTEGER,
        last_tick_outcome TEXT,
        last_run_id TEXT,
        fingerprint TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX errand_schedules_due ON errand_schedules (next_tick_at) WHERE enabled = 1;
    `,
  },
  {
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
  {
    version: 5,
    name: 'run counters, change feed and filter indexes',
    sql: `
      -- Counts per (task, queue, status) for the dashboard, kept by triggers in the same
      -- transaction as the change, so reading them never scans the runs. '' stands for no queue.
      CREATE TABLE errand_run_counts (
        task TEXT NOT NULL,
        queue TEXT NOT NULL,
        status TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (task, queue, status)
      ) STRICT, WITHOUT ROWID;
      INSERT INTO errand_run_counts (task, queue, status, n)
        SELECT task, coalesce(queue, ''), status, count(*) FROM errand_runs GROUP BY 1, 2, 3;
      CREATE TRIGGER errand_run_counts_insert AFTER INSERT ON errand_runs BEGIN
        INSERT INTO errand_run_counts (task, queue, status, n) VALUES (NEW.task, coalesce(NEW.queue, ''), NEW.status, 1)
          ON CONFLICT (task, queue, status) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER errand_run_counts_delete AFTER DELETE ON errand_runs BEGIN
        UPDATE errand_run_counts SET n = n - 1 WHERE task = OLD.task AND queue = coalesce(OLD.queue, '') AND status = OLD.status;
      END;
      CREATE TRIGGER errand_run_counts_update AFTER UPDATE OF task, queue, status ON errand_runs
        WHEN OLD.status IS NOT NEW.status OR OLD.task IS NOT NEW.task OR OLD.queue IS NOT NEW.queue
      BEGIN
        UPDATE errand_run_counts SET n = n - 1 WHERE task = OLD.task AND queue = coalesce(OLD.queue, '') AND status = OLD.status;
        INSERT INTO errand_run_counts (task, queue, status, n) VALUES (NEW.task, coalesce(NEW.queue, ''), NEW.status, 1)
          ON CONFLICT (task, queue, status) DO UPDATE SET n = n + 1;
      END;
      -- The change feed follows (updated_at, id).
      CREATE INDEX errand_runs_updated ON errand_runs (updated_at, id);
      -- The runs list filtered by task or queue and status, newest first, without a sort.
      CREATE INDEX errand_runs_task_status ON errand_runs (task, status, id);
      CREATE INDEX errand_runs_queue_status ON errand_runs (queue, status, id) WHERE queue IS NOT NULL;
    `,
  },
  {
    version: 6,
    name: 'running runs leave the status and change-feed indexes',
    // SQLite rewrites an index entry only when the index's columns (or its predicate's)
    // change. A claim and a finish both change status and updated_at, so each rewrote an
    // entry in these four indexes. Running runs are few and short-lived, and lists and the
    // change feed read them through errand_runs_lease instead: the claim now only deletes
    // entries here and the finish only inserts them (measured: about a tenth more runs per
    // second). The indexes are rebuilt in the migration's transaction.
    sql: `
      DROP INDEX errand_runs_status;
      DROP INDEX errand_runs_updated;
      DROP INDEX errand_runs_task_status;
      DROP INDEX errand_runs_queue_status;
      CREATE INDEX errand_runs_status ON errand_runs (status, id) WHERE status <> 'running';
      CREATE INDEX errand_runs_updated ON errand_runs (updated_at, id) WHERE status <> 'running';
      CREATE INDEX errand_runs_task_status ON errand_runs (task, status, id) WHERE status <> 'running';
      CREATE INDEX errand_runs_queue_status ON errand_runs (queue, status, id) WHERE queue IS NOT NULL AND status <> 'running';
    `,
  },
]
