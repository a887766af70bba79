/**
 * The claim's two functions (migration 9): `claim_walk` with one generic plan and
 * `claim_planned` planned per call. Both must take the same runs, and the driver must call
 * the walking one only where a walk is short: not for tasks rare among the queued runs.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ClaimPlans, type QueuedRunCounts } from '../src/storage/postgres/claim-plans.js'
import { claimBody, installClaimV9 } from '../src/storage/postgres/claim.js'
import { PostgresInsights } from '../src/storage/postgres/insights.js'
import { waitUntil } from './support/errand.js'
import { usePostgresErrand } from './support/postgres-errand.js'
import { postgresUrl } from './support/stores.js'

const url = postgresUrl()

describe('choosing the claim function', () => {
  /** ClaimPlans over counts the test hands out, one read at a time. */
  function plansWith() {
    const reads: Array<{ tasks: string[]; answer: (counts: QueuedRunCounts) => void; fail: (error: Error) => void }> = []
    const errors: unknown[] = []
    let clock = 0
    const plans = new ClaimPlans(
      (tasks) => new Promise((resolve, reject) => reads.push({ tasks, answer: resolve, fail: reject })),
      (error) => errors.push(error),
      () => clock,
    )
    const settle = () => new Promise((resolve) => setImmediate(resolve))
    return { plans, reads, errors, settle, tick: (ms: number) => (clock += ms) }
  }

  it('plans until the counts are known, then walks unless other tasks have many more queued runs', async () => {
    const { plans, reads, settle } = plansWith()
    expect(plans.walks(['a'], null)).toBe(false)
    expect(plans.walks(['a'], null)).toBe(false)
    expect(reads).toHaveLength(1) // one read in flight per set of tasks, never one per claim
    reads[0]!.answer({ own: 10, others: 1_999 })
    await settle()
    expect(plans.walks(['a'], null)).toBe(true)

    plans.walks(['b'], null)
    reads[1]!.answer({ own: 1_000, others: 3_001 })
    await settle()
    expect(plans.walks(['b'], null)).toBe(false)
    plans.walks(['c'], null)
    reads[2]!.answer({ own: 1_000, others: 3_000 })
    await settle()
    expect(plans.walks(['c'], null)).toBe(true)
    // A worker of some serial queues plans, whatever the counts.
    expect(plans.walks(['a'], ['q'])).toBe(false)
    expect(reads).toHaveLength(3)
  })

  it('reads the counts again when the choice is old, and keeps the last choice when a read fails', async () => {
    const { plans, reads, errors, settle, tick } = plansWith()
    plans.walks(['a'], null)
    reads[0]!.answer({ own: 0, others: 0 })
    await settle()
    tick(9_999)
    expect(plans.walks(['a'], null)).toBe(true)
    expect(reads).toHaveLength(1)
    tick(1)
    expect(plans.walks(['a'], null)).toBe(true) // the old choice while the new read runs
    expect(reads).toHaveLength(2)
    reads[1]!.fail(new Error('connection lost'))
    await settle()
    expect(errors).toEqual([new Error('connection lost')])
    expect(plans.walks(['a'], null)).toBe(true)
    // No read again before the wait is over: a failing database is not asked at every claim.
    tick(9_999)
    plans.walks(['a'], null)
    expect(reads).toHaveLength(2)
    tick(1)
    plans.walks(['a'], null)
    reads[2]!.answer({ own: 0, others: 50_000 })
    await settle()
    expect(plans.walks(['a'], null)).toBe(false)
  })
})

describe.skipIf(!url)('postgres: the claim functions', () => {
  const t = usePostgresErrand(url as string)

  const insights = () => new PostgresInsights(t.schema, async (text, values) => (await t.client.query(text, values)).rows)
  const noop = async () => {}

  it('counts queued runs of the claim\'s tasks and of the others, not scheduled ones', async () => {
    t.errand.task('common', {}, noop)
    t.errand.task('rare', {}, noop)
    await t.errand.enqueueMany('common', Array.from({ length: 3_000 }, (_, i) => i))
    await t.errand.enqueue('rare', 1)
    // Waiting for a later time: after the due runs in claim order, so never part of a walk.
    const later = (i: number) => ({ payload: i, options: { delay: '1h' } })
    await t.errand.enqueueMany('rare', Array.from({ length: 500 }, (_, i) => later(i)))
    await t.errand.enqueueMany('common', Array.from({ length: 500 }, (_, i) => later(i)))
    expect(await insights().queuedRunCounts(['rare'])).toEqual({ own: 1, others: 3_000 })
    expect(await insights().queuedRunCounts(['rare', 'common'])).toEqual({ own: 3_001, others: 0 })
    expect(await insights().queuedRunCounts(['other'])).toEqual({ own: 0, others: 3_001 })
    // And the driver's choice follows them: the rare task plans, the common one walks.
    const plans = new ClaimPlans((tasks) => insights().queuedRunCounts(tasks), (error) => expect.fail(String(error)))
    plans.walks(['rare'], null)
    plans.walks(['common'], null)
    await waitUntil(() => plans.walks(['common'], null), 5_000, 'the counts')
    expect(plans.walks(['rare'], null)).toBe(false)
  })

  it('both functions take the same runs: queue heads, keys up to their limit, flags, tasks and queues as asked', async () => {
    t.errand.task('a', {}, noop)
    t.errand.task('b', {}, noop)
    const now = Date.now()
    const at = (ms: number) => ({ runAt: new Date(now - 60_000 + ms) })
    const ids = async (handles: Promise<{ id: string }>[]) => (await Promise.all(handles)).map((handle) => handle.id)
    const serial = await ids([0, 1, 2, 3].map((i) => t.errand.enqueue('a', i, { queue: 'serial', ...at(i) })))
    const keyed = await ids([0, 1, 2, 3].map((i) => t.errand.enqueue('a', i, { concurrencyKey: 'k', concurrencyLimit: 2, ...at(10 + i) })))
    await t.errand.enqueue('a', 0, { flags: ['gpu'], ...at(20) })
    await t.errand.enqueue('b', 0, at(21))
    const urgent = await ids([0, 1, 2].map((i) => t.errand.enqueue('a', i, { priority: -1, ...at(30 + i) })))
    const claimWith = async (fn: string, limit: number, queues: string[] | null = null) => {
      await t.client.query('BEGIN')
      try {
        const { rows } = await t.client.query(`SELECT id FROM ${t.schema}.${fn}($1, $2, $3, $4, $5, $6, $7) ORDER BY priority, run_at, id`, [
          new Date(), ['a'], limit, 'w', new Date(Date.now() + 60_000), ['gpu'], queues,
        ])
        return rows.map((row: { id: string }) => row.id)
      } finally {
        await t.client.query('ROLLBACK')
      }
    }
    // Priority -1 first, then the queue's head, then the key's first two: never the flagged run nor task b.
    const expected = [...urgent, serial[0], keyed[0], keyed[1]]
    for (const limit of [2, 5, 50]) {
      expect(await claimWith('claim_walk', limit)).toEqual(expected.slice(0, limit))
      expect(await claimWith('claim_planned', limit)).toEqual(expected.slice(0, limit))
    }
    for (const fn of ['claim_walk', 'claim_planned']) expect(await claimWith(fn, 50, ['serial'])).toEqual([serial[0]])
  })

  it('installs the current claim with each function\'s plan mode and JIT off; migration 9 stays as released', async () => {
    const { rows } = await t.client.query(
      `SELECT p.proname, p.prosrc, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = $1 AND p.proname IN ('claim_walk', 'claim_planned') ORDER BY p.proname`,
      [(t.store.spec as { schema: string }).schema],
    )
    expect(rows.map((row: { proname: string; proconfig: string[] }) => [row.proname, row.proconfig])).toEqual([
      ['claim_planned', ['plan_cache_mode=force_custom_plan', 'jit=off']],
      ['claim_walk', ['plan_cache_mode=force_generic_plan', 'jit=off']],
    ])
    // A change to the claim without a migration that installs it would leave upgraded databases on the old one.
    for (const row of rows as Array<{ prosrc: string }>) expect(row.prosrc).toContain(claimBody(t.schema))
    // Databases migrated to version 9 have exactly this text: a change to it goes in a new migration.
    expect(createHash('sha256').update(installClaimV9('"errand"')).digest('hex').slice(0, 16)).toBe(INSTALL_CLAIM_V9_SHA256)
  })

  it('migration 9 folds the counters\' deltas left by earlier versions', async () => {
    t.errand.task('noop', {}, noop)
    await t.errand.enqueueMany('noop', Array.from({ length: 40 }, (_, i) => i))
    const s = t.schema
    // As an earlier version left it: migration 9 not applied, deltas not folded.
    await t.client.query(`DELETE FROM ${s}.migrations WHERE version = 9`)
    await t.client.query(`DROP FUNCTION ${s}.claim_walk, ${s}.claim_planned`)
    await t.client.query(`INSERT INTO ${s}.run_count_deltas (task, queue, status, n) VALUES ('noop', '', 'queued', -5), ('noop', '', 'completed', 5)`)
    const counts = async () =>
      (await t.client.query(`SELECT status, n::int FROM ${s}.run_counts WHERE task = 'noop' AND n <> 0 ORDER BY status`)).rows
    const again = t.store.open()
    try {
      await again.migrate()
    } finally {
      await again.close()
    }
    expect((await t.client.query(`SELECT count(*)::int AS n FROM ${s}.run_count_deltas`)).rows[0].n).toBe(0)
    expect(await counts()).toEqual([
      { status: 'completed', n: 5 },
      { status: 'queued', n: 35 },
    ])
  })

  it('maintenance folds the counters\' deltas, which nothing else would with no reader', async () => {
    t.errand.task('noop', {}, noop)
    await t.errand.enqueueMany('noop', Array.from({ length: 300 }, (_, i) => i))
    const worker = t.errand.worker({ concurrency: 5, maintenanceInterval: '100ms' })
    await worker.start()
    const deltas = async () => Number((await t.client.query(`SELECT count(*) AS n FROM ${t.schema}.run_count_deltas`)).rows[0].n)
    const completed = async () => Number((await t.client.query(`SELECT count(*) AS n FROM ${t.schema}.runs WHERE status = 'completed'`)).rows[0].n)
    for (let i = 0; i < 300 && (await completed()) < 300; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(await completed()).toBe(300)
    // Every claim and finish added deltas; a maintenance pass after the last one folds them.
    for (let i = 0; i < 100 && (await deltas()) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    await worker.stop()
    expect(await deltas()).toBe(0)
    const counts = await t.errand.runs.counts()
    expect(counts.total).toBe(300)
    expect(counts.byStatus).toMatchObject({ completed: 300, queued: 0, running: 0 })
  })
})

/** The first 16 hex digits of the SHA-256 of migration 9's claim functions, as released. */
const INSTALL_CLAIM_V9_SHA256 = '3d80c9c70af94c08'
