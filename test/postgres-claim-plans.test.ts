/**
 * The claim's two functions (migration 9): `claim_walk` with one generic plan and
 * `claim_planned` planned per call. Both must take the same runs, and the driver must call
 * the walking one only where a walk is short: not for tasks rare among the due runs.
 */
import { describe, expect, it } from 'vitest'
import { ClaimPlans } from '../src/storage/postgres/claim-plans.js'
import { PostgresInsights } from '../src/storage/postgres/insights.js'
import { usePostgresErrand } from './support/postgres-errand.js'
import { postgresUrl } from './support/stores.js'

const url = postgresUrl()

describe.skipIf(!url)('postgres: the claim functions', () => {
  const t = usePostgresErrand(url as string)

  const insights = () => new PostgresInsights(t.schema, async (text, values) => (await t.client.query(text, values)).rows)
  const noop = async () => {}

  it('walk unless the claim\'s tasks are few among the due runs, and plan for a worker of some queues', async () => {
    t.errand.task('common', {}, noop)
    t.errand.task('rare', {}, noop)
    t.errand.task('other', {}, noop)
    await t.errand.enqueueMany('common', Array.from({ length: 1_000 }, (_, i) => i))
    await t.errand.enqueue('rare', 1)
    let clock = 0
    const plans = new ClaimPlans((tasks) => insights().dueRunCounts(tasks), () => clock)
    // A short backlog of other tasks is walked past whatever the claim's own.
    expect(await plans.walks(['rare'], null)).toBe(true)
    expect(await plans.walks(['common'], ['q'])).toBe(false)

    await t.errand.enqueueMany('common', Array.from({ length: 5_000 }, (_, i) => i))
    const fresh = new ClaimPlans((tasks) => insights().dueRunCounts(tasks), () => clock)
    expect(await insights().dueRunCounts(['rare'])).toEqual({ own: 1, others: 6_000 })
    expect(await fresh.walks(['rare'], null)).toBe(false)
    expect(await fresh.walks(['common'], null)).toBe(true)
    expect(await fresh.walks(['rare', 'common'], null)).toBe(true)
    // 'other' has no due runs: 6,001 of others is more than it may walk past.
    expect(await fresh.walks(['other'], null)).toBe(false)

    // The first choice stands until it is FRESH_MS old, then is read again in the background.
    expect(await plans.walks(['rare'], null)).toBe(true)
    clock += 10_000
    expect(await plans.walks(['rare'], null)).toBe(true)
    for (let i = 0; i < 100 && (await plans.walks(['rare'], null)); i++) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(await plans.walks(['rare'], null)).toBe(false)
  })

  it('both functions take the same runs: queue heads, keys up to their limit, flags and tasks as asked', async () => {
    t.errand.task('a', {}, noop)
    t.errand.task('b', {}, noop)
    const now = Date.now()
    const at = (ms: number) => ({ runAt: new Date(now - 60_000 + ms) })
    for (let i = 0; i < 4; i++) await t.errand.enqueue('a', i, { queue: 'serial', ...at(i) })
    for (let i = 0; i < 4; i++) await t.errand.enqueue('a', i, { concurrencyKey: 'k', concurrencyLimit: 2, ...at(10 + i) })
    await t.errand.enqueue('a', 0, { flags: ['gpu'], ...at(20) })
    await t.errand.enqueue('b', 0, at(21))
    for (let i = 0; i < 3; i++) await t.errand.enqueue('a', i, { priority: -1, ...at(30 + i) })
    const claimWith = async (fn: string, limit: number) => {
      await t.client.query('BEGIN')
      try {
        const { rows } = await t.client.query(`SELECT id, payload FROM ${t.schema}.${fn}($1, $2, $3, $4, $5, $6, $7) ORDER BY priority, run_at, id`, [
          new Date(), ['a'], limit, 'w', new Date(Date.now() + 60_000), ['gpu'], null,
        ])
        return rows.map((row: { id: string }) => row.id)
      } finally {
        await t.client.query('ROLLBACK')
      }
    }
    for (const limit of [2, 5, 50]) {
      const walked = await claimWith('claim_walk', limit)
      expect(await claimWith('claim_planned', limit)).toEqual(walked)
      // 3 of priority -1 first, then the queue's head, then 2 of the key: the flagged run and task b are left.
      expect(walked).toHaveLength(Math.min(limit, 6))
    }
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
