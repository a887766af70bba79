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
import { claimBody } from '../src/storage/postgres/claim.js'
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
      // The claim as claim_planned runs it: planned for its values.
      const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${claimBody(`"${schema}"`)}`, [new Date(), ['t0', 't1'], 50, 'w', new Date(), [], null])
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

  it('a claim passes runs waiting under a key at its limit without checking each holder', async () => {
    const keyed = (n: number) => Array.from({ length: n }, () => runOf('{}', { concurrencyKey: 'k', concurrencyLimit: 1 }))
    const holder = keyed(1)
    // A run is due from its creation: claim after it.
    const now = new Date(Date.now() + 1)
    await driver.runInsertMany({ now, runs: holder })
    expect(await driver.runClaim({ workerId: 'holder', tasks: ['t'], limit: 1, leaseMs: 60_000, now })).toHaveLength(1)
    // 2,000 runs wait under the full key, ahead of 10 free ones.
    await driver.runInsertMany({ now: new Date(now.getTime() + 1), runs: keyed(2_000) })
    await driver.runInsertMany({ now: new Date(now.getTime() + 2), runs: Array.from({ length: 10 }, () => runOf('{}')) })
    const schema = (store.spec as { schema: string }).schema
    const client = new pg.Client({ connectionString: url as string })
    await client.connect()
    try {
      await client.query('BEGIN')
      const later = new Date(Date.now() + 1_000)
      const explained = await client.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${claimBody(`"${schema}"`)}`, [
        later, ['t'], 10, 'w', new Date(later.getTime() + 60_000), [], null,
      ])
      const plan = (explained.rows[0] as { 'QUERY PLAN': Array<{ Plan: { 'Actual Rows': number; 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }> })['QUERY PLAN'][0]!.Plan
      expect(plan['Actual Rows']).toBe(10)
      // Each waiting run costs its index entry, its row and its key's row: about 2 pages. A
      // check of the key's holders for each of them cost 13 (26,000 pages for this claim).
      expect(plan['Shared Hit Blocks'] + plan['Shared Read Blocks']).toBeLessThan(5 * 2_000)
    } finally {
      await client.query('ROLLBACK')
      await client.end()
    }
  })

  it('a holder that left running without giving back its place is dropped by maintenance', async () => {
    const runs = Array.from({ length: 2 }, () => runOf('{}', { concurrencyKey: 'k', concurrencyLimit: 1 }))
    const now = new Date(Date.now() + 1)
    await driver.runInsertMany({ now, runs })
    const [first] = await driver.runClaim({ workerId: 'w', tasks: ['t'], limit: 10, leaseMs: 60_000, now })
    // Ended by a path that keeps no count of keys (an earlier version, a hand-made fix).
    const client = new pg.Client({ connectionString: url as string })
    await client.connect()
    try {
      await client.query(`UPDATE "${(store.spec as { schema: string }).schema}".runs SET status = 'completed' WHERE id = $1`, [first!.id])
    } finally {
      await client.end()
    }
    expect(await driver.runClaim({ workerId: 'w', tasks: ['t'], limit: 10, leaseMs: 60_000, now })).toEqual([])
    expect(await driver.runUpkeep!({ now })).toBe(true)
    const next = await driver.runClaim({ workerId: 'w', tasks: ['t'], limit: 10, leaseMs: 60_000, now })
    expect(next.map((run) => run.concurrencyKey)).toEqual(['k'])
  })

  it('finishes, cancels and prunes of runs under shared keys, on several connections at once, never deadlock', async () => {
    const drivers = [driver, store.open(), store.open(), store.open()]
    const keys = ['k1', 'k2', 'k3', 'k4', 'k5']
    try {
      for (let round = 0; round < 8; round++) {
        const runs = Array.from({ length: 200 }, (_, i) => runOf('{}', { concurrencyKey: keys[i % keys.length]!, concurrencyLimit: 1_000 }))
        const now = new Date(Date.now() + 1)
        await driver.runInsertMany({ now, runs })
        // One after another: concurrent claimers skip a key row another claim holds, and take fewer.
        const batches = []
        for (const [i, d] of drivers.entries()) batches.push(await d.runClaim({ workerId: `w${i}`, tasks: ['t'], limit: 50, leaseMs: 60_000, now }))
        expect(batches.flat()).toHaveLength(200)
        const ended = await Promise.all(
          batches.map(async (batch, i) => {
            // Each batch in its own order; one run of each cancelled meanwhile from another connection.
            const ordered = i % 2 === 0 ? batch : [...batch].reverse()
            const [cancelled, ...rest] = ordered
            const results = rest.map((run) => ({ id: run.id, attempt: run.attempt, workerId: `w${i}`, outcome: 'completed' as const, outputJson: '1' }))
            const [applied] = await Promise.all([
              drivers[i]!.runFinishMany({ results, now }),
              drivers[(i + 1) % drivers.length]!.runCancel({ id: cancelled!.id, reason: 'test', now }),
              drivers[(i + 2) % drivers.length]!.runPrune({ finishedBefore: new Date(now.getTime() + 1), limit: 50 }),
            ])
            return applied.filter(Boolean).length + 1
          }),
        )
        expect(ended.reduce((a, b) => a + b, 0)).toBe(200)
      }
      // Every place was given back: a key's next run is admitted at once.
      const schema = (store.spec as { schema: string }).schema
      const client = new pg.Client({ connectionString: url as string })
      await client.connect()
      try {
        const { rows } = await client.query(`SELECT key, cardinality(holder_ids) AS n FROM "${schema}".concurrency_keys ORDER BY key`)
        expect(rows).toEqual(keys.map((key) => ({ key, n: 0 })))
      } finally {
        await client.end()
      }
    } finally {
      await Promise.all(drivers.slice(1).map((d) => d.close()))
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
