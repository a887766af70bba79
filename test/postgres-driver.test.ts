/**
 * What is particular to the PostgreSQL store, beyond the conformance suite every store
 * passes: JSON values that `jsonb` cannot hold as they are, pool ownership, and closing.
 */
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Errand } from '../src/index.js'
import type { NewRun, StoreDriver } from '../src/storage/driver.js'
import { postgresStore } from '../src/storage/postgres/index.js'
import { PostgresStatements } from '../src/storage/postgres/statements.js'
import { newRunId } from '../src/runtime/ids.js'
import { postgresUrl, storeKinds, type TestStore } from './support/stores.js'
import { newRun } from './support/new-run.js'

const url = postgresUrl()

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  Plans?: PlanNode[]
}

/** Sort nodes that read the runs table itself (not a CTE of already chosen rows). */
function sortsOverRuns(node: PlanNode): PlanNode[] {
  const readsRuns = (n: PlanNode): boolean => n['Relation Name'] === 'runs' || (n.Plans ?? []).some(readsRuns)
  const own = node['Node Type'] === 'Sort' && (node.Plans ?? []).some(readsRuns) ? [node] : []
  return [...own, ...(node.Plans ?? []).flatMap(sortsOverRuns)]
}


/** A run of task `t` with this payload. */
const runOf = (payloadJson: string, overrides: Partial<NewRun> = {}) => newRun({ task: 't', payloadJson, ...overrides })

describe.skipIf(!url)('postgres store', () => {
  const kind = storeKinds().find((candidate) => candidate.name === 'postgres')
  let store: TestStore
  let driver: StoreDriver

  beforeEach(async () => {
    store = await (kind as NonNullable<typeof kind>).create()
    driver = store.open()
  })

  afterEach(async () => {
    await driver.close()
    await store.cleanup()
  })

  it('keeps values jsonb refuses (NUL, lone surrogates) and values that look like its wrapper, exactly', async () => {
    const odd = [
      { text: 'a\u0000b' },
      { lone: '\ud800', pair: '\ud83d\ude00' },
      { '$errand:json': '{"not":"a wrapper"}' },
      '\u0000',
      ['x', { nested: 'tab\t\u0000\udfff' }],
      { plain: 'stays queryable', n: 1.5e300 },
    ]
    const results = await driver.runInsertMany({ now: new Date(), runs: odd.map((value) => runOf(JSON.stringify(value), { metadataJson: JSON.stringify({ m: value }) })) })
    for (const [index, result] of results.entries()) {
      const stored = await driver.runGet({ id: result.run.id })
      expect(stored?.payload).toEqual(odd[index])
      expect(stored?.metadata).toEqual({ m: odd[index] })
    }
    // Ordinary values are stored as plain jsonb, so SQL can look inside them.
    const client = new pg.Client({ connectionString: url as string })
    await client.connect()
    const { rows } = await client.query(`SELECT payload->>'plain' AS plain FROM "${(store.spec as { schema: string }).schema}".runs WHERE payload ? 'plain'`)
    await client.end()
    expect(rows).toEqual([{ plain: 'stays queryable' }])
  })

  it('a completion whose output or error holds NUL does not fail the rest of its batch', async () => {
    const errand = new Errand({ store: store.open() })
    try {
      errand.task('nul-output', {}, async () => ({ out: 'x\u0000y' }))
      errand.task('nul-error', { retry: { attempts: 1 } }, async () => {
        throw new Error('bad \u0000 byte \ud800')
      })
      errand.task('fine', {}, async () => 'ok')
      const handles = await Promise.all([errand.enqueue('nul-output', {}), errand.enqueue('nul-error', {}), errand.enqueue('fine', {})])
      await errand.worker({ pollInterval: '20ms' }).start()
      const [output, failed, fine] = handles.map((handle) => errand.runs.wait(handle.id, { timeout: '10s' }).catch((error: { run: unknown }) => error.run))
      expect(await output).toMatchObject({ status: 'completed', output: { out: 'x\u0000y' } })
      expect(await failed).toMatchObject({ status: 'dead_lettered', error: { message: 'bad \u0000 byte \ud800' } })
      expect(await fine).toMatchObject({ status: 'completed', output: 'ok' })
    } finally {
      await errand.close({ timeout: '2s' })
    }
  })

  it('leaves a pool it was given open on close, and refuses calls once closed', async () => {
    const pool = new pg.Pool({ connectionString: url as string, max: 2 })
    const given = postgresStore({ pool }, { schema: (store.spec as { schema: string }).schema })
    await given.migrate()
    await given.close()
    await given.close()
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    await pool.end()
    await expect(given.runGet({ id: newRunId(new Date()) })).rejects.toMatchObject({ code: 'store_closed' })
  })

  it('names its statements unless prepare is false (for poolers in transaction mode)', async () => {
    const schema = (store.spec as { schema: string }).schema
    const preparedOn = async (prepare: boolean) => {
      // One connection, so the session the store used is the one asked.
      const pool = new pg.Pool({ connectionString: url as string, max: 1 })
      const given = postgresStore({ pool }, { schema, prepare })
      try {
        const [inserted] = await given.runInsertMany({ now: new Date(), runs: [runOf('{}')] })
        const [claimed] = await given.runClaim({ workerId: 'w', tasks: ['t'], limit: 1, leaseMs: 60_000, now: new Date() })
        expect(claimed?.id).toBe(inserted?.run.id)
        const results = [{ id: claimed!.id, attempt: claimed!.attempt, workerId: 'w', outcome: 'completed' as const, outputJson: '1' }]
        await given.runFinishMany({ results, now: new Date() })
        expect((await given.runGet({ id: claimed!.id }))?.status).toBe('completed')
        return (await pool.query(`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'errand%'`)).rows[0].n as number
      } finally {
        await given.close()
        await pool.end()
      }
    }
    expect(await preparedOn(true)).toBeGreaterThan(0)
    expect(await preparedOn(false)).toBe(0)
  })

  it('ends the pool it made from a connection string on close', async () => {
    const tag = `errand-own-pool-${process.pid}`
    const connectionString = `${url as string}${(url as string).includes('?') ? '&' : '?'}application_name=${tag}`
    const owned = postgresStore({ connectionString }, { schema: (store.spec as { schema: string }).schema })
    await owned.migrate()
    await owned.runInsertMany({ now: new Date(), runs: [runOf('{}')] })
    await owned.close()
    const admin = new pg.Client({ connectionString: url as string })
    await admin.connect()
    const count = async () => (await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [tag])).rows[0].n
    for (let i = 0; i < 50 && (await count()) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(await count()).toBe(0)
    await admin.end()
  })

  it('gives a fresh runs table planner statistics, so claims walk the due index instead of sorting the backlog', async () => {
    const schema = (store.spec as { schema: string }).schema
    for (let batch = 0; batch < 5; batch++) {
      await driver.runInsertMany({ now: new Date(), runs: Array.from({ length: 1_000 }, (_, i) => runOf('{}', { task: `t${i % 4}` })) })
    }
    const client = new pg.Client({ connectionString: url as string })
    await client.connect()
    try {
      const analyzed = async () => (await client.query("SELECT 1 FROM pg_stats WHERE schemaname = $1 AND tablename = 'runs'", [schema])).rowCount
      for (let i = 0; i < 100 && !(await analyzed()); i++) await new Promise((resolve) => setTimeout(resolve, 50))
      expect(await analyzed()).toBeGreaterThan(0)
      const claim = new PostgresStatements(`"${schema}"`, true).claim
      const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${claim}`, [new Date(), ['t0', 't1'], 50, 'w', new Date(), [], null])
      const plan = JSON.stringify(rows[0]['QUERY PLAN'])
      expect(plan).toContain('"Index Name":"runs_due"')
      // Sorting the few claimed rows (per queue, per key) is fine; sorting the runs table is not.
      expect(sortsOverRuns(rows[0]['QUERY PLAN'][0].Plan)).toEqual([])
    } finally {
      await client.end()
    }
  })

  it('a heartbeat and a completion batch over the same runs never deadlock, whatever their order', async () => {
    const other = store.open()
    try {
      for (let round = 0; round < 20; round++) {
        const now = new Date()
        await driver.runInsertMany({ now, runs: Array.from({ length: 200 }, () => runOf('{}')) })
        const claimed = await driver.runClaim({ workerId: 'w', tasks: ['t'], limit: 200, leaseMs: 60_000, now })
        const leases = claimed.map((run) => ({ id: run.id, attempt: run.attempt }))
        const results = [...leases].reverse().map((lease) => ({ ...lease, workerId: 'w', outcome: 'completed' as const, outputJson: '1' }))
        const [, applied] = await Promise.all([
          other.runHeartbeat({ leases, leaseMs: 60_000, now }),
          driver.runFinishMany({ results, now }),
        ])
        expect(applied.every(Boolean)).toBe(true)
      }
    } finally {
      await other.close()
    }
  }, 60_000)

  it('concurrent batches sharing idempotency keys in opposite orders neither deadlock nor duplicate', async () => {
    const others = [store.open(), store.open(), store.open()]
    try {
      for (let round = 0; round < 10; round++) {
        const keys = Array.from({ length: 400 }, (_, i) => `r${round}-k${i}`)
        const batches = [keys, [...keys].reverse(), keys.filter((_, i) => i % 2 === 0).reverse(), keys.filter((_, i) => i % 3 === 0)]
        const outcomes = await Promise.all(
          [driver, ...others].map((store, i) =>
            store.runInsertMany({ now: new Date(), runs: (batches[i] as string[]).map((key) => runOf('{}', { idempotencyKey: key })) }),
          ),
        )
        const byKey = new Map<string, Set<string>>()
        for (const result of outcomes.flat()) {
          const ids = byKey.get(result.run.idempotencyKey as string) ?? new Set<string>()
          byKey.set(result.run.idempotencyKey as string, ids.add(result.run.id))
        }
        expect([...byKey.values()].every((ids) => ids.size === 1)).toBe(true)
        expect(outcomes.flat().filter((result) => result.created)).toHaveLength(keys.length)
      }
    } finally {
      await Promise.all(others.map((other) => other.close()))
    }
  }, 60_000)

  it('rejects a bad schema name or a missing connection up front', () => {
    expect(() => postgresStore({ connectionString: url as string }, { schema: '' })).toThrow(/schema/)
    expect(() => postgresStore({ connectionString: url as string }, { schema: 'x'.repeat(64) })).toThrow(/63 bytes/)
    expect(() => postgresStore({} as never)).toThrow(/connectionString/)
  })
})
