import { claimCall } from './claim.js'
import { groupRows } from './groups.js'
import { attemptColumns, ms, runColumns } from './rows.js'

const FINAL = `('completed', 'cancelled', 'dead_lettered')`

/** Replaces an attempt record written earlier for the same (run, attempt), as SQLite's INSERT OR REPLACE does. */
const REPLACE_ATTEMPT = `ON CONFLICT (run_id, attempt) DO UPDATE SET worker_id = EXCLUDED.worker_id, started_at = EXCLUDED.started_at,
    finished_at = EXCLUDED.finished_at, outcome = EXCLUDED.outcome, error = EXCLUDED.error`

/**
 * Removes runs whose attempt ended from the holder lists of their concurrency keys, so that
 * a claim can tell a key at its limit by the list's length alone, without checking each
 * holder (which it would do for every run waiting under the key: 0.2 ms each). `ended` is a
 * relation of (id, attempt, concurrency_key). Key rows are locked in key order, after the
 * runs (every writer locks runs first), so two writers cannot deadlock; claims never wait.
 * A holder left behind by another path is dropped by the claim that next admits runs of
 * its key, or by maintenance (releaseStale).
 */
export function releaseHolders(s: string, ended: string): string {
  return `
    UPDATE ${s}.concurrency_keys k SET (holder_ids, holder_attempts) = ${holdersWithout(`EXISTS (SELECT 1 FROM ${ended} e WHERE e.id = h.id AND e.attempt = h.attempt)`)}
    FROM (
      SELECT key FROM ${s}.concurrency_keys
      WHERE key = ANY(ARRAY(SELECT DISTINCT e.concurrency_key FROM ${ended} e WHERE e.concurrency_key IS NOT NULL))
      ORDER BY key FOR UPDATE
    ) locked_keys
    WHERE k.key = locked_keys.key`
}

/** Key row `k`'s holder lists, in order, without the entries `h` (id, attempt) that `drop` matches. */
function holdersWithout(drop: string): string {
  return `(
      SELECT coalesce(array_agg(h.id ORDER BY h.n), '{}'), coalesce(array_agg(h.attempt ORDER BY h.n), '{}')
      FROM unnest(k.holder_ids, k.holder_attempts) WITH ORDINALITY AS h(id, attempt, n)
      WHERE NOT (${drop}))`
}

/** The input rows of a batched insert: one array per column (see params.ts), in input order. */
export const INPUT_CTE = `input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::int4[], $7::text[], $8::text[],
      $9::int4[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::int8[], $16::timestamptz[], $17::text[],
      $18::text[], $19::text[], $20::timestamptz[])
      WITH ORDINALITY AS i(id, task, status, payload, max_attempts, priority, queue, concurrency_key, concurrency_limit,
        idempotency_key, job_key, flags, metadata, retry_policy, timeout_ms, run_at, replay_of, replay_reason, schedule_key,
        scheduled_for, ord)
  )`

/** The columns of a new run, and the values for them from `input` ($21 is now); `current` is job_key_current. */
export const INSERT_COLUMNS = `(id, task, status, payload, max_attempts, priority, queue, concurrency_key, concurrency_limit,
    idempotency_key, job_key, job_key_current, flags, metadata, retry_policy, timeout_ms, run_at, created_at, updated_at, replay_of,
    replay_reason, schedule_key, scheduled_for)`
export const insertSelect = (current: 'true' | 'false') => `id, task, status, payload::jsonb, max_attempts, priority, queue,
    concurrency_key, concurrency_limit, idempotency_key, job_key, ${current}, flags::jsonb, metadata::jsonb, retry_policy::jsonb,
    timeout_ms, run_at, $21, $21, replay_of, replay_reason, schedule_key, scheduled_for`

/**
 * Ends an insert statement whose CTE `ins` returns the rows written: one NOTIFY per
 * statement, and only if a written run is due now. The count() forces the notifying CTE to
 * run (an unreferenced SELECT CTE never would); inside the caller's own transaction the
 * notification is delivered when, and only if, it commits. Parameters `$first` and the next
 * one are the channel and the payload.
 */
export function notifying(statement: string, notify: boolean, first = 22): string {
  if (!notify) return `${statement} SELECT * FROM ins`
  return `${statement}, notified AS (
      SELECT pg_notify($${first}, $${first + 1}) FROM (SELECT 1 FROM ins WHERE ins.status = 'queued' LIMIT 1) AS due
    )
    SELECT ins.* FROM ins CROSS JOIN (SELECT count(*) FROM notified) AS n`
}

/*
 * LOCK_IN_ORDER: a worker's heartbeat and its batched completions can be in flight at once
 * on two connections and cover the same runs (a run finishing while its lease is renewed).
 * An UPDATE ... FROM locks rows in whatever order its join produces them, so two such
 * statements could lock two runs in opposite orders and deadlock, costing a second
 * (deadlock_timeout) and a failed statement. Both therefore lock their rows first with
 * SELECT ... ORDER BY id FOR UPDATE. Claims, rescues, promotions and prunes use SKIP
 * LOCKED and never wait, and a cancel locks one row, so they cannot close a cycle.
 *
 * KEYED_BY_ID: batched writes about runs a worker holds find their rows by primary key
 * (`id = ANY(ids)`) and test status and attempt on the locked rows afterwards, never in the
 * scan. With `status = 'running'` in the scan, the planner (its statistics taken when few
 * runs were running) chose the status index and a nested loop estimated at one row: the
 * scan walked every stale index entry of runs that had once been running, and the join
 * grew with the square of the batch. Seen: a heartbeat of 14,200 leases took 100 s.
 */

/*
 * ONE_PLAN: a statement that finds its runs by primary key has one good plan whatever its
 * batch holds, yet PostgreSQL plans it afresh on every execution while the batch's size
 * decides its estimated cost: a custom plan of a one-run batch is estimated cheaper than the
 * generic plan (which assumes a default array size), so the generic plan is never chosen
 * and every small batch pays the planning again (measured at one run per batch: 0.36 ms of
 * planning for 0.24 ms of execution per completion). The batch's arrays are therefore read
 * through scalar subqueries, whose values the planner cannot see: every plan is estimated
 * alike, and after its first five executions a connection keeps the generic plan. (Read
 * from a CTE joined to the unnest instead, each input row carried the whole arrays: a
 * batch of 550 sorted 22 MB on disk.)
 */

/**
 * `param`, a bound array such as `$1::text[]`, as the planner sees a generic plan's
 * parameter; see ONE_PLAN. The outer cast makes it an expression (`= ANY((SELECT …))` would
 * compare with each row of the subquery instead).
 */
function unseen(param: string): string {
  return `(SELECT ${param})::${param.split('::')[1]}`
}

/**
 * The fixed statements of the PostgreSQL driver for one schema. `s` is the quoted schema
 * name, the only thing not bound; every value is a parameter. Batched statements take one
 * array per column and `unnest` them, so a batch of any size is one round trip.
 */
export class PostgresStatements {
  readonly insertRuns: string
  /** As `insertRuns`, also making the rows of the batch's serial queues and concurrency keys. */
  readonly insertGroupedRuns: string
  readonly findIdempotent: string
  readonly findScheduledTicks: string
  readonly getRun: string
  /** The claim through its generic plan, and planned for its values (claimFunctions). */
  readonly claimWalking: string
  readonly claimPlanned: string
  readonly heartbeat: string
  readonly finish: string
  readonly lockForCancel: string
  readonly releaseCancelled: string
  readonly releaseStale: string
  readonly recordCancelledAttempt: string
  readonly cancel: string
  readonly promoteDue: string
  readonly rescue: string
  readonly prune: string
  readonly listAttempts: string
  readonly markWaited: string
  readonly announceIfNotStarted: string
  readonly notify = 'SELECT pg_notify($1, $2)'

  constructor(s: string, notifyOnInsert: boolean) {
    // Rows go in (task, key) order, then input order: within one batch, the first item
    // with a key is inserted and a later one skipped by DO NOTHING; across batches, every
    // insert takes key locks in one global order. In input order, two batches holding
    // shared keys in opposite orders each wait on the other's uncommitted key: a deadlock
    // (seen with 4 concurrent batches of 400 keys).
    const insert = (groups: string) => `
      WITH ${INPUT_CTE}${groups}, ins AS (
        INSERT INTO ${s}.runs AS r ${INSERT_COLUMNS}
        SELECT ${insertSelect('false')} FROM input ORDER BY task, idempotency_key, ord
        ON CONFLICT DO NOTHING
        RETURNING r.id, r.status
      )`
    this.insertRuns = notifying(insert(''), notifyOnInsert)
    this.insertGroupedRuns = notifying(insert(groupRows(s)), notifyOnInsert)
    this.findIdempotent = `
      SELECT ${runColumns('r')} FROM ${s}.runs r
      JOIN unnest($1::text[], $2::text[]) AS k(task, key) ON r.task = k.task AND r.idempotency_key = k.key
      WHERE r.idempotency_key IS NOT NULL`
    this.findScheduledTicks = `
      SELECT ${runColumns('r')} FROM ${s}.runs r
      JOIN unnest($1::text[], $2::timestamptz[]) AS k(schedule_key, scheduled_for)
        ON r.schedule_key = k.schedule_key AND r.scheduled_for = k.scheduled_for`
    this.getRun = `SELECT ${runColumns('r')} FROM ${s}.runs r WHERE r.id = $1`
    this.claimWalking = claimCall(s, 'claim_walk')
    this.claimPlanned = claimCall(s, 'claim_planned')
    // Rows are locked in id order first (see LOCK_IN_ORDER), then renewed. See KEYED_BY_ID and ONE_PLAN.
    this.heartbeat = `
      WITH locked AS (
        SELECT r.id, r.status, r.attempt, l.attempt AS lease_attempt
        FROM unnest(${unseen('$3::text[]')}, ${unseen('$4::int4[]')}) AS l(id, attempt) JOIN ${s}.runs r ON r.id = l.id
        WHERE r.id = ANY(${unseen('$3::text[]')})
        ORDER BY r.id FOR UPDATE OF r
      )
      UPDATE ${s}.runs r SET lease_expires_at = $1, updated_at = $2
      FROM locked WHERE r.id = locked.id AND locked.status = 'running' AND locked.attempt = locked.lease_attempt
      RETURNING r.id, r.attempt`
    // Every result is fenced on its own (id, running, attempt), its row locked in id order
    // (LOCK_IN_ORDER, KEYED_BY_ID, ONE_PLAN); the attempt record is written
    // by the same statement, so a completion and its record commit together or not at all.
    // A released attempt gives its attempt back by raising the budget: `attempt` itself only
    // grows, because it is the fencing token.
    const results = ['$1::text[]', '$2::int4[]', '$3::text[]', '$4::text[]', '$5::text[]', '$6::text[]', '$7::timestamptz[]', '$8::text[]']
    this.finish = `
      WITH input AS (
        SELECT * FROM unnest(${results.map(unseen).join(', ')})
          WITH ORDINALITY AS i(id, attempt, outcome, worker_id, output, error, next_run_at, payload, ord)
      ), locked AS (
        SELECT r.id, r.status, r.attempt AS current_attempt, i.attempt, i.outcome, i.worker_id, i.output, i.error, i.next_run_at,
          i.payload, i.ord
        FROM input i JOIN ${s}.runs r ON r.id = i.id
        WHERE r.id = ANY(${unseen('$1::text[]')})
        ORDER BY r.id FOR UPDATE OF r
      ), done AS (
        UPDATE ${s}.runs r SET
          status = CASE i.outcome WHEN 'completed' THEN 'completed' WHEN 'retry' THEN 'scheduled' WHEN 'sleep' THEN 'scheduled'
                                  WHEN 'dead_lettered' THEN 'dead_lettered' ELSE 'queued' END,
          output = coalesce(i.output::jsonb, r.output),
          payload = coalesce(i.payload::jsonb, r.payload),
          error = CASE WHEN i.outcome = 'completed' THEN NULL WHEN i.outcome = 'sleep' THEN r.error ELSE i.error::jsonb END,
          completed_at = CASE WHEN i.outcome IN ('completed', 'dead_lettered') THEN $9 ELSE r.completed_at END,
          run_at = CASE WHEN i.outcome IN ('retry', 'sleep') THEN i.next_run_at ELSE r.run_at END,
          -- A release or a durable sleep gives the attempt back: attempt, the fence, only grows.
          max_attempts = CASE WHEN i.outcome IN ('released', 'sleep') THEN r.max_attempts + 1 ELSE r.max_attempts END,
          -- A completed run keeps its worker: its last attempt is read off the run (listAttempts).
          locked_by = CASE WHEN i.outcome = 'completed' THEN r.locked_by END, lease_expires_at = NULL, updated_at = $9
        FROM locked i
        WHERE r.id = i.id AND i.status = 'running' AND i.current_attempt = i.attempt
        RETURNING i.ord, r.id, i.attempt, i.worker_id, i.outcome, i.error, r.locked_at, r.concurrency_key,
          r.queue IS NOT NULL OR r.concurrency_key IS NOT NULL AS grouped
      ), released AS (${releaseHolders(s, 'done')}
      ), recorded AS (
        INSERT INTO ${s}.attempts (run_id, attempt, worker_id, started_at, finished_at, outcome, error)
        SELECT id, attempt, worker_id, coalesce(locked_at, $9), $9,
          CASE outcome WHEN 'completed' THEN 'completed' WHEN 'released' THEN 'released' WHEN 'sleep' THEN 'slept' ELSE 'failed' END,
          error::jsonb
        FROM done WHERE outcome <> 'completed'
        ${REPLACE_ATTEMPT}
      )
      SELECT ord::int4 AS ord, grouped FROM done`
    this.lockForCancel = `SELECT status, attempt, concurrency_key FROM ${s}.runs WHERE id = $1 FOR UPDATE`
    this.releaseCancelled = releaseHolders(s, '(SELECT $1::text AS id, $2::int4 AS attempt, $3::text AS concurrency_key)')
    this.recordCancelledAttempt = `
      INSERT INTO ${s}.attempts (run_id, attempt, worker_id, started_at, finished_at, outcome, error)
      SELECT id, attempt, locked_by, locked_at, $2, 'cancelled', $3::jsonb FROM ${s}.runs
      WHERE id = $1 AND status = 'running' AND locked_at IS NOT NULL
      ${REPLACE_ATTEMPT}`
    this.cancel = `
      UPDATE ${s}.runs r SET status = 'cancelled', cancel_reason = $2, completed_at = $3, updated_at = $3,
        locked_by = NULL, lease_expires_at = NULL
      WHERE r.id = $1 AND r.status NOT IN ${FINAL}
      RETURNING ${runColumns('r')}`
    this.promoteDue = `
      WITH due AS (
        SELECT id FROM ${s}.runs WHERE status = 'scheduled' AND run_at <= $1 ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED
      )
      UPDATE ${s}.runs r SET status = 'queued', updated_at = $1 FROM due WHERE r.id = due.id`
    // Guarded like every write about an attempt: the locking subquery re-checks its WHERE on
    // the newest row version, so a lease renewed or a run finished meanwhile is left alone,
    // and rows another session is writing are skipped rather than waited for. `old` keeps the
    // values the update clears (locked_by), for the attempt record.
    this.rescue = `
      WITH rescued AS (
        UPDATE ${s}.runs r SET
          status = CASE WHEN r.attempt >= r.max_attempts THEN 'dead_lettered' ELSE 'queued' END,
          completed_at = CASE WHEN r.attempt >= r.max_attempts THEN $1 ELSE NULL END,
          error = $3::jsonb, locked_by = NULL, lease_expires_at = NULL, updated_at = $1
        FROM (
          SELECT id, attempt, locked_by, locked_at FROM ${s}.runs
          WHERE status = 'running' AND lease_expires_at < $1
          ORDER BY lease_expires_at LIMIT $2
          FOR UPDATE SKIP LOCKED
        ) old
        WHERE r.id = old.id AND r.status = 'running' AND r.attempt = old.attempt AND r.lease_expires_at < $1
        RETURNING r.id, r.attempt, r.status, r.concurrency_key, old.locked_by, old.locked_at
      ), released AS (${releaseHolders(s, 'rescued')}
      ), recorded AS (
        INSERT INTO ${s}.attempts (run_id, attempt, worker_id, started_at, finished_at, outcome, error)
        SELECT id, attempt, locked_by, coalesce(locked_at, $1), $1, 'lease_expired', $3::jsonb FROM rescued
        ${REPLACE_ATTEMPT}
      )
      SELECT id, attempt, status FROM rescued`
    // Holders whose attempt ended by a path that did not release them (a process of an
    // earlier version, a write from outside), found by concurrency_live. Only
    // rows with such an entry are locked (the filter runs before the lock and again on the
    // newest version), and rows a claim or a finish holds are skipped: they are being
    // brought up to date anyway.
    this.releaseStale = `
      UPDATE ${s}.concurrency_keys k SET (holder_ids, holder_attempts) = (
        SELECT l.live_ids, l.live_attempts FROM ${s}.concurrency_live(k.holder_ids, k.holder_attempts) l)
      FROM (
        SELECT key FROM ${s}.concurrency_keys
        WHERE cardinality(holder_ids) > 0
          AND cardinality((${s}.concurrency_live(holder_ids, holder_attempts)).live_ids) < cardinality(holder_ids)
        ORDER BY key FOR UPDATE SKIP LOCKED
      ) stale
      WHERE k.key = stale.key
      RETURNING k.key`
    // $3 bounds the id: a run is created before it finishes, so only runs created before the
    // cutoff can go, and the (status, id) index reads just those (migration 8).
    this.prune = `
      WITH doomed AS (
        SELECT id FROM ${s}.runs WHERE status IN ${FINAL} AND id < $3 AND completed_at < $1
        LIMIT $2 FOR UPDATE SKIP LOCKED
      ), attempts_gone AS (
        DELETE FROM ${s}.attempts a USING doomed d WHERE a.run_id = d.id
      ), queues_let_go AS (
        -- A holder is let go by the claim once it is final; a deleted one would never be, so it goes here.
        UPDATE ${s}.queues q SET holder = NULL, held_since = NULL FROM doomed d WHERE q.holder = d.id
      ), keys_let_go AS (
        UPDATE ${s}.concurrency_keys k SET (holder_ids, holder_attempts) = ${holdersWithout('h.id IN (SELECT id FROM doomed)')}
        -- In key order, as every writer of key rows locks them (see releaseHolders).
        FROM (SELECT key FROM ${s}.concurrency_keys WHERE holder_ids && ARRAY(SELECT id FROM doomed) ORDER BY key FOR UPDATE) l
        WHERE k.key = l.key
      ), steps_gone AS (
        DELETE FROM ${s}.steps st USING doomed d WHERE st.run_id = d.id
      ), logs_gone AS (
        DELETE FROM ${s}.logs l USING doomed d WHERE l.run_id = d.id
      ), runs_gone AS (
        DELETE FROM ${s}.runs r USING doomed d WHERE r.id = d.id RETURNING 1
      )
      SELECT count(*)::int4 AS n FROM runs_gone`
    // Stored attempts, then the one read off the run: the one in progress (stored when it
    // ends), or a completed run's last, which is never stored (one insert fewer per run).
    // Runs completed before that was so have it stored, and locked_by cleared.
    this.listAttempts = `
      SELECT * FROM (
        SELECT ${attemptColumns('a')}, 0 AS current FROM ${s}.attempts a WHERE a.run_id = $1
        UNION ALL
        SELECT r.id, r.attempt, r.locked_by, ${ms('r.locked_at')},
          CASE WHEN r.status = 'completed' THEN ${ms('r.completed_at')} END, r.status, NULL::text, 1
        FROM ${s}.runs r WHERE r.id = $1 AND r.locked_at IS NOT NULL AND (r.status = 'running' OR (r.status = 'completed'
          AND NOT EXISTS (SELECT 1 FROM ${s}.attempts a WHERE a.run_id = r.id AND a.attempt = r.attempt)))
      ) x ORDER BY current, attempt`
    // A wait's mark, so that the run's finish is notified (migration 6). updated_at stays: the
    // change feed has nothing to show. A run already marked or final is not written again.
    // The row lock waits for a finish being committed, then re-reads the row: final, so
    // unmarked, and the waiter's next read sees the finish; otherwise the finish, waiting in
    // turn, updates the marked row and its trigger notifies.
    this.markWaited = `UPDATE ${s}.runs SET waited = true WHERE id = $1 AND NOT waited AND status NOT IN ${FINAL} RETURNING status`
    // A run a claim may have skipped while the mark held its row (see watchRunFinished in
    // the driver), announced again if it has still not started. $2, $3: channel and payload.
    this.announceIfNotStarted = `SELECT pg_notify($2, $3) FROM ${s}.runs WHERE id = $1 AND status IN ('scheduled', 'queued')`
  }
}
