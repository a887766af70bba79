import { installClaimV9 } from './claim.js'
import { installDropIdleGroupsV10 } from './groups.js'

/**
 * Versioned schema migrations for PostgreSQL. Append only: a released migration never
 * changes; a change to the schema is a new entry with the next version. Each one gets the
 * quoted schema name, because every object lives in the store's own schema.
 *
 * Same logical schema as the SQLite store's migration 1, in PostgreSQL's types: timestamptz
 * for times, jsonb for JSON values, ids as text in the C collation (they are UUIDv7 strings
 * made by the runtime; byte order is creation order, which the runs list pages by).
 */
export interface PostgresMigration {
  version: number
  name: string
  sql: (schema: string) => string
}

export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'runs and attempts',
    sql: (s) => `
      CREATE TABLE ${s}.runs (
        id text COLLATE "C" PRIMARY KEY,
        task text NOT NULL,
        status text NOT NULL CHECK (status IN ('scheduled', 'queued', 'running', 'completed', 'cancelled', 'dead_lettered')),
        payload jsonb NOT NULL,
        output jsonb,
        error jsonb,
        attempt integer NOT NULL DEFAULT 0,
        max_attempts integer NOT NULL,
        priority integer NOT NULL DEFAULT 0,
        queue text,
        concurrency_key text,
        idempotency_key text,
        job_key text,
        flags jsonb NOT NULL DEFAULT '[]',
        metadata jsonb NOT NULL DEFAULT '{}',
        progress jsonb,
        retry_policy jsonb NOT NULL,
        timeout_ms bigint,
        run_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL,
        started_at timestamptz,
        locked_at timestamptz,
        completed_at timestamptz,
        updated_at timestamptz NOT NULL,
        locked_by text,
        lease_expires_at timestamptz,
        replay_of text COLLATE "C",
        replay_reason text,
        cancel_reason text
      );
      -- The claim walks this index in order; finished runs are not in it, so it stays small.
      CREATE INDEX runs_due ON ${s}.runs (priority, run_at, id) WHERE status IN ('scheduled', 'queued');
      CREATE INDEX runs_lease ON ${s}.runs (lease_expires_at) WHERE status = 'running';
      CREATE INDEX runs_task ON ${s}.runs (task, id);
      CREATE INDEX runs_status ON ${s}.runs (status, id);
      CREATE INDEX runs_queue ON ${s}.runs (queue, id) WHERE queue IS NOT NULL;
      CREATE INDEX runs_finished ON ${s}.runs (completed_at) WHERE completed_at IS NOT NULL;
      -- Idempotency rests on this index, never on select-then-insert.
      CREATE UNIQUE INDEX runs_idempotency ON ${s}.runs (task, idempotency_key) WHERE idempotency_key IS NOT NULL;

      CREATE TABLE ${s}.attempts (
        run_id text COLLATE "C" NOT NULL,
        attempt integer NOT NULL,
        worker_id text,
        started_at timestamptz NOT NULL,
        finished_at timestamptz NOT NULL,
        outcome text NOT NULL,
        error jsonb,
        PRIMARY KEY (run_id, attempt)
      );
    `,
  },
  {
    version: 2,
    name: 'steps, logs',
    sql: (s) => `
      CREATE TABLE ${s}.steps (
        run_id text COLLATE "C" NOT NULL,
        name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('run', 'sleep')),
        attempt integer NOT NULL,
        output jsonb,
        wake_at timestamptz,
        completed_at timestamptz NOT NULL,
        -- Completion order: several steps may complete within one millisecond.
        seq bigint GENERATED ALWAYS AS IDENTITY,
        PRIMARY KEY (run_id, name)
      );

      CREATE TABLE ${s}.logs (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id text COLLATE "C" NOT NULL,
        attempt integer NOT NULL,
        at timestamptz NOT NULL,
        level text NOT NULL,
        message text NOT NULL,
        data jsonb
      );
      CREATE INDEX logs_run ON ${s}.logs (run_id, id);
    `,
  },
  {
    version: 3,
    name: 'schedules',
    // Nullable columns without defaults: adding them rewrites nothing, however big runs is.
    // The indexes are built inside the migration's transaction (CONCURRENTLY cannot be), so
    // writes to runs wait while they build; only rows with a schedule key enter the first two.
    sql: (s) => `
      ALTER TABLE ${s}.runs ADD COLUMN schedule_key text, ADD COLUMN scheduled_for timestamptz;
      -- Exactly one run per tick rests on this index, not on timing: a second insert for the
      -- same (schedule, tick) is refused, whichever process makes it.
      CREATE UNIQUE INDEX runs_schedule_tick ON ${s}.runs (schedule_key, scheduled_for)
        WHERE schedule_key IS NOT NULL AND scheduled_for IS NOT NULL;
      CREATE INDEX runs_schedule ON ${s}.runs (schedule_key, id) WHERE schedule_key IS NOT NULL;
      -- "Is a run of this schedule unfinished?" (overlap): only unfinished runs of schedules,
      -- so neither a backlog of other runs nor a schedule's long history is walked.
      CREATE INDEX runs_schedule_unfinished ON ${s}.runs (schedule_key)
        WHERE schedule_key IS NOT NULL AND status IN ('scheduled', 'queued', 'running');
      -- Runs held back by overlap 'queue' (run_at = HELD_RUN_AT, written as a literal so the
      -- queries that repeat it can use this index). Usually empty.
      CREATE INDEX runs_held ON ${s}.runs (schedule_key, scheduled_for)
        WHERE schedule_key IS NOT NULL AND status = 'scheduled' AND run_at = '9999-12-31 00:00:00+00'::timestamptz;

      CREATE TABLE ${s}.schedules (
        key text PRIMARY KEY,
        task text NOT NULL,
        cron text NOT NULL,
        timezone text NOT NULL,
        payload jsonb NOT NULL,
        options jsonb NOT NULL,
        run_spec jsonb NOT NULL,
        catch_up jsonb NOT NULL,
        overlap text NOT NULL CHECK (overlap IN ('allow', 'skip', 'queue')),
        enabled boolean NOT NULL,
        next_tick_at timestamptz,
        last_tick_at timestamptz,
        last_tick_outcome text,
        last_run_id text COLLATE "C",
        fingerprint text NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE INDEX schedules_due ON ${s}.schedules (next_tick_at) WHERE enabled;
    `,
  },
  {
    version: 4,
    name: 'job keys, serial queues, concurrency keys',
    sql: (s) => `
      ALTER TABLE ${s}.runs ADD COLUMN concurrency_limit integer,
        -- True on the run a job key points at: its newest run. Earlier runs of the key keep
        -- job_key for the record, with false here.
        ADD COLUMN job_key_current boolean NOT NULL DEFAULT false;
      -- A job key's uniqueness rests on this index: upserts target it, never select-then-insert.
      CREATE UNIQUE INDEX runs_job_key ON ${s}.runs (task, job_key) WHERE job_key_current;
      -- A queue's waiting runs in claim order, for the claim's "is this run the queue's head" probe.
      CREATE INDEX runs_queue_order ON ${s}.runs (queue, priority, run_at, id) WHERE queue IS NOT NULL AND status IN ('scheduled', 'queued');

      -- One row per serial queue, made at enqueue. The claim locks it (FOR UPDATE SKIP LOCKED)
      -- and records the run that holds the queue; the holder is let go once it is final.
      CREATE TABLE ${s}.queues (
        name text PRIMARY KEY,
        holder text COLLATE "C",
        held_since timestamptz
      );
      -- One row per concurrency key, made at enqueue: the runs admitted and the attempt each
      -- was admitted for. An entry whose run has since left that attempt no longer counts.
      CREATE TABLE ${s}.concurrency_keys (
        key text PRIMARY KEY,
        holder_ids text[] COLLATE "C" NOT NULL DEFAULT '{}',
        holder_attempts int4[] NOT NULL DEFAULT '{}'
      );
      ${concurrencyLive(s)}
    `,
  },
  {
    version: 5,
    name: 'run counters, change feed and filter indexes',
    sql: (s) => `
      -- Counts per (task, queue, status) for the dashboard. Triggers append signed deltas,
      -- one row per (task, queue, status) a statement changed, rather than updating one
      -- counter row: concurrent claims and completions would otherwise queue on that row's
      -- lock until they commit. Readers fold the deltas into run_counts now and then.
      -- '' stands for no queue.
      CREATE TABLE ${s}.run_counts (
        task text NOT NULL,
        queue text NOT NULL,
        status text NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (task, queue, status)
      );
      CREATE TABLE ${s}.run_count_deltas (
        id bigserial PRIMARY KEY,
        task text NOT NULL,
        queue text NOT NULL,
        status text NOT NULL,
        n bigint NOT NULL
      );
      INSERT INTO ${s}.run_counts (task, queue, status, n)
        SELECT task, coalesce(queue, ''), status, count(*) FROM ${s}.runs GROUP BY 1, 2, 3;
      -- Statement-level with transition tables: a batched claim or completion of 100 runs
      -- costs one aggregate and a few inserts, not 100 trigger calls.
      CREATE FUNCTION ${s}.run_counts_track() RETURNS trigger LANGUAGE plpgsql AS $errand$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO ${s}.run_count_deltas (task, queue, status, n)
            SELECT task, coalesce(queue, ''), status, count(*) FROM new_rows GROUP BY 1, 2, 3;
        ELSIF TG_OP = 'DELETE' THEN
          INSERT INTO ${s}.run_count_deltas (task, queue, status, n)
            SELECT task, coalesce(queue, ''), status, -count(*) FROM old_rows GROUP BY 1, 2, 3;
        ELSE
          INSERT INTO ${s}.run_count_deltas (task, queue, status, n)
            SELECT task, queue, status, sum(n) FROM (
              SELECT task, coalesce(queue, '') AS queue, status, 1 AS n FROM new_rows
              UNION ALL
              SELECT task, coalesce(queue, ''), status, -1 FROM old_rows
            ) AS changed
            GROUP BY 1, 2, 3 HAVING sum(n) <> 0;
        END IF;
        RETURN NULL;
      END
      $errand$;
      CREATE TRIGGER run_counts_insert AFTER INSERT ON ${s}.runs
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${s}.run_counts_track();
      CREATE TRIGGER run_counts_update AFTER UPDATE ON ${s}.runs
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${s}.run_counts_track();
      CREATE TRIGGER run_counts_delete AFTER DELETE ON ${s}.runs
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${s}.run_counts_track();
      -- The change feed follows (updated_at, id).
      CREATE INDEX runs_updated ON ${s}.runs (updated_at, id);
      -- The runs list filtered by task or queue and status, newest first, without a sort.
      CREATE INDEX runs_task_status ON ${s}.runs (task, status, id);
      CREATE INDEX runs_queue_status ON ${s}.runs (queue, status, id) WHERE queue IS NOT NULL;
    `,
  },
  {
    version: 6,
    name: 'notify the finish of waited runs',
    // A column with a constant default is added without rewriting the table. Only runs a
    // wait has marked notify: a NOTIFY on every completion would serialise commits on the
    // server's notification queue. For any other run the trigger costs the WHEN check.
    // TG_TABLE_SCHEMA names the store, so stores sharing a database tell themselves apart.
    sql: (s) => `
      ALTER TABLE ${s}.runs ADD COLUMN waited boolean NOT NULL DEFAULT false;
      CREATE FUNCTION ${s}.runs_notify_finished() RETURNS trigger LANGUAGE plpgsql AS $errand$
      BEGIN
        PERFORM pg_notify('errand_runs_finished', json_build_array(TG_TABLE_SCHEMA, NEW.id)::text);
        RETURN NULL;
      END
      $errand$;
      CREATE TRIGGER runs_notify_finished AFTER UPDATE OF status ON ${s}.runs FOR EACH ROW
        WHEN (NEW.waited AND NEW.status IN ('completed', 'cancelled', 'dead_lettered') AND OLD.status IS DISTINCT FROM NEW.status)
        EXECUTE FUNCTION ${s}.runs_notify_finished();
    `,
  },
  {
    version: 7,
    name: 'running runs leave the list indexes',
    // An update that is not HOT writes an entry into every index whose predicate the new row
    // version meets, and a claim is never HOT (it changes status). Running runs are few and
    // short-lived, and a list or the change feed reads them through runs_lease instead, so
    // leaving them out of these six indexes cuts a claim from six index entries per run to
    // two (measured: 45% less WAL per claim, a quarter less time). The indexes are rebuilt
    // inside the migration's transaction: writes to runs wait while they build.
    sql: (s) => `
      DROP INDEX ${s}.runs_task, ${s}.runs_status, ${s}.runs_updated, ${s}.runs_task_status, ${s}.runs_queue, ${s}.runs_queue_status;
      CREATE INDEX runs_task ON ${s}.runs (task, id) WHERE status <> 'running';
      CREATE INDEX runs_status ON ${s}.runs (status, id) WHERE status <> 'running';
      CREATE INDEX runs_updated ON ${s}.runs (updated_at, id) WHERE status <> 'running';
      CREATE INDEX runs_task_status ON ${s}.runs (task, status, id) WHERE status <> 'running';
      CREATE INDEX runs_queue ON ${s}.runs (queue, id) WHERE queue IS NOT NULL AND status <> 'running';
      CREATE INDEX runs_queue_status ON ${s}.runs (queue, status, id) WHERE queue IS NOT NULL AND status <> 'running';
    `,
  },
  {
    version: 8,
    name: 'a finish writes fewer index entries',
    // A finish is not HOT either (it changes status), so each index the finished row meets
    // costs an entry per run: about 7 µs of the server's time each, measured on a drain.
    // Three of them have a stand-in. A task's or a queue's list reads the (task, status, id)
    // or (queue, status, id) index one status at a time and merges them (run-list.ts), and
    // the claim finds a rare task's due runs there too, without walking its history. Pruning
    // reads the (status, id) index up to the id of the cutoff time (a run is created before
    // it finishes), and the activity chart reads runs_updated (a finished run's updated_at
    // is written with its completed_at, and later writes only move it forward).
    sql: (s) => `DROP INDEX ${s}.runs_task, ${s}.runs_queue, ${s}.runs_finished;`,
  },
  {
    version: 9,
    name: 'the claim as functions with a plan mode each; counters folded',
    // Planning the claim cost about as much as running it for a small claim (1.1 ms against
    // 0.8 for 10 runs, measured), and PostgreSQL never keeps a generic plan for it. See
    // claimFunctions. Processes of earlier versions keep sending the claim as a statement.
    // Also folds the run counters' deltas once, in one statement (one snapshot): until now
    // only a reader of the counts folded them, and maintenance does from now on.
    sql: (s) => `${installClaimV9(s)}
      WITH moved AS (DELETE FROM ${s}.run_count_deltas RETURNING task, queue, status, n)
      INSERT INTO ${s}.run_counts AS c (task, queue, status, n)
      SELECT task, queue, status, sum(n) FROM moved GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
      ON CONFLICT (task, queue, status) DO UPDATE SET n = c.n + EXCLUDED.n;`,
  },
  {
    version: 10,
    name: 'idle serial queues and concurrency keys can be dropped',
    // Upkeep drops the rows of groups nothing waits in or runs in (groups.ts), a bucket at
    // a time: it finds a bucket's rows by these expression indexes (the expression of
    // bucketOf, with its 31), and asks runs_key_waiting whether anything waits under a key
    // (a queue's is runs_queue_order). Only keyed runs pay for it, at enqueue and when they
    // wait again (a retry, a rescue). The drop reads every group that is not idle, so it
    // runs once per interval among all processes (table upkeep), not once in each. The
    // index is built inside the migration's transaction: writes to runs wait while it reads
    // the table.
    sql: (s) => `
      CREATE INDEX runs_key_waiting ON ${s}.runs (concurrency_key)
        WHERE concurrency_key IS NOT NULL AND status IN ('scheduled', 'queued');
      CREATE INDEX queues_bucket ON ${s}.queues ((hashtext(name) & 31));
      CREATE INDEX concurrency_keys_bucket ON ${s}.concurrency_keys ((hashtext(key) & 31));
      -- When each upkeep job last ran, whichever process ran it: one turn per interval for all.
      CREATE TABLE ${s}.upkeep (job text PRIMARY KEY, last_run_at timestamptz NOT NULL);
      INSERT INTO ${s}.upkeep (job, last_run_at) VALUES ('drop idle groups', '-infinity');
      -- The groups the last drops deleted, checked again by the next turn (groups.ts).
      CREATE TABLE ${s}.dropped_groups (kind text NOT NULL, name text NOT NULL, dropped_at timestamptz NOT NULL, PRIMARY KEY (kind, name));
      ${installDropIdleGroupsV10(s)}`,
  },
]

/**
 * The live entries of a concurrency key's holder list: runs admitted for an attempt they
 * are still running, as far as the calling statement can tell. An entry is dropped only
 * when its run has visibly left that attempt: a later attempt, a final status, or waiting
 * again with the same attempt. Each of those only ever moves forward, so seeing it in an
 * older snapshot proves it now; a run the snapshot cannot see yet (claimed since) still
 * counts. The claim that admits runs of a key keeps only these, and maintenance drops the
 * others (releaseStale); every path that ends an attempt also removes its entry at once
 * (releaseHolders, statements.ts), so that a claim can tell a full key by the list's length.
 *
 * A PL/pgSQL function rather than inline SQL on purpose: the claim is planned at every
 * execution (PostgreSQL keeps custom plans for it), and inlined, this logic tripled the
 * claim's planning time for every run, keyed or not (0.3 ms to 1.1 ms measured).
 */
function concurrencyLive(s: string): string {
  return `
    CREATE FUNCTION ${s}.concurrency_live(ids text[], attempts int4[], OUT live_ids text[], OUT live_attempts int4[])
    LANGUAGE plpgsql STABLE AS $body$
    BEGIN
      SELECT coalesce(array_agg(h.id ORDER BY h.n), '{}'), coalesce(array_agg(h.attempt ORDER BY h.n), '{}')
      INTO live_ids, live_attempts
      FROM unnest(ids, attempts) WITH ORDINALITY AS h(id, attempt, n)
      WHERE NOT EXISTS (
        SELECT 1 FROM ${s}.runs x WHERE x.id = h.id
          AND (x.attempt > h.attempt OR x.status IN ('completed', 'cancelled', 'dead_lettered') OR (x.attempt = h.attempt AND x.status IN ('scheduled', 'queued'))));
    END
    $body$;`
}
