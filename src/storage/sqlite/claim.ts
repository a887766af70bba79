/**
 * The SQLite claim: one UPDATE over the due runs, run by the driver inside `BEGIN
 * IMMEDIATE`. That transaction holds the database's write lock, so the checks below (is
 * this serial queue taken? how many runs of this concurrency key are running?) cannot
 * change between the read and the write: no other process can claim meanwhile. The state
 * is read off the runs themselves, so there is no lock row to keep in step.
 *
 * - A serial queue is taken by its started run until that run is final: running, waiting
 *   for a retry (scheduled, attempt > 0) or given back by a stopping worker (queued,
 *   attempt > 0). Only that run may be claimed in the queue then; otherwise only its first
 *   due run in (priority, run_at, id) order, whatever this worker's tasks and flags: a
 *   queue waits for a worker that can take its head rather than run out of order. So a
 *   queue never gives two runs to one claim either.
 * - A concurrency key admits a run while fewer than its limit are running. Within one
 *   claim the key's runs are admitted in order, as long as each one's own limit (the
 *   smallest so far) is not exceeded.
 *
 * Runs with neither pay for two `IS NULL` tests and the window functions over at most
 * `limit` rows. Flags are tested only when the worker forbids some (`@forbidden` not null), queue names only
 * when the worker takes runs of some queues only (`@queues` not null).
 */
export const SQLITE_CLAIM = `
  UPDATE errand_runs
  SET status = 'running', attempt = attempt + 1, locked_by = @worker, locked_at = @now,
      lease_expires_at = @lease, started_at = coalesce(started_at, @now), updated_at = @now
  WHERE id IN (
    WITH due AS (
      SELECT r.id, r.queue, r.concurrency_key, r.concurrency_limit, r.priority, r.run_at
      FROM errand_runs AS r INDEXED BY errand_runs_due
      WHERE r.status IN ('scheduled', 'queued') AND r.run_at <= @now
        AND r.task IN (SELECT value FROM json_each(@tasks))
        AND (@queues IS NULL OR r.queue IN (SELECT value FROM json_each(@queues)))
        AND (@forbidden IS NULL OR r.flags = '[]' OR NOT EXISTS (
          SELECT 1 FROM json_each(r.flags) AS f WHERE f.value IN (SELECT value FROM json_each(@forbidden))))
        AND (r.queue IS NULL OR (NOT EXISTS (
            SELECT 1 FROM errand_runs AS h INDEXED BY errand_runs_queue_held
            WHERE h.queue = r.queue AND h.attempt > 0 AND h.status IN ('scheduled', 'queued', 'running') AND h.id <> r.id)
          AND (r.attempt > 0 OR NOT EXISTS (
            SELECT 1 FROM errand_runs AS o INDEXED BY errand_runs_queue_order
            WHERE o.queue = r.queue AND o.status IN ('scheduled', 'queued') AND o.run_at <= @now
              AND (o.priority, o.run_at, o.id) < (r.priority, r.run_at, r.id)))))
        AND (r.concurrency_key IS NULL OR (
          SELECT count(*) FROM errand_runs AS h INDEXED BY errand_runs_concurrency_running
          WHERE h.concurrency_key = r.concurrency_key AND h.status = 'running') < r.concurrency_limit)
      ORDER BY r.priority, r.run_at, r.id
      LIMIT @limit
    ), ranked AS (
      SELECT id, concurrency_key, row_number() OVER w AS nth_in_key, min(concurrency_limit) OVER w AS key_limit
      FROM due
      WINDOW w AS (PARTITION BY concurrency_key ORDER BY priority, run_at, id ROWS UNBOUNDED PRECEDING)
    )
    SELECT id FROM ranked
    WHERE concurrency_key IS NULL OR nth_in_key + (
      SELECT count(*) FROM errand_runs AS h INDEXED BY errand_runs_concurrency_running
      WHERE h.concurrency_key = ranked.concurrency_key AND h.status = 'running') <= key_limit)
  RETURNING *`
