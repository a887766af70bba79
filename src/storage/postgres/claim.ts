import { runColumns } from './rows.js'

const FINAL = `('completed', 'cancelled', 'dead_lettered')`

/**
 * The claim, one statement. `c` locks due runs (SKIP LOCKED: concurrent claimers take
 * disjoint rows without waiting), and with each run that has a serial queue or a
 * concurrency key it locks that queue's or key's row, again skipping rows another claimer
 * holds. The row locks are what make the checks exact across claimers: a locked row is
 * re-read at its newest version (READ COMMITTED re-checks a locked row's conditions), and
 * the claim writes it before it commits, so the next claimer sees the new holder. Nothing
 * here ever waits for a lock, so claims cannot deadlock.
 *
 * - A queue row names its holder: the run that took it, until that run is final (a retry
 *   wait keeps it, so later runs cannot overtake). Final is read off the holder run: final
 *   only ever stays final, so seeing it in an older snapshot proves it now. A free queue
 *   gives only its first due run in (priority, run_at, id) order, whatever this worker's
 *   tasks and flags: a head skipped because another transaction holds its row (a cancel,
 *   a promotion) makes the queue wait, never lets the next run overtake. `heads` keeps one
 *   run per queue, which the head rule already ensures; it guards the invariant cheaply.
 * - A key row lists its holders. Every attempt that ends removes itself from the list (see
 *   releaseHolders), so a key at its limit is told by the list's length: a run waiting
 *   under a full key costs a key lookup, not a check of each holder. `slots` admits the
 *   key's runs in order up to the smallest limit among them, counting only the holders
 *   `concurrency_live` (migration 4) says still count; an entry left behind by another path
 *   makes the key look full until then, or until maintenance drops it, never over its limit.
 *
 * Runs with neither pay for two `IS NULL` tests and a DISTINCT over at most `limit` rows.
 * `$1` is now, `$2` the worker's tasks, `$3` the most runs to take, `$4` the worker, `$5`
 * the lease's end, `$6` the worker's forbidden flags (`?|`: any of them present), `$7` the
 * serial queues it takes runs of, or null for any run. It is the body of the claim
 * functions (claimFunctions) and returns whole rows.
 *
 * Planner traps, both seen: the final UPDATE matches ids through an array (a join on the
 * CTE was planned as a hash join over a sequential scan of every run: 13 ms instead of
 * under 1 on 10,000 rows), and a holder's status is read by a scalar subquery (an EXISTS
 * there became a hashed subplan over every final run).
 *
 * Installed by migration 9, and never changed since: a released migration's text stays as
 * it was. A change to the claim is a new version of this function, installed by a new
 * migration (claimFunctions), and `claimBody` then names it.
 */
function claimBodyV9(s: string): string {
  return `
    WITH c AS (
      SELECT r.id, r.queue, r.concurrency_key, r.concurrency_limit, r.attempt, r.priority, r.run_at FROM ${s}.runs r
      WHERE r.status IN ('scheduled', 'queued') AND r.run_at <= $1 AND r.task = ANY($2::text[])
        AND (cardinality($6::text[]) = 0 OR NOT r.flags ?| $6::text[])
        AND ($7::text[] IS NULL OR r.queue = ANY($7::text[]))
        AND (r.queue IS NULL OR EXISTS (
          SELECT 1 FROM ${s}.queues q
          WHERE q.name = r.queue AND (q.holder = r.id OR (
            (q.holder IS NULL OR (SELECT h.status FROM ${s}.runs h WHERE h.id = q.holder) IN ${FINAL})
            AND NOT EXISTS (
              SELECT 1 FROM ${s}.runs o WHERE o.queue = r.queue AND o.status IN ('scheduled', 'queued') AND o.run_at <= $1
                AND (o.priority, o.run_at, o.id) < (r.priority, r.run_at, r.id))))
          FOR UPDATE SKIP LOCKED))
        AND (r.concurrency_key IS NULL OR EXISTS (
          SELECT 1 FROM ${s}.concurrency_keys k
          WHERE k.key = r.concurrency_key AND cardinality(k.holder_ids) < r.concurrency_limit
          FOR UPDATE SKIP LOCKED))
      ORDER BY r.priority, r.run_at, r.id
      LIMIT $3
      FOR UPDATE OF r SKIP LOCKED
    ), heads AS (
      SELECT DISTINCT ON (coalesce(c.queue, c.id)) c.* FROM c ORDER BY coalesce(c.queue, c.id), c.priority, c.run_at, c.id
    ), slots AS (
      UPDATE ${s}.concurrency_keys k SET (holder_ids, holder_attempts) = (
        SELECT l.live_ids || a.ids[1:a.lim - cardinality(l.live_ids)], l.live_attempts || a.attempts[1:a.lim - cardinality(l.live_ids)]
        FROM ${s}.concurrency_live(k.holder_ids, k.holder_attempts) l)
      FROM (
        SELECT concurrency_key AS key, array_agg(id ORDER BY priority, run_at, id) AS ids,
          array_agg(attempt + 1 ORDER BY priority, run_at, id) AS attempts, min(concurrency_limit) AS lim
        FROM heads WHERE concurrency_key IS NOT NULL GROUP BY concurrency_key
      ) a
      WHERE k.key = a.key
      RETURNING k.key, k.holder_ids
    ), picked AS (
      SELECT h.id, h.queue FROM heads h
      WHERE h.concurrency_key IS NULL OR EXISTS (SELECT 1 FROM slots WHERE slots.key = h.concurrency_key AND h.id = ANY(slots.holder_ids))
    ), held AS (
      UPDATE ${s}.queues q SET holder = p.id, held_since = $1 FROM picked p WHERE q.name = p.queue
    )
    UPDATE ${s}.runs r
    SET status = 'running', attempt = r.attempt + 1, locked_by = $4, locked_at = $1,
        lease_expires_at = $5, started_at = coalesce(r.started_at, $1), updated_at = $1
    WHERE r.id = ANY(ARRAY(SELECT id FROM picked))
    RETURNING r.*`
}

/** The body of the claim functions as the newest migration installs them. */
export const claimBody = claimBodyV9

/** Migration 9's text: the claim functions with claimBodyV9, in the store's schema `s`. Frozen, as claimBodyV9 is. */
export const installClaimV9 = (s: string) => claimFunctions(s, claimBodyV9(s))

/** The claim's parameters, in order: the claim functions take them as $1 to $7. */
const PARAMETERS = 'timestamptz, text[], int4, text, timestamptz, text[], text[]'

/**
 * The claim as two functions with one body: the same statement, two ways of planning it.
 *
 * - `claim_walk` keeps one generic plan per connection. It walks `runs_due` in claim order
 *   and stops at LIMIT, whatever the parameters, and pays no planning: about 1 ms of a
 *   small claim's 2 (measured on 10-run claims).
 * - `claim_planned` plans each call with its values, as a statement prepared by the
 *   driver would (PostgreSQL keeps custom plans for the claim: a generic plan's LIMIT is
 *   unknown, so its estimated cost never wins). That plan may read a rare task's own index
 *   instead of walking past the other tasks' backlog, which the generic plan would do at
 *   0.4 to 0.8 µs per run passed.
 *
 * The driver chooses per claim (see ClaimPlans). Functions, because the plan mode is a
 * setting of the session and the driver's connections are shared by every statement: a
 * function's own SET applies to its statements only. Each also turns JIT off for the
 * claim, on any connection (a pool of the caller's too): a generic plan's estimates put
 * even a claim of 10 runs above `jit_above_cost`, and compiling it took 145 ms (measured).
 * PostgreSQL 12 or later (`plan_cache_mode`).
 */
function claimFunctions(s: string, body: string): string {
  const define = (name: string, mode: string) => `
    CREATE OR REPLACE FUNCTION ${s}.${name}(${PARAMETERS}) RETURNS SETOF ${s}.runs
    LANGUAGE plpgsql SET plan_cache_mode = ${mode} SET jit = off AS $claim$
    BEGIN
      RETURN QUERY ${body};
    END
    $claim$;`
  return define('claim_walk', 'force_generic_plan') + define('claim_planned', 'force_custom_plan')
}

/** The call of one claim function, selecting the rows in the shape runFromRow reads. */
export function claimCall(s: string, name: 'claim_walk' | 'claim_planned'): string {
  return `SELECT ${runColumns('r')} FROM ${s}.${name}($1, $2, $3, $4, $5, $6, $7) r`
}
