/**
 * The rows of serial queues and concurrency keys are dropped once their group is idle
 * (src/storage/postgres/groups.ts), and a drop never leaves a run without its group's row:
 * such a run could never be claimed. The races are opened on purpose here: an enqueue held
 * open in the caller's transaction while a drop runs, a drop holding the buckets while an
 * enqueue starts, and both running at once in loops while a worker drains.
 */
import { createHash } from 'node:crypto'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { bucketOf, dropIdleV10, GROUP_BUCKETS, groupLockClass } from '../src/storage/postgres/groups.js'
import { POSTGRES_MIGRATIONS } from '../src/storage/postgres/migrations.js'
import type { PostgresDriver } from '../src/storage/postgres/postgres-driver.js'
import { usePostgresErrand } from './support/postgres-errand.js'
import { postgresUrl } from './support/stores.js'

const url = postgresUrl()

describe.skipIf(!url)('postgres: idle serial queues and concurrency keys', () => {
  const t = usePostgresErrand(url as string)

  const names = async (table: 'queues' | 'concurrency_keys'): Promise<string[]> => {
    const column = table === 'queues' ? 'name' : 'key'
    const { rows } = await t.client.query<{ name: string }>(`SELECT ${column} AS name FROM ${t.schema}.${table} ORDER BY 1`)
    return rows.map((row) => row.name)
  }

  const withDriver = async <T>(use: (driver: PostgresDriver) => Promise<T>): Promise<T> => {
    const driver = t.store.open() as PostgresDriver
    try {
      return await use(driver)
    } finally {
      await driver.close()
    }
  }

  it('drops the rows of groups nothing waits in or runs in, and keeps the others', async () => {
    const task = t.errand.task('work', {}, async () => {})
    const finished = async (options: { queue?: string; concurrencyKey?: string }) => {
      const run = await task.enqueue({}, { ...options, concurrencyLimit: options.concurrencyKey ? 1 : undefined })
      const worker = t.errand.worker({ concurrency: 1 })
      await worker.start()
      await t.errand.runs.wait(run.id, { timeout: '10s' })
      await worker.stop()
    }
    await finished({ queue: 'q-idle' })
    await finished({ concurrencyKey: 'k-idle' })
    await task.enqueue({}, { queue: 'q-waiting' })
    await task.enqueue({}, { concurrencyKey: 'k-waiting', concurrencyLimit: 1 })
    await task.enqueue({}, { queue: 'q-later', runAt: new Date(Date.now() + 3_600_000) })
    const running = await withDriver(async (driver) => {
      await task.enqueue({}, { queue: 'q-running', concurrencyKey: 'k-running', concurrencyLimit: 1 })
      const claimed = await driver.runClaim({ workerId: 'w', tasks: ['work'], limit: 10, leaseMs: 60_000, now: new Date() })
      expect(claimed.map((run) => run.queue ?? run.concurrencyKey).sort()).toEqual(['k-waiting', 'q-running', 'q-waiting'])
      return claimed
    })
    // Two of the claimed runs are given back to waiting; the third stays running. No row
    // names a holder any more, so only the runs themselves can keep the groups.
    await t.client.query(`UPDATE ${t.schema}.runs SET status = 'queued' WHERE id = ANY($1) AND queue IS DISTINCT FROM 'q-running'`, [
      running.map((run) => run.id),
    ])
    await t.client.query(`UPDATE ${t.schema}.queues SET holder = NULL, held_since = NULL`)
    await t.client.query(`UPDATE ${t.schema}.concurrency_keys SET holder_ids = '{}', holder_attempts = '{}'`)

    const gone = await withDriver((driver) => driver.dropIdleGroups())

    expect(gone).toEqual({ queues: 1, keys: 1 })
    expect(await names('queues')).toEqual(['q-later', 'q-running', 'q-waiting'])
    expect(await names('concurrency_keys')).toEqual(['k-running', 'k-waiting'])
  })

  it('makes the row again for the next run of a dropped group, which then runs', async () => {
    const seen: string[] = []
    const task = t.errand.task('work', {}, async (payload: { n: number }) => void seen.push(String(payload.n)))
    const first = await task.enqueue({ n: 1 }, { queue: 'q', concurrencyKey: 'k', concurrencyLimit: 1 })
    const worker = t.errand.worker({ concurrency: 2 })
    await worker.start()
    await t.errand.runs.wait(first.id, { timeout: '10s' })
    expect(await withDriver((driver) => driver.dropIdleGroups())).toEqual({ queues: 1, keys: 1 })
    expect(await names('queues')).toEqual([])

    const second = await task.enqueue({ n: 2 }, { queue: 'q', concurrencyKey: 'k', concurrencyLimit: 1 })
    expect(await names('queues')).toEqual(['q'])
    expect(await names('concurrency_keys')).toEqual(['k'])
    expect((await t.errand.runs.wait(second.id, { timeout: '10s' })).status).toBe('completed')
    await worker.stop()
    expect(seen).toEqual(['1', '2'])
  })

  it('keeps the row of a group an uncommitted enqueue names, and its run is claimed once committed', async () => {
    const task = t.errand.task('work', {}, async () => {})
    const earlier = await task.enqueue({}, { concurrencyKey: 'k', concurrencyLimit: 1, queue: 'q' })
    await t.errand.runs.cancel(earlier.id)
    // The rows exist and the groups are idle. An enqueue in the caller's transaction finds
    // the rows (taking no row lock) and stays uncommitted while a drop runs.
    const tx = new pg.Client({ connectionString: url as string })
    await tx.connect()
    try {
      await tx.query('BEGIN')
      const pending = await task.enqueue({}, { concurrencyKey: 'k', concurrencyLimit: 1, queue: 'q', tx })
      expect(await withDriver((driver) => driver.dropIdleGroups())).toEqual({ queues: 0, keys: 0 })
      await tx.query('COMMIT')
      expect(await names('queues')).toEqual(['q'])
      expect(await names('concurrency_keys')).toEqual(['k'])
      const claimed = await withDriver((driver) => driver.runClaim({ workerId: 'w', tasks: ['work'], limit: 5, leaseMs: 60_000, now: new Date() }))
      expect(claimed.map((run) => run.id)).toEqual([pending.id])
    } finally {
      await tx.end()
    }
  })

  it('makes an enqueue that starts during a drop wait for it before it looks for the row, then make the row again', async () => {
    const task = t.errand.task('work', {}, async () => {})
    const earlier = await task.enqueue({}, { concurrencyKey: 'k', concurrencyLimit: 1 })
    await t.errand.runs.cancel(earlier.id)
    // A drop in progress: it holds every bucket, and has not deleted the idle key's row yet.
    const drop = new pg.Client({ connectionString: url as string })
    await drop.connect()
    try {
      await drop.query('BEGIN')
      const cls = groupLockClass(t.schema)
      await drop.query(`SELECT pg_advisory_xact_lock($1, b) FROM generate_series(0, $2 - 1) b`, [cls, GROUP_BUCKETS])
      let settled = false
      const enqueued = task.enqueue({}, { concurrencyKey: 'k', concurrencyLimit: 1 }).finally(() => (settled = true))
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(settled).toBe(false)
      // An enqueue that had looked for the row before waiting would have found it, made
      // nothing, and be left without it now.
      await drop.query(`DELETE FROM ${t.schema}.concurrency_keys WHERE key = 'k'`)
      await drop.query('COMMIT')
      const run = await enqueued
      expect(await names('concurrency_keys')).toEqual(['k'])
      const claimed = await withDriver((driver) => driver.runClaim({ workerId: 'w', tasks: ['work'], limit: 5, leaseMs: 60_000, now: new Date() }))
      expect(claimed.map((claimedRun) => claimedRun.id)).toEqual([run.id])
    } finally {
      await drop.end()
    }
  })

  // A smoke test of everything at once; the tests above open each race on purpose.
  it('loses no run while enqueues, drops and a worker run at once', async () => {
    const task = t.errand.task('work', {}, async () => {})
    const worker = t.errand.worker({ concurrency: 4, pollInterval: 50 })
    await worker.start()
    const ids: string[] = []
    let dropped = 0
    let producing = true
    const producer = (async () => {
      for (let round = 0; round < 40; round++) {
        const group = `g${round % 5}`
        const options = round % 2 === 0 ? { queue: group } : { concurrencyKey: group, concurrencyLimit: 2 }
        const batch = await task.enqueueMany(Array.from({ length: 5 }, () => ({ payload: {}, options })))
        ids.push(...batch.map((run) => run.id))
        await new Promise((resolve) => setTimeout(resolve, 5 + (round % 3) * 10))
      }
      producing = false
    })()
    const dropper = (async () => {
      await withDriver(async (driver) => {
        while (producing) {
          const gone = await driver.dropIdleGroups()
          dropped += gone.queues + gone.keys
        }
      })
    })()
    await Promise.all([producer, dropper])
    const finals = await Promise.all(ids.map((id) => t.errand.runs.wait(id, { timeout: '30s' })))
    await worker.stop()
    expect(finals.every((run) => run.status === 'completed')).toBe(true)
    expect(finals).toHaveLength(200)
    // The drops did happen between the enqueues, so the races were there to lose.
    expect(dropped).toBeGreaterThan(0)
  }, 60_000)
})

describe.skipIf(!url)('postgres: upkeep drops idle groups once per interval among processes', () => {
  const t = usePostgresErrand(url as string)

  it('drops them on the first upkeep, and not again in the same interval from another process', async () => {
    const task = t.errand.task('work', {}, async () => {})
    const idle = async (key: string) => t.errand.runs.cancel((await task.enqueue({}, { concurrencyKey: key, concurrencyLimit: 1 })).id)
    const keys = async () => (await t.client.query<{ key: string }>(`SELECT key FROM ${t.schema}.concurrency_keys ORDER BY 1`)).rows.map((row) => row.key)
    await idle('first')
    const one = t.store.open() as PostgresDriver
    const other = t.store.open() as PostgresDriver
    try {
      await one.runUpkeep({ now: new Date() })
      expect(await keys()).toEqual([])
      await idle('second')
      await other.runUpkeep({ now: new Date() })
      expect(await keys()).toEqual(['second'])
      // Once the interval has passed (moved back here), the next upkeep drops it.
      await t.client.query(`UPDATE ${t.schema}.upkeep SET last_run_at = now() - interval '1 hour'`)
      await one.runUpkeep({ now: new Date(Date.now() + 120_000) })
      expect(await keys()).toEqual([])
    } finally {
      await Promise.all([one.close(), other.close()])
    }
  })
})

describe.skipIf(!url)('postgres: a run left without its group row by an older process', () => {
  const t = usePostgresErrand(url as string)

  it('gets its row back at the next turn, and runs', async () => {
    const task = t.errand.task('work', {}, async () => {})
    const earlier = await task.enqueue({}, { concurrencyKey: 'k', concurrencyLimit: 1, queue: 'q' })
    await t.errand.runs.cancel(earlier.id)
    const driver = t.store.open() as PostgresDriver
    try {
      expect(await driver.dropIdleGroups()).toEqual({ queues: 1, keys: 1 })
      const noted = await t.client.query(`SELECT kind, name FROM ${t.schema}.dropped_groups ORDER BY 1`)
      expect(noted.rows).toEqual([
        { kind: 'key', name: 'k' },
        { kind: 'queue', name: 'q' },
      ])
      // What an enqueue without bucket locks could leave: the run committed, its rows gone.
      const stranded = await task.enqueue({}, { concurrencyKey: 'k', concurrencyLimit: 1, queue: 'q' })
      await t.client.query(`DELETE FROM ${t.schema}.queues; DELETE FROM ${t.schema}.concurrency_keys`)
      const claim = () => driver.runClaim({ workerId: 'w', tasks: ['work'], limit: 5, leaseMs: 60_000, now: new Date() })
      expect(await claim()).toEqual([])
      // The next turn, a while after the drop.
      await t.client.query(`UPDATE ${t.schema}.dropped_groups SET dropped_at = now() - interval '11 minutes'`)
      await t.client.query(`UPDATE ${t.schema}.upkeep SET last_run_at = now() - interval '11 minutes'`)
      expect(await driver.runUpkeep({ now: new Date() })).toBe(true)
      expect((await claim()).map((run) => run.id)).toEqual([stranded.id])
      expect((await t.client.query(`SELECT count(*)::int AS n FROM ${t.schema}.dropped_groups`)).rows).toEqual([{ n: 0 }])
    } finally {
      await driver.close()
    }
  })
})

describe.skipIf(!url)('postgres: the plan of a drop', () => {
  const t = usePostgresErrand(url as string)

  it("reads one bucket's group rows by index and probes runs by index, whatever the history", async () => {
    const task = t.errand.task('work', {}, async () => {})
    // 3,200 busy keys and queues (a waiting run each), then 10,000 finished runs in neither.
    await task.enqueueMany(Array.from({ length: 3_200 }, (_, i) => ({ payload: {}, options: { queue: `q${i}`, concurrencyKey: `k${i}`, concurrencyLimit: 1 } })))
    await t.errand.enqueueMany('work', Array.from({ length: 10_000 }, (_, i) => i))
    await t.client.query(`UPDATE ${t.schema}.runs SET status = 'completed', completed_at = now() WHERE queue IS NULL`)
    await t.client.query(`ANALYZE ${t.schema}.runs, ${t.schema}.queues, ${t.schema}.concurrency_keys`)
    const { rows } = await t.client.query<{ bucket: number }>(`SELECT ${bucketOf('key')} AS bucket FROM ${t.schema}.concurrency_keys LIMIT 1`)
    const bucket = rows[0]!.bucket
    await t.client.query('BEGIN')
    try {
      const result = await t.client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${dropIdleV10(t.schema)}`, [bucket, 2_000])
      const plan = JSON.stringify(result.rows[0]['QUERY PLAN'])
      expect(plan).not.toContain('"Seq Scan"')
      expect(plan).toContain('concurrency_keys_bucket')
      expect(plan).toContain('queues_bucket')
      expect(plan).toContain('runs_key_waiting')
      expect(result.rows[0]['QUERY PLAN'][0].Plan['Actual Rows']).toBe(1)
      // Each probe of runs reads at most the one row it looks for, never the groups' backlog.
      const runsReads = planNodes(result.rows[0]['QUERY PLAN'][0].Plan).filter((node) => node['Relation Name'] === 'runs')
      expect(runsReads.length).toBeGreaterThan(0)
      expect(runsReads.filter((node) => Number(node['Actual Rows']) > 1)).toEqual([])
    } finally {
      await t.client.query('ROLLBACK')
    }
    // Nothing was idle: every row is still there.
    const left = await t.client.query(`SELECT (SELECT count(*) FROM ${t.schema}.queues)::int AS queues, (SELECT count(*) FROM ${t.schema}.concurrency_keys)::int AS keys`)
    expect(left.rows[0]).toEqual({ queues: 3_200, keys: 3_200 })
  })
})

describe('postgres: migration 10 as released', () => {
  // Its function is built from helpers the driver's live statements share (nothingWaits,
  // bucketOf): a change to them must not change what databases already migrated have.
  it('keeps its text', () => {
    const sql = POSTGRES_MIGRATIONS.find((migration) => migration.version === 10)?.sql('"errand"') ?? ''
    expect(createHash('sha256').update(sql).digest('hex').slice(0, 16)).toBe(MIGRATION_10_SHA256)
  })
})

/** The first 16 hex digits of the SHA-256 of migration 10's text, as released. */
const MIGRATION_10_SHA256 = 'd7a28fb95e06ec41'

type PlanNode = Record<string, unknown> & { Plans?: PlanNode[] }

function planNodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(planNodes)]
}
