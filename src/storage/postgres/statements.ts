import { attemptColumns, ms, runColumns } from './rows.js'

const FINAL = `('completed', 'cancelled', 'dead_lettered')`

/** Replaces an attempt record written earlier for the same (run, attempt), as SQLite's INSERT OR REPLACE does. */
const REPLACE_ATTEMPT = `ON CONFLICT (run_id, attempt) DO UPDATE SET worker_id = EXCLUDED.worker_id, started_at = EXCLUDED.started_at,
    finished_at = EXCLUDED.finished_at, outcome = EXCLUDED.outcome, error = EXCLUDED.error`

/*
 * LOCK_IN_ORDER: a worker's heartbeat and its batched completions can be in flight at once
 * on two connections and cover the same runs (a run finishing while its lease is renewed).
 * An UPDATE ... FROM locks rows in whatever order its join produces them, so two such
 * statements could lock two runs in opposite orders and deadlock, costing a second
 * (deadlock_timeout) and a failed statement. Both therefore lock their rows first with
 * SELECT ... ORDER BY id FOR UPDATE. Claims, rescues, promotions and prunes use SKIP
 * LOCKED and never wait, and a cancel locks one row, so they cannot close a cycle.
 */

/**
 * The fixed statements of the PostgreSQL driver for one schema. `s` is the quoted schema
 * name, the only thing not bound; every value is a parameter. Batched statements take one
 * array per column and `unnest` them, so a batch of any size is one round trip.
 */
export class PostgresStatements {
  readonly insertRuns: string
  readonly findIdempotent: string
  readonly findScheduledTicks: string
  readonly getRun: string
  readonly claim: string
  readonly heartbeat: string
  readonly finish: string
  readonly lockForCancel: string
  readonly recordCancelledAttempt: string
  readonly cancel: string
  readonly promoteDue: string
  readonly rescue: string
  readonly prune: string
  readonly listAttempts: string
  readonly notify = 'SELECT pg_notify($1, $2)'

  constructor(s: string, notifyOnInsert: boolean) {
    // Rows go in (task, key) order, then input order: within one batch, the first item
    // with a key is inserted and a later one skipped by DO NOTHING; across batches, every
    // insert takes key locks in one global order. In input order, two batches holding
    // shared keys in opposite orders each wait on the other's uncommitted key: a deadlock
    // (seen with 4 concurrent batches of 400 keys).
    const insert = `
      WITH input AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::int4[], $7::text[], $8::text[],
          $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::int8[], $15::timestamptz[], $16::text[], $17::text[],
          $18::text[], $19::timestamptz[])
          WITH ORDINALITY AS i(id, task, status, payload, max_attempts, priority, queue, concurrency_key, idempotency_key,
            job_key, flags, metadata, retry_policy, timeout_ms, run_at, replay_of, replay_reason, schedule_key, scheduled_for, ord)
      ), ins AS (
        INSERT INTO ${s}.runs AS r (id, task, status, payload, max_attempts, priority, queue, concurrency_key, idempotency_key,
          job_key, flags, metadata, retry_policy, timeout_ms, run_at, created_at, updated_at, replay_of, replay_reason,
          schedule_key, scheduled_for)
        SELECT id, task, status, payload::jsonb, max_attempts, priority, queue, concurrency_key, idempotency_key,
          job_key, flags::jsonb, metadata::jsonb, retry_policy::jsonb, timeout_ms, run_at, $20, $20, replay_of, replay_reason,
          schedule_key, scheduled_for
        FROM input ORDER BY task, idempotency_key, ord
        ON CONFLICT DO NOTHING
        RETURNING ${runColumns('r')}
      )`
    // One NOTIFY per statement, and only if a created run is due now. The count() forces the
    // notifying CTE to run (an unreferenced SELECT CTE never would); inside the caller's own
    // transaction the notification is delivered when, and only if, it commits.
    this.insertRuns = notifyOnInsert
      ? `${insert}, notified AS (
          SELECT pg_notify($21, $22) FROM (SELECT 1 FROM ins WHERE ins.status = 'queued' LIMIT 1) AS due
        )
        SELECT ins.* FROM ins CROSS JOIN (SELECT count(*) FROM notified) AS n`
      : `${insert} SELECT * FROM ins`
    this.findIdempotent = `
      SELECT ${runColumns('r')} FROM ${s}.runs r
      JOIN unnest($1::text[], $2::text[]) AS k(task, key) ON r.task = k.task AND r.idempotency_key = k.key
      WHERE r.idempotency_key IS NOT NULL`
    this.findScheduledTicks = `
      SELECT ${runColumns('r')} FROM ${s}.runs r
      JOIN unnest($1::text[], $2::timestamptz[]) AS k(schedule_key, scheduled_for)
        ON r.schedule_key = k.schedule_key AND r.scheduled_for = k.scheduled_for`
    this.getRun = `SELECT ${runColumns('r')} FROM ${s}.runs r WHERE r.id = $1`
    // The CTE locks the chosen rows once (the planner cannot re-run it per row, as it may an
    // IN-subquery), and SKIP LOCKED lets concurrent claimers take disjoint rows without waiting.
    this.claim = `
      WITH c AS (
        SELECT id FROM ${s}.runs
        WHERE status IN ('scheduled', 'queued') AND run_at <= $1 AND task = ANY($2::text[])
        ORDER BY priority, run_at, id
        LIMIT $3
        FOR UPDATE SKIP LOCKED
      )
      UPDATE ${s}.runs r
      SET status = 'running', attempt = r.attempt + 1, locked_by = $4, locked_at = $1,
          lease_expires_at = $5, started_at = coalesce(r.started_at, $1), updated_at = $1
      FROM c WHERE r.id = c.id
      RETURNING ${runColumns('r')}`
    // Rows are locked in id order first (see LOCK_IN_ORDER), then renewed.
    this.heartbeat = `
      WITH l AS (
        SELECT * FROM unnest($3::text[], $4::int4[]) AS l(id, attempt)
      ), locked AS (
        SELECT r.id FROM ${s}.runs r JOIN l ON r.id = l.id AND r.attempt = l.attempt
        WHERE r.status = 'running' ORDER BY r.id FOR UPDATE OF r
      )
      UPDATE ${s}.runs r SET lease_expires_at = $1, updated_at = $2
      FROM l JOIN locked ON locked.id = l.id
      WHERE r.id = l.id AND r.status = 'running' AND r.attempt = l.attempt
      RETURNING r.id, r.attempt`
    // Every result is fenced on its own (id, running, attempt), its row locked in id order
    // (LOCK_IN_ORDER); the attempt record is written
    // by the same statement, so a completion and its record commit together or not at all.
    // A released attempt gives its attempt back by raising the budget: `attempt` itself only
    // grows, because it is the fencing token.
    this.finish = `
      WITH input AS (
        SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
          WITH ORDINALITY AS i(id, attempt, outcome, worker_id, output, error, next_run_at, ord)
      ), locked AS (
        SELECT r.id FROM ${s}.runs r JOIN input i ON r.id = i.id AND r.attempt = i.attempt
        WHERE r.status = 'running' ORDER BY r.id FOR UPDATE OF r
      ), done AS (
        UPDATE ${s}.runs r SET
          status = CASE i.outcome WHEN 'completed' THEN 'completed' WHEN 'retry' THEN 'scheduled' WHEN 'sleep' THEN 'scheduled'
                                  WHEN 'dead_lettered' THEN 'dead_lettered' ELSE 'queued' END,
          output = CASE WHEN i.outcome = 'completed' THEN i.output::jsonb ELSE r.output END,
          error = CASE WHEN i.outcome = 'completed' THEN NULL WHEN i.outcome = 'sleep' THEN r.error ELSE i.error::jsonb END,
          completed_at = CASE WHEN i.outcome IN ('completed', 'dead_lettered') THEN $8 ELSE r.completed_at END,
          run_at = CASE WHEN i.outcome IN ('retry', 'sleep') THEN i.next_run_at ELSE r.run_at END,
          -- A release or a durable sleep gives the attempt back: attempt, the fence, only grows.
          max_attempts = CASE WHEN i.outcome IN ('released', 'sleep') THEN r.max_attempts + 1 ELSE r.max_attempts END,
          locked_by = NULL, lease_expires_at = NULL, updated_at = $8
        FROM input i JOIN locked ON locked.id = i.id
        WHERE r.id = i.id AND r.status = 'running' AND r.attempt = i.attempt
        RETURNING i.ord, r.id, i.attempt, i.worker_id, i.outcome, i.error, r.locked_at
      ), recorded AS (
        INSERT INTO ${s}.attempts (run_id, attempt, worker_id, started_at, finished_at, outcome, error)
        SELECT id, attempt, worker_id, coalesce(locked_at, $8), $8,
          CASE outcome WHEN 'completed' THEN 'completed' WHEN 'released' THEN 'released' WHEN 'sleep' THEN 'slept' ELSE 'failed' END,
          error::jsonb
        FROM done
        ${REPLACE_ATTEMPT}
      )
      SELECT ord::int4 AS ord FROM done`
    this.lockForCancel = `SELECT status FROM ${s}.runs WHERE id = $1 FOR UPDATE`
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
        RETURNING r.id, r.attempt, r.status, old.locked_by, old.locked_at
      ), recorded AS (
        INSERT INTO ${s}.attempts (run_id, attempt, worker_id, started_at, finished_at, outcome, error)
        SELECT id, attempt, locked_by, coalesce(locked_at, $1), $1, 'lease_expired', $3::jsonb FROM rescued
        ${REPLACE_ATTEMPT}
      )
      SELECT id, attempt, status FROM rescued`
    this.prune = `
      WITH doomed AS (
        SELECT id FROM ${s}.runs WHERE completed_at < $1 AND status IN ${FINAL}
        ORDER BY completed_at LIMIT $2 FOR UPDATE SKIP LOCKED
      ), attempts_gone AS (
        DELETE FROM ${s}.attempts a USING doomed d WHERE a.run_id = d.id
      ), steps_gone AS (
        DELETE FROM ${s}.steps st USING doomed d WHERE st.run_id = d.id
      ), logs_gone AS (
        DELETE FROM ${s}.logs l USING doomed d WHERE l.run_id = d.id
      ), runs_gone AS (
        DELETE FROM ${s}.runs r USING doomed d WHERE r.id = d.id RETURNING 1
      )
      SELECT count(*)::int4 AS n FROM runs_gone`
    // Stored attempts, then the one in progress read off the run (it is stored when it ends).
    this.listAttempts = `
      SELECT * FROM (
        SELECT ${attemptColumns('a')}, 0 AS current FROM ${s}.attempts a WHERE a.run_id = $1
        UNION ALL
        SELECT r.id, r.attempt, r.locked_by, ${ms('r.locked_at')}, NULL::float8, 'running', NULL::text, 1
        FROM ${s}.runs r WHERE r.id = $1 AND r.status = 'running' AND r.locked_at IS NOT NULL
      ) x ORDER BY current, attempt`
  }
}
