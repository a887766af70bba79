import type Database from 'better-sqlite3'

/**
 * `run_at` of a held run (HELD_RUN_AT in ms), written as a literal rather than bound: the
 * partial index errand_runs_held names it, and SQLite only uses a partial index for a query
 * whose WHERE repeats the index's terms. Without statistics SQLite would rather walk the
 * status index (every scheduled run: delays, retries), hence INDEXED BY where it reads it.
 */
const HELD = '253402214400000'
const UNFINISHED = `('scheduled', 'queued', 'running')`

/** Every schedule statement of the SQLite driver, prepared once. */
export class SqliteScheduleStatements {
  readonly get: Database.Statement
  readonly list: Database.Statement
  readonly upsert: Database.Statement
  readonly setEnabled: Database.Statement
  readonly remove: Database.Statement
  readonly peek: Database.Statement
  readonly selectDue: Database.Statement
  readonly advance: Database.Statement
  readonly releaseHeld: Database.Statement

  constructor(db: Database.Database) {
    this.get = db.prepare(`SELECT * FROM errand_schedules WHERE key = ?`)
    // LIMIT -1 is no limit.
    this.list = db.prepare(`SELECT * FROM errand_schedules WHERE (@after IS NULL OR key > @after) ORDER BY key LIMIT @limit`)
    // The next tick survives an update unless the schedule is resumed or its cron or time
    // zone changed: redeploying a declaration must not reset (or re-run) its ticks. Every
    // right-hand side reads the row as it was before the update.
    this.upsert = db.prepare(`
      INSERT INTO errand_schedules (key, task, cron, timezone, payload, options, run_spec, catch_up, overlap, enabled,
        next_tick_at, fingerprint, created_at, updated_at)
      VALUES (@key, @task, @cron, @timezone, @payload, @options, @runSpec, @catchUp, @overlap, coalesce(@enabled, 1),
        CASE WHEN coalesce(@enabled, 1) = 1 THEN @nextTickAt END, @fingerprint, @now, @now)
      ON CONFLICT (key) DO UPDATE SET
        task = excluded.task, cron = excluded.cron, timezone = excluded.timezone, payload = excluded.payload,
        options = excluded.options, run_spec = excluded.run_spec, catch_up = excluded.catch_up,
        overlap = excluded.overlap, fingerprint = excluded.fingerprint, updated_at = @now,
        enabled = coalesce(@enabled, errand_schedules.enabled),
        next_tick_at = CASE
          WHEN coalesce(@enabled, errand_schedules.enabled) = 0 THEN NULL
          WHEN errand_schedules.enabled = 0 OR errand_schedules.next_tick_at IS NULL
            OR errand_schedules.cron <> excluded.cron OR errand_schedules.timezone <> excluded.timezone THEN @nextTickAt
          ELSE errand_schedules.next_tick_at END
      WHERE @onlyIfChanged = 0 OR errand_schedules.fingerprint <> excluded.fingerprint
      RETURNING *`)
    this.setEnabled = db.prepare(`
      UPDATE errand_schedules SET
        next_tick_at = CASE WHEN @enabled = 0 THEN NULL WHEN enabled = 1 THEN next_tick_at ELSE @nextTickAt END,
        enabled = @enabled, updated_at = @now
      WHERE key = @key
      RETURNING *`)
    this.remove = db.prepare(`DELETE FROM errand_schedules WHERE key = ?`)
    this.peek = db.prepare(`
      SELECT (SELECT min(next_tick_at) FROM errand_schedules WHERE enabled = 1) AS next_tick_at,
        EXISTS (SELECT 1 FROM errand_runs INDEXED BY errand_runs_held
          WHERE schedule_key IS NOT NULL AND status = 'scheduled' AND run_at = ${HELD}) AS held`)
    this.selectDue = db.prepare(`
      SELECT s.*, EXISTS (
        SELECT 1 FROM errand_runs r WHERE r.schedule_key = s.key AND r.status IN ${UNFINISHED}
      ) AS has_unfinished
      FROM errand_schedules s
      WHERE s.enabled = 1 AND s.next_tick_at <= ?
      ORDER BY s.next_tick_at
      LIMIT ?`)
    // Guarded on the next tick that was read: under BEGIN IMMEDIATE nothing can have moved
    // it, and if something ever did, zero rows makes the pass roll back rather than tick twice.
    this.advance = db.prepare(`
      UPDATE errand_schedules SET next_tick_at = @nextTickAt,
        last_tick_at = coalesce(@lastTickAt, last_tick_at),
        last_tick_outcome = coalesce(@lastTickOutcome, last_tick_outcome),
        last_run_id = coalesce(@lastRunId, last_run_id)
      WHERE key = @key AND enabled = 1 AND next_tick_at = @expected`)
    // Per schedule with held runs and nothing else unfinished, the oldest held run (the
    // bare column of a min() aggregate comes from the row holding the minimum).
    this.releaseHeld = db.prepare(`
      UPDATE errand_runs SET status = 'queued', run_at = @now, updated_at = @now
      WHERE id IN (
        SELECT id FROM (
          SELECT h.id, min(h.scheduled_for) FROM errand_runs AS h INDEXED BY errand_runs_held
          WHERE h.schedule_key IS NOT NULL AND h.status = 'scheduled' AND h.run_at = ${HELD}
            AND NOT EXISTS (
              SELECT 1 FROM errand_runs a
              WHERE a.schedule_key = h.schedule_key AND a.status IN ${UNFINISHED} AND a.run_at <> ${HELD})
          GROUP BY h.schedule_key
          LIMIT @limit))
        AND status = 'scheduled' AND run_at = ${HELD}
      RETURNING id, schedule_key`)
  }
}
