/**
 * Plans of the PostgreSQL statements a busy worker runs most, checked with EXPLAIN against
 * the trap that once made them quadratic: statistics taken while nothing was running make
 * the planner believe `status = 'running'` matches one row, and a heartbeat or completion
 * that filtered on it in its scan walked the status index (every stale entry of a run that
 * had once been running) inside a nested loop. They must find their runs by primary key.
 */
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Errand } from '../src/index.js'
import { finishArrays } from '../src/storage/postgres/params.js'
import { quoteIdent } from '../src/storage/postgres/schema-name.js'
import { PostgresStatements } from '../src/storage/postgres/statements.js'
import { postgresUrl, storeKinds, type TestStore } from './support/stores.js'

const url = postgresUrl()

describe.skipIf(!url)('postgres: plans of the hot statements', () => {
  const kind = storeKinds().find((candidate) => candidate.name === 'postgres')!
  let store: TestStore
  let errand: Errand
  let client: pg.Client

  beforeEach(async () => {
    store = await kind.create()
    errand = new Errand({ store: store.open() })
    client = new pg.Client({ connectionString: url as string })
    await client.connect()
  })

  afterEach(async () => {
    await client.end()
    await errand.close()
    await store.cleanup()
  })

  it('heartbeat and completion find runs by primary key, whatever the statistics say about running runs', async () => {
    const schema = (store.spec as { schema: string }).schema
    errand.task('noop', {}, async () => {})
    await errand.enqueueMany('noop', Array.from({ length: 3_000 }, (_, i) => i))
    await client.query(`ANALYZE ${quoteIdent(schema)}.runs`) // nothing running when the statistics are taken
    const now = new Date()
    const driver = store.open()
    const claimed = await driver.runClaim({ workerId: 'w', tasks: ['noop'], limit: 200, leaseMs: 60_000, now }).finally(() => driver.close())
    expect(claimed).toHaveLength(200)
    const sql = new PostgresStatements(quoteIdent(schema), false)
    const ids = claimed.map((run) => run.id)
    const attempts = claimed.map((run) => run.attempt)
    const results = claimed.map((run) => ({ id: run.id, attempt: run.attempt, workerId: 'w', outcome: 'completed' as const, outputJson: 'null' }))
    const plans = {
      heartbeat: await explain(sql.heartbeat, [now, now, ids, attempts]),
      finish: await explain(sql.finish, [...finishArrays(results, now), now]),
    }
    for (const [name, plan] of Object.entries(plans)) {
      expect(plan, name).toContain('runs_pkey')
      expect(plan, name).not.toContain('runs_status')
      expect(plan, name).not.toContain('Seq Scan on runs')
    }
  })

  async function explain(statement: string, params: unknown[]): Promise<string> {
    await client.query('BEGIN')
    try {
      const result = await client.query(`EXPLAIN ${statement}`, params)
      return result.rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n')
    } finally {
      await client.query('ROLLBACK')
    }
  }
})
