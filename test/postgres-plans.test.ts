/**
 * Plans of the PostgreSQL statements a busy worker runs most, checked with EXPLAIN against
 * the trap that once made them quadratic: statistics taken while nothing was running make
 * the planner believe `status = 'running'` matches one row, and a heartbeat or completion
 * that filtered on it in its scan walked the status index (every stale entry of a run that
 * had once been running) inside a nested loop. They must find their runs by primary key.
 * And the second trap: a join between the batch's input rows and the locked rows, planned
 * as a nested loop that rescanned the input once per locked row (a batch of 100 compared
 * 10,000 pairs, and the completion cost grew with the square of the batch). And a third:
 * input rows that carried the batch's whole arrays, so a sort of 550 of them spilled 22 MB.
 * Small batches must keep the generic plan rather than be planned on every execution.
 *
 * The runs lists and the change feed are checked too: running runs are not in their
 * indexes (migration 7), and every filter must still be served by an index.
 */
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { finishArrays } from '../src/storage/postgres/params.js'
import { PostgresInsights } from '../src/storage/postgres/insights.js'
import { runIdFloor } from '../src/storage/driver.js'
import { claimBody } from '../src/storage/postgres/claim.js'
import { listRuns } from '../src/storage/postgres/run-list.js'
import { PostgresStatements } from '../src/storage/postgres/statements.js'
import { expectWholeFeedInOrder, seedRunsForLists } from './support/list-fixture.js'
import { usePostgresErrand } from './support/postgres-errand.js'
import { postgresUrl } from './support/stores.js'

const url = postgresUrl()

describe.skipIf(!url)('postgres: plans of the hot statements', () => {
  const t = usePostgresErrand(url as string)

  it('claim, heartbeat and completion find runs by index, whatever the statistics say about running runs', async () => {
    t.errand.task('noop', {}, async () => {})
    await t.errand.enqueueMany('noop', Array.from({ length: 20_000 }, (_, i) => i))
    await t.client.query(`ANALYZE ${t.schema}.runs`) // nothing running when the statistics are taken
    // Keys of other runs (one per tenant, say): a completion gives back places by key, never by scanning them.
    await t.client.query(`INSERT INTO ${t.schema}.concurrency_keys (key) SELECT 'tenant-' || i FROM generate_series(1, 5000) AS i`)
    await t.client.query(`ANALYZE ${t.schema}.concurrency_keys`)
    const now = new Date()
    const driver = t.store.open()
    // A batch the size of a busy worker's (concurrency 50, prefetch 500).
    const batch = 550
    const claimed = await driver.runClaim({ workerId: 'w', tasks: ['noop'], limit: batch, leaseMs: 60_000, now }).finally(() => driver.close())
    expect(claimed).toHaveLength(batch)
    const sql = new PostgresStatements(t.schema, false)
    const ids = claimed.map((run) => run.id)
    const attempts = claimed.map((run) => run.attempt)
    const results = claimed.map((run) => ({ id: run.id, attempt: run.attempt, workerId: 'w', outcome: 'completed' as const, outputJson: 'null' }))
    const plans: Record<string, PlanNode> = {}
    for (const mode of ['custom', 'generic'] as const) {
      plans[`heartbeat, ${mode} plan`] = await explain(sql.heartbeat, [now, now, ids, attempts], mode)
      plans[`finish, ${mode} plan`] = await explain(sql.finish, [...finishArrays(results, now), now], mode)
    }
    // The next claim, of a batch as large, reads the due runs it takes and no more.
    for (const mode of ['custom', 'generic'] as const) {
      const claim = await explain(claimBody(t.schema), [now, ['noop'], batch, 'w2', now, [], null], mode)
      expect(claim['Actual Rows'], `claim, ${mode} plan`).toBe(batch)
      expect(nodes(claim).filter(isSeqScanOfRuns), `claim, ${mode} plan`).toEqual([])
      expect(maxRowsRead(claim), `claim, ${mode} plan`).toBe(batch)
    }
    for (const [name, plan] of Object.entries(plans)) {
      const text = JSON.stringify(plan)
      expect(text, name).toContain('runs_pkey')
      expect(text, name).not.toContain('runs_status')
      expect(text, name).not.toContain('"Seq Scan"')
      // Each input row carries its own values only: a sort of the batch stays in memory.
      expect(nodes(plan).filter((node) => node['Sort Space Type'] === 'Disk'), name).toEqual([])
      // Every run of the batch is written, and no node compared more pairs than the batch holds.
      expect(plan['Actual Rows'], name).toBe(batch)
      expect(rowsRemovedByJoins(plan), name).toBe(0)
      expect(maxRescans(plan), name).toBeLessThanOrEqual(batch)
    }
  })

  it('completions and heartbeats of small batches keep one generic plan instead of planning each one', async () => {
    // With an empty table every plan costs next to nothing and the generic one wins anyway.
    t.errand.task('noop', {}, async () => {})
    await t.errand.enqueueMany('noop', Array.from({ length: 2_000 }, (_, i) => i))
    await t.client.query(`ANALYZE ${t.schema}.runs`)
    const sql = new PostgresStatements(t.schema, false)
    const now = new Date()
    const statements = {
      finish: (i: number) => [...finishArrays([{ id: `r${i}`, attempt: 1, workerId: 'w', outcome: 'completed', outputJson: 'null' }], now), now],
      heartbeat: (i: number) => [now, now, [`r${i}`], [1]],
    }
    for (const [name, values] of Object.entries(statements)) {
      const text = sql[name as keyof typeof statements]
      for (let i = 0; i < 10; i++) await t.client.query({ name, text, values: values(i) })
      const { rows } = await t.client.query('SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1', [name])
      // PostgreSQL tries five custom plans before it compares them with the generic one.
      expect(rows[0], name).toEqual({ generic_plans: '5', custom_plans: '5' })
    }
  })

  it("the store's own connections run without JIT compilation", async () => {
    const driver = t.store.open()
    try {
      const pool = (driver as unknown as { pool: pg.Pool }).pool
      const client = await pool.connect()
      try {
        expect((await client.query('SHOW jit')).rows[0]).toEqual({ jit: 'off' })
      } finally {
        client.release()
      }
    } finally {
      await driver.close()
    }
  })

  it('runs lists and the change feed read indexes, running runs included', async () => {
    const s = t.schema
    await seedRunsForLists(t.errand, t.store, { plain: 6_000, inQueues: 500, claimed: 5_000 })
    await t.client.query(`ANALYZE ${s}.runs`)
    const filters = [
      {},
      { task: 'noop' },
      { status: ['completed' as const] },
      { status: ['running' as const] },
      { status: ['queued' as const, 'running' as const, 'completed' as const] },
      { task: 'noop', status: ['queued' as const] },
      { task: 'noop', status: ['running' as const] },
      { queue: 'q1' },
      { queue: 'q1', status: ['queued' as const] },
      { task: 'noop', createdFrom: new Date(Date.now() - 60_000) },
    ]
    for (const filter of filters) {
      let plan: PlanNode | undefined
      const page = await listRuns(
        async (text, values) => {
          const explained = await t.client.query(`EXPLAIN (FORMAT JSON) ${text}`, values)
          plan = (explained.rows[0] as { 'QUERY PLAN': Array<{ Plan: PlanNode }> })['QUERY PLAN'][0]!.Plan
          return (await t.client.query(text, values)).rows
        },
        s,
        { limit: 50, ...filter },
      )
      const label = JSON.stringify(filter)
      expect(nodes(plan!).filter(isSeqScanOfRuns), label).toEqual([])
      // Each range comes from its index in order, newest first: no Sort over the history
      // (5,900 completed runs here). Small sets, such as the running runs, may be sorted.
      const sorts = nodes(plan!).filter((node) => node['Node Type'] === 'Sort')
      expect(sorts.filter((sort) => sort['Plan Rows'] > 500), label).toEqual([])
      expect(page.runs.length, label).toBeGreaterThan(0)
    }
    // The change feed: from the start, every run comes, the running ones among them, in (updated_at, id) order.
    const insights = new PostgresInsights(s, async <T,>(text: string, values: unknown[]) => (await t.client.query(text, values)).rows as T[])
    const feed = await insights.listChanged({ after: { updatedAt: new Date(0), id: '' }, limit: 10_000 })
    expectWholeFeedInOrder(feed, 6_500)
    const feedPlan = await t.client.query(`EXPLAIN ${insights.changed}`, [new Date(0), '', 500])
    expect(feedPlan.rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n')).not.toMatch(/Seq Scan on runs/)
  })

  it("pruning, the activity chart, and a rare task's list and claim read what they return, not the history", async () => {
    const s = t.schema
    // The rare task, first: 600 finished runs, then 30 queued; 10,000 newer runs of another task.
    t.errand.task('rare', {}, async () => {})
    await t.errand.enqueueMany('rare', Array.from({ length: 600 }, (_, i) => i))
    const driver = t.store.open()
    try {
      const claimed = await driver.runClaim({ workerId: 'w', tasks: ['rare'], limit: 600, leaseMs: 60_000, now: new Date() })
      const results = claimed.map((run) => ({ id: run.id, attempt: run.attempt, workerId: 'w', outcome: 'completed' as const, outputJson: 'null' }))
      await driver.runFinishMany({ results, now: new Date() })
    } finally {
      await driver.close()
    }
    await t.errand.enqueueMany('rare', Array.from({ length: 30 }, (_, i) => i))
    await seedRunsForLists(t.errand, t.store, { plain: 10_000, inQueues: 0, claimed: 10_000 })
    await t.client.query(`ANALYZE ${s}.runs`)
    const hourAgo = new Date(Date.now() - 3_600_000)
    const later = new Date(Date.now() + 1_000)
    const plans: Record<string, PlanNode> = {}
    const capture = (name: string) => async (text: string, values: unknown[]) => ((plans[name] = await explainAnalyzed(text, values)), [])
    // Nothing finished an hour ago: the 9,900 finished runs are all newer than the cutoff's ids.
    await capture('prune')(new PostgresStatements(s, false).prune, [hourAgo, 500, runIdFloor(hourAgo)])
    // Nothing finished after `later` (one-millisecond buckets, so the window starts there).
    await new PostgresInsights(s, capture('activity')).activityOf({ since: later, bucketMs: 1 })
    const claimValues = [later, ['rare'], 10, 'w', later, [], null]
    await capture('claim of the rare task')(claimBody(s), claimValues)
    await listRuns(capture('list of the rare task'), s, { limit: 50, task: 'rare' })
    // Pruning runs as a prepared statement, which PostgreSQL may switch to a generic plan
    // (parameters unknown) after five executions, and claim_walk keeps the claim's generic
    // plan (its body is what is explained here): those plans must hold too.
    plans['prune, generic plan'] = await explain(new PostgresStatements(s, false).prune, [hourAgo, 500, runIdFloor(hourAgo)], 'generic')
    plans['claim of the rare task, generic plan'] = await explain(claimBody(s), claimValues, 'generic')
    // At most the rare task's 30 queued runs; a list, one page from each status (its own
    // 600 finished ones included) and the 100 running runs it reads apart (runs_lease).
    for (const [name, plan] of Object.entries(plans)) {
      expect(nodes(plan).filter(isSeqScanOfRuns), name).toEqual([])
      expect(nodes(plan).filter((node) => node['Node Type'] === 'Sort' && node['Plan Rows'] > 500), name).toEqual([])
      expect(maxRowsRead(plan), name).toBeLessThanOrEqual(name.startsWith('list') ? 100 : 30)
    }
    expect(plans['claim of the rare task']?.['Actual Rows']).toBe(10)
    expect(plans['claim of the rare task, generic plan']?.['Actual Rows']).toBe(10)
    expect(plans['list of the rare task']?.['Actual Rows']).toBe(51)
  })

  /** EXPLAIN ANALYZE of one statement with bound values, rolled back (a claim writes). */
  async function explainAnalyzed(text: string, values: unknown[]): Promise<PlanNode> {
    await t.client.query('BEGIN')
    try {
      const result = await t.client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values)
      return (result.rows[0] as { 'QUERY PLAN': Array<{ Plan: PlanNode }> })['QUERY PLAN'][0]!.Plan
    } finally {
      await t.client.query('ROLLBACK')
    }
  }

  /**
   * The plan as executed (EXPLAIN ANALYZE), rolled back so the runs stay as they were. The
   * driver prepares its statements, and PostgreSQL switches a prepared statement to a generic
   * plan (parameters unknown, so an unnest is guessed at 10 rows) after five executions:
   * both kinds of plan are checked.
   */
  async function explain(statement: string, params: unknown[], mode: 'custom' | 'generic'): Promise<PlanNode> {
    await t.client.query('BEGIN')
    try {
      await t.client.query(`SET LOCAL plan_cache_mode = force_${mode}_plan`)
      await t.client.query(`PREPARE hot AS ${statement}`)
      // EXECUTE takes its arguments as SQL text, not as bound parameters.
      const args = params.map((value) => literal(t.client, value)).join(', ')
      const result = await t.client.query(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE hot(${args})`)
      return (result.rows[0] as { 'QUERY PLAN': Array<{ Plan: PlanNode }> })['QUERY PLAN'][0]!.Plan
    } finally {
      await t.client.query('ROLLBACK')
      await t.client.query('DEALLOCATE ALL')
    }
  }
})

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  'Plan Rows': number
  'Actual Rows': number
  'Actual Loops': number
  'Rows Removed by Join Filter'?: number
  'Rows Removed by Filter'?: number
  'Sort Space Type'?: string
  Plans?: PlanNode[]
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)]
}

function rowsRemovedByJoins(plan: PlanNode): number {
  return nodes(plan).reduce((sum, node) => sum + (node['Rows Removed by Join Filter'] ?? 0), 0)
}

/** Rows a node produced over all its loops: a rescanned input shows up as batch x batch. */
function maxRescans(plan: PlanNode): number {
  return Math.max(...nodes(plan).map((node) => node['Actual Rows'] * node['Actual Loops']))
}

/** The most rows any one scan of runs looked at (returned or filtered out), over all its loops. */
function maxRowsRead(plan: PlanNode): number {
  const scans = nodes(plan).filter((node) => node['Relation Name'] === 'runs')
  return Math.max(0, ...scans.map((node) => (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops']))
}

function isSeqScanOfRuns(node: PlanNode): boolean {
  return node['Node Type'] === 'Seq Scan' && node['Relation Name'] === 'runs'
}

function literal(client: pg.Client, value: unknown): string {
  if (value === null || value === undefined) return 'NULL'
  if (Array.isArray(value)) return client.escapeLiteral(`{${value.map(arrayElement).join(',')}}`)
  return client.escapeLiteral(value instanceof Date ? value.toISOString() : String(value))
}

function arrayElement(value: unknown): string {
  if (value === null || value === undefined) return 'NULL'
  const text = value instanceof Date ? value.toISOString() : String(value)
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}
