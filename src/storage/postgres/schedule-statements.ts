import { ms } from './rows.js'

/**
 * `run_at` of a held run (HELD_RUN_AT), written as a literal rather than bound: the partial
 * index runs_held names it, and the planner only uses a partial index whose predicate it
 * can prove from the query, which a parameter would not allow under a generic plan.
 */
const HELD = `'9999-12-31 00:00:00+00'::timestamptz`
const UNFINISHED = `('scheduled', 'queued', 'running')`

/** The select list of a schedules row under alias `a`: JSON as text, times as epoch ms (see rows.ts). */
export function scheduleColumns(a: string): string {
  return [
    `${a}.key`,
    `${a}.task`,
    `${a}.cron`,
    `${a}.timezone`,
    `${a}.payload::text AS payload`,
    `${a}.options::text AS options`,
    `${a}.run_spec::text AS run_spec`,
    `${a}.catch_up::text AS catch_up`,
    `${a}.overlap`,
    `${a}.enabled`,
    `${ms(`${a}.next_tick_at`)} AS next_tick_at`,
    `${ms(`${a}.last_tick_at`)} AS last_tick_at`,
    `${a}.last_tick_outcome`,
    `${a}.last_run_id`,
    `${a}.fingerprint`,
    `${ms(`${a}.created_at`)} AS created_at`,
    `${ms(`${a}.updated_at`)} AS updated_at`,
  ].join(', ')
}

/** The schedule statements of the PostgreSQL driver for one schema; `s` is the quoted schema name. */
export class PostgresScheduleStatements {
  readonly get: string
  readonly list: string
  readonly upsert: string
  readonly setEnabled: string
  readonly remove: string
  readonly peek: string
  readonly selectDue: string
  readonly advance: string
  readonly releaseHeld: string

  constructor(s: string) {
    const cols = scheduleColumns('cur')
    this.get = `SELECT ${cols} FROM ${s}.schedules cur WHERE cur.key = $1`
    // LIMIT NULL is no limit.
    this.list = `SELECT ${cols} FROM ${s}.schedules cur WHERE ($1::text IS NULL OR cur.key > $1) ORDER BY cur.key LIMIT $2`
    // The next tick survives an update unless the schedule is resumed or its cron or time
    // zone changed: redeploying a declaration must not reset (or re-run) its ticks. A
    // concurrent tick pass holds the row; ON CONFLICT waits for it and reads its result.
    // `xmax = 0` tells an inserted row from an updated one.
    this.upsert = `
      INSERT INTO ${s}.schedules AS cur (key, task, cron, timezone, payload, options, run_spec, catch_up, overlap, enabled,
        next_tick_at, fingerprint, created_at, updated_at)
      VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8::jsonb, $9, coalesce($10::boolean, true),
        CASE WHEN coalesce($10::boolean, true) THEN $11::timestamptz END, $12, $13, $13)
      ON CONFLICT (key) DO UPDATE SET
        task = EXCLUDED.task, cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, payload = EXCLUDED.payload,
        options = EXCLUDED.options, run_spec = EXCLUDED.run_spec, catch_up = EXCLUDED.catch_up,
        overlap = EXCLUDED.overlap, fingerprint = EXCLUDED.fingerprint, updated_at = $13,
        enabled = coalesce($10::boolean, cur.enabled),
        next_tick_at = CASE
          WHEN NOT coalesce($10::boolean, cur.enabled) THEN NULL
          WHEN NOT cur.enabled OR cur.next_tick_at IS NULL
            OR cur.cron <> EXCLUDED.cron OR cur.timezone <> EXCLUDED.timezone THEN $11::timestamptz
          ELSE cur.next_tick_at END
      WHERE NOT $14::boolean OR cur.fingerprint <> EXCLUDED.fingerprint
      RETURNING ${cols}, (cur.xmax = 0) AS inserted`
    this.setEnabled = `
      UPDATE ${s}.schedules cur SET
        next_tick_at = CASE WHEN NOT $2::boolean THEN NULL WHEN cur.enabled THEN cur.next_tick_at ELSE $3::timestamptz END,
        enabled = $2::boolean, updated_at = $4
      WHERE cur.key = $1
      RETURNING ${cols}`
    this.remove = `DELETE FROM ${s}.schedules WHERE key = $1 RETURNING key`
    this.peek = `
      SELECT (SELECT ${ms('min(next_tick_at)')} FROM ${s}.schedules WHERE enabled) AS next_tick_at,
        EXISTS (SELECT 1 FROM ${s}.runs WHERE schedule_key IS NOT NULL AND status = 'scheduled' AND run_at = ${HELD}) AS held`
    // SKIP LOCKED: schedules another process is ticking are left to it, without waiting; the
    // lock is held until this pass commits the runs and the advanced next tick together.
    this.selectDue = `
      SELECT ${cols}, EXISTS (
        SELECT 1 FROM ${s}.runs r WHERE r.schedule_key = cur.key AND r.status IN ${UNFINISHED}
      ) AS has_unfinished
      FROM ${s}.schedules cur
      WHERE cur.enabled AND cur.next_tick_at <= $1
      ORDER BY cur.next_tick_at
      LIMIT $2
      FOR UPDATE OF cur SKIP LOCKED`
    // Guarded on the next tick that was read, per schedule; the caller checks every row matched.
    this.advance = `
      UPDATE ${s}.schedules cur SET next_tick_at = u.next_tick_at,
        last_tick_at = coalesce(u.last_tick_at, cur.last_tick_at),
        last_tick_outcome = coalesce(u.last_tick_outcome, cur.last_tick_outcome),
        last_run_id = coalesce(u.last_run_id, cur.last_run_id)
      FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[])
        AS u(key, expected, next_tick_at, last_tick_at, last_tick_outcome, last_run_id)
      WHERE cur.key = u.key AND cur.enabled AND cur.next_tick_at = u.expected
      RETURNING cur.key`
    // Per schedule with held runs and nothing else unfinished, its oldest held run. Two
    // sessions racing pick the same run (the oldest); the second finds it no longer held.
    this.releaseHeld = `
      UPDATE ${s}.runs r SET status = 'queued', run_at = $1, updated_at = $1
      FROM (
        SELECT DISTINCT ON (h.schedule_key) h.id FROM ${s}.runs h
        WHERE h.schedule_key IS NOT NULL AND h.status = 'scheduled' AND h.run_at = ${HELD}
          AND NOT EXISTS (
            SELECT 1 FROM ${s}.runs a
            WHERE a.schedule_key = h.schedule_key AND a.status IN ${UNFINISHED} AND a.run_at <> ${HELD})
        ORDER BY h.schedule_key, h.scheduled_for
        LIMIT $2
      ) p
      WHERE r.id = p.id AND r.status = 'scheduled' AND r.run_at = ${HELD}
      RETURNING r.id, r.schedule_key`
  }
}
