/**
 * The rows of serial queues and concurrency keys (tables `queues` and `concurrency_keys`):
 * made by the enqueue that first names a group, locked by the claim, and dropped by upkeep
 * once nothing waits in the group and nothing runs in it.
 *
 * Dropping a row races an enqueue. The enqueue's `INSERT ... ON CONFLICT DO NOTHING` takes
 * no lock on a row that exists (so enqueues never wait on claims, nor claims on enqueues),
 * and its new run is invisible until it commits: a drop in between would see an idle group,
 * delete its row, and leave the run with no row to lock, never claimed. So the two meet on
 * advisory locks instead of the row:
 *
 * - Every enqueue naming groups first takes a shared lock on each group's bucket (one of
 *   GROUP_BUCKETS, from a hash of its name), held until it commits. Shared locks never wait
 *   on each other, and claims take none.
 * - The drop goes bucket by bucket, one transaction each: it tries the bucket's exclusive
 *   lock, never waiting (a bucket in use is left for the next time), and then, in a later
 *   statement (a newer snapshot), deletes the bucket's idle rows. An enqueue that held the
 *   bucket has committed by then, so its runs are seen; one that comes later waits for the
 *   drop to commit, and then finds no row and makes it again
 *   (`ON CONFLICT` looks at the newest rows, not at the statement's snapshot).
 *
 * Processes of earlier versions take no bucket locks, so a run one of them enqueues just as
 * a drop deletes its group's row could be left without the row. Every drop therefore notes
 * the names it deleted, and the next turn makes the row again for any of them that a run
 * waits in: such a run is delayed until then, never stranded.
 *
 * Buckets rather than one lock per name: an enqueue of 1,000 keys takes at most
 * GROUP_BUCKETS locks, where one per key could fill the server's shared lock table.
 */

/** How many advisory locks split the group names. */
export const GROUP_BUCKETS = 32

/**
 * How often idle group rows are dropped, among all processes of a store. A drop reads every
 * group row and probes an index for each one that is not idle (0.7 s of the server's time
 * with 100,000 busy keys and 100,000 busy queues, measured), so it runs rarely; an idle row
 * costs only its space meanwhile.
 */
export const GROUP_DROP_EVERY_MS = 10 * 60_000

/** How long after a drop its groups are checked for a run left without its row (by the next turn, normally). */
export const GROUP_REPAIR_AFTER_MS = 60_000

/** The most rows of each table one bucket's drop deletes: its transaction, which holds the bucket, stays short. */
export const GROUP_DROP_LIMIT = 2_000

/**
 * The first key of the two-key advisory locks of schema `s` (the quoted name), from a hash
 * of it: stores sharing a database lock apart. A clash with another user of advisory locks
 * costs a wait, never a wrong result.
 */
export function groupLockClass(s: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < s.length; i++) hash = Math.imul(hash ^ s.charCodeAt(i), 0x01000193)
  return hash | 0
}

/**
 * The bucket of group name `name` (an SQL expression). Migration 10 indexes this very
 * expression, with 31, and its function holds it: a change of GROUP_BUCKETS needs new
 * indexes and a new function (a test pins migration 10's text).
 */
export const bucketOf = (name: string) => `(hashtext(${name}) & ${GROUP_BUCKETS - 1})`

/**
 * CTEs of an insert statement reading `input`: the bucket locks of the batch's groups,
 * then the rows of its serial queues and concurrency keys. The count() subquery makes
 * each insert take the locks before its first row. Rows and buckets go in sorted order, so
 * two batches wait for the same new row in one order (no deadlock); a row that exists
 * takes no lock (DO NOTHING).
 */
export function groupRows(s: string): string {
  const locked = '(SELECT count(*) FROM group_locks) >= 0'
  return `, group_locks AS (
      SELECT pg_advisory_xact_lock_shared(${groupLockClass(s)}, b.bucket) FROM (
        SELECT DISTINCT ${bucketOf('g.name')} AS bucket
        FROM input CROSS JOIN LATERAL (VALUES (input.queue), (input.concurrency_key)) AS g(name)
        WHERE g.name IS NOT NULL ORDER BY 1
      ) b
    ), queue_rows AS (
      INSERT INTO ${s}.queues (name) SELECT DISTINCT queue FROM input WHERE queue IS NOT NULL AND ${locked} ORDER BY 1
      ON CONFLICT DO NOTHING
    ), key_rows AS (
      INSERT INTO ${s}.concurrency_keys (key) SELECT DISTINCT concurrency_key FROM input WHERE concurrency_key IS NOT NULL AND ${locked} ORDER BY 1
      ON CONFLICT DO NOTHING
    )`
}

/**
 * True when no run waits in group `name` of `column`: a probe of that group's index for
 * each candidate. A scalar subquery, which the planner cannot turn into a join: as NOT
 * EXISTS it became a merge anti-join that read every waiting run of every group. Also
 * part of migration 10's function, whose text a test pins: changing it for the repair
 * means a new function version for the drop.
 */
function nothingWaits(s: string, column: 'queue' | 'concurrency_key', name: string): string {
  return `(SELECT true FROM ${s}.runs o WHERE o.${column} = ${name} AND o.status IN ('scheduled', 'queued') LIMIT 1) IS NULL`
}

/**
 * The drop of one bucket's idle rows, frozen as migration 10 installs it (a change is a new
 * version and a new migration, as for the claim). `$1` is the bucket, `$2` the most rows of
 * each table.
 *
 * Idle: no run waits in the group (scheduled or queued: the partial indexes of
 * migrations 4 and 10) and none runs in it (read off the few running runs, once). A
 * queue's holder must be final too (or pruned): a running holder may be retried. Rows
 * another transaction has locked (a claim, a completion) are skipped, never waited on.
 * A bucket's rows are found through the expression indexes of migration 10, and the
 * rows to delete by their primary key (an array, not a join: a join was planned as a
 * scan of the whole table).
 */
export function dropIdleV10(s: string): string {
  return `
      WITH running AS MATERIALIZED (
        SELECT queue, concurrency_key FROM ${s}.runs WHERE status = 'running' AND (queue IS NOT NULL OR concurrency_key IS NOT NULL)
      ), queues_gone AS (
        DELETE FROM ${s}.queues q WHERE q.name = ANY(ARRAY(
          SELECT c.name FROM ${s}.queues c
          WHERE ${bucketOf('c.name')} = $1::int4
            AND (c.holder IS NULL OR coalesce((SELECT h.status FROM ${s}.runs h WHERE h.id = c.holder), 'completed')
              IN ('completed', 'cancelled', 'dead_lettered'))
            AND ${nothingWaits(s, 'queue', 'c.name')}
            AND NOT EXISTS (SELECT 1 FROM running WHERE running.queue = c.name)
          LIMIT $2 FOR UPDATE SKIP LOCKED))
        RETURNING q.name
      ), keys_gone AS (
        DELETE FROM ${s}.concurrency_keys k WHERE k.key = ANY(ARRAY(
          SELECT c.key FROM ${s}.concurrency_keys c
          WHERE ${bucketOf('c.key')} = $1::int4 AND cardinality(c.holder_ids) = 0
            AND ${nothingWaits(s, 'concurrency_key', 'c.key')}
            AND NOT EXISTS (SELECT 1 FROM running WHERE running.concurrency_key = c.key)
          LIMIT $2 FOR UPDATE SKIP LOCKED))
        RETURNING k.key
      ), noted AS (
        INSERT INTO ${s}.dropped_groups (kind, name, dropped_at)
        SELECT 'queue', name, now() FROM queues_gone UNION ALL SELECT 'key', key, now() FROM keys_gone
        ON CONFLICT (kind, name) DO UPDATE SET dropped_at = EXCLUDED.dropped_at
      )
      SELECT (SELECT count(*) FROM queues_gone)::int4 AS queues, (SELECT count(*) FROM keys_gone)::int4 AS keys`
}

/**
 * Migration 10's function: one bucket's drop, `drop_idle_groups(bucket, max_rows)`. It tries
 * the bucket's lock, never waiting, and deletes in a later statement, which in READ
 * COMMITTED reads a newer snapshot (the function is volatile): enqueues that held the
 * bucket have committed by then. In the server, in one call: a process that stalls cannot
 * hold a bucket, and the enqueues waiting on it, between round trips.
 */
export function installDropIdleGroupsV10(s: string): string {
  return `
    CREATE FUNCTION ${s}.drop_idle_groups(bucket int4, max_rows int4)
    RETURNS TABLE (dropped_queues int4, dropped_keys int4) LANGUAGE plpgsql AS $drop$
    BEGIN
      IF NOT pg_try_advisory_xact_lock(${groupLockClass(s)}, bucket) THEN
        RETURN QUERY SELECT 0, 0;
        RETURN;
      END IF;
      RETURN QUERY ${dropIdleV10(s)};
    END
    $drop$;`
}

/** The statements of upkeep's drop of idle group rows, for schema `s`; see the module's comment. */
export class GroupDropStatements {
  /** Takes the drop's turn if its last one began at least `$1` ms ago (server clock): whether it did. */
  readonly takeTurn: string
  /** Makes the row again of every group dropped over `$1` ms ago that a run waits in; returns how many. */
  readonly repairDropped: string

  constructor(private readonly s: string) {
    this.takeTurn = `
      UPDATE ${s}.upkeep SET last_run_at = now() WHERE job = 'drop idle groups' AND last_run_at <= now() - $1 * interval '1 millisecond'
      RETURNING 1 AS taken`
    // A dropped group with a run waiting in it but no row: left by an enqueue that took no
    // bucket lock (a process of an earlier version). Its row is made again; any enqueue
    // that raced a drop has long committed by the next turn.
    this.repairDropped = `
      WITH checked AS (
        DELETE FROM ${s}.dropped_groups WHERE dropped_at < now() - $1 * interval '1 millisecond' RETURNING kind, name
      ), queues_made AS (
        INSERT INTO ${s}.queues (name)
        SELECT name FROM checked WHERE kind = 'queue' AND NOT ${nothingWaits(s, 'queue', 'checked.name')} ORDER BY 1
        ON CONFLICT DO NOTHING RETURNING 1
      ), keys_made AS (
        INSERT INTO ${s}.concurrency_keys (key)
        SELECT name FROM checked WHERE kind = 'key' AND NOT ${nothingWaits(s, 'concurrency_key', 'checked.name')} ORDER BY 1
        ON CONFLICT DO NOTHING RETURNING 1
      )
      SELECT ((SELECT count(*) FROM queues_made) + (SELECT count(*) FROM keys_made))::int4 AS made`
  }

  /**
   * One bucket's drop as one simple query: its own transaction, in READ COMMITTED whatever
   * the session's default (at REPEATABLE READ the delete would read the snapshot taken
   * before the lock). Values are whole numbers of ours, written inline: a simple query
   * takes no parameters, and an error in it rolls the whole of it back.
   */
  dropBucket(bucket: number, maxRows: number): string {
    if (!Number.isInteger(bucket) || !Number.isInteger(maxRows)) throw new TypeError('bucket and maxRows must be whole numbers')
    return `SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
      SELECT dropped_queues, dropped_keys FROM ${this.s}.drop_idle_groups(${bucket}, ${maxRows})`
  }
}
