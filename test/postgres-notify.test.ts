/**
 * LISTEN/NOTIFY wake-ups of the PostgreSQL store: a worker polling once a minute still
 * starts a run enqueued by another process within milliseconds; bursts are coalesced; the
 * LISTEN connection comes back after the server kills it. The poll stays the truth
 * (other suites run with notifications in place and pass on polling alone on SQLite).
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Errand } from '../src/index.js'
import type { StoreDriver } from '../src/storage/driver.js'
import { postgresStore } from '../src/storage/postgres/index.js'
import { postgresUrl, storeKinds, type TestStore } from './support/stores.js'
import { nextEvent, waitUntil } from './support/errand.js'
import { newRun } from './support/new-run.js'

const url = postgresUrl()


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.skipIf(!url)('postgres: LISTEN/NOTIFY wake-ups', () => {
  const kind = storeKinds().find((candidate) => candidate.name === 'postgres')
  let store: TestStore
  let schema: string
  let closers: Array<() => Promise<unknown>>

  beforeEach(async () => {
    store = await (kind as NonNullable<typeof kind>).create()
    schema = (store.spec as { schema: string }).schema
    closers = []
  })

  afterEach(async () => {
    for (const close of closers.reverse()) await close()
    await store.cleanup()
  })

  /** A driver on the test store through a pool of our own, tagged so its sessions can be found. */
  function openTagged(options: { notifyThrottleMs?: number } = {}): { driver: StoreDriver; pool: pg.Pool; tag: string } {
    const tag = `errand-notify-${randomBytes(4).toString('hex')}`
    const pool = new pg.Pool({ connectionString: url as string, application_name: tag, max: 4 })
    pool.on('error', () => {})
    const driver = postgresStore({ pool }, { schema, ...options })
    closers.push(() => pool.end(), () => driver.close())
    return { driver, pool, tag }
  }

  function open(): StoreDriver {
    const driver = store.open()
    closers.push(() => driver.close())
    return driver
  }

  it('a worker that polls once a minute starts a run enqueued elsewhere within milliseconds', async () => {
    const consumer = new Errand({ store: open() })
    const producer = new Errand({ store: open() })
    closers.push(() => consumer.close({ timeout: '2s' }), () => producer.close())
    for (const errand of [consumer, producer]) errand.task('ping', {}, async () => 'pong')
    await producer.migrate()
    const worker = consumer.worker({ pollInterval: '1m' })
    await worker.start()
    await sleep(200) // let the start-up claim and the LISTEN settle
    const startedAt = Date.now()
    const run = await producer.enqueue('ping', {})
    const started = await nextEvent(consumer, 'run.started', (event) => event.run.id === run.id, 5_000)
    const pickupMs = Date.now() - startedAt
    expect(started.run.id).toBe(run.id)
    expect(pickupMs).toBeLessThan(1_000)
  })

  it('coalesces: one wake-up per insert transaction, and a burst of single inserts wakes a few times, not once each', async () => {
    const { driver: listening } = openTagged({ notifyThrottleMs: 100 })
    await listening.migrate()
    let wakes = 0
    const unsubscribe = listening.subscribeRunsAvailable?.(() => wakes++) as () => void
    expect(unsubscribe).toBeTypeOf('function')
    await sleep(200)
    const producer = open()
    await producer.runInsertMany({ now: new Date(), runs: Array.from({ length: 1_000 }, () => newRun()) })
    await waitUntil(() => wakes >= 1, 5_000, 'a wake-up')
    await sleep(300)
    expect(wakes).toBe(1)

    wakes = 0
    const begin = Date.now()
    await Promise.all(Array.from({ length: 200 }, () => producer.runInsertMany({ now: new Date(), runs: [newRun()] })))
    const elapsed = Date.now() - begin
    await sleep(300)
    // Leading wake-up, then at most one per 100 ms window.
    expect(wakes).toBeGreaterThanOrEqual(1)
    expect(wakes).toBeLessThanOrEqual(Math.ceil((elapsed + 300) / 100) + 1)
    expect(wakes).toBeLessThan(200 / 4)

    // A scheduled run is not due: nobody is woken for it.
    wakes = 0
    await producer.runInsertMany({ now: new Date(), runs: [{ ...newRun(), status: 'scheduled', runAt: new Date(Date.now() + 60_000) }] })
    await sleep(300)
    expect(wakes).toBe(0)
    unsubscribe()
  })

  it("skips a driver's own inserts (the runtime already woke its workers), but not those made in a caller's transaction", async () => {
    const { driver: listening, pool } = openTagged({ notifyThrottleMs: 10 })
    await listening.migrate()
    let wakes = 0
    const unsubscribe = listening.subscribeRunsAvailable?.(() => wakes++) as () => void
    await sleep(200)
    await listening.runInsertMany({ now: new Date(), runs: [newRun()] })
    await sleep(300)
    expect(wakes).toBe(0)
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      await listening.runInsertMany({ now: new Date(), runs: [newRun()], tx: client })
      await sleep(200)
      expect(wakes).toBe(0) // nothing is delivered before the commit
      await client.query('COMMIT')
    } finally {
      client.release()
    }
    await waitUntil(() => wakes >= 1, 5_000, 'a wake-up after the commit')
    unsubscribe()
  })

  it('a run enqueued in a transaction starts soon after the commit, though the local wake-up came before it', async () => {
    const errand = new Errand({ store: open() })
    closers.push(() => errand.close({ timeout: '2s' }))
    errand.task('ping', {}, async () => 'pong')
    await errand.migrate()
    await errand.worker({ pollInterval: '1m' }).start()
    await sleep(200)
    const pool = new pg.Pool({ connectionString: url as string, max: 1 })
    closers.push(() => pool.end())
    const client = await pool.connect()
    let runId: string
    try {
      await client.query('BEGIN')
      runId = (await errand.enqueue('ping', {}, { tx: client })).id
      await sleep(100) // the worker's claim on the local wake-up finds nothing yet
      await client.query('COMMIT')
    } finally {
      client.release()
    }
    const committedAt = Date.now()
    await nextEvent(errand, 'run.started', (event) => event.run.id === runId, 5_000)
    expect(Date.now() - committedAt).toBeLessThan(1_000)
  })

  it('re-establishes the LISTEN connection after the server kills it, and wakes once it is back', async () => {
    const { driver: listening, tag } = openTagged({ notifyThrottleMs: 10 })
    await listening.migrate()
    let wakes = 0
    const unsubscribe = listening.subscribeRunsAvailable?.(() => wakes++) as () => void
    const admin = new pg.Client({ connectionString: url as string })
    await admin.connect()
    closers.push(() => admin.end())
    const listenerPid = async () => {
      const { rows } = await admin.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %'",
        [tag],
      )
      return rows[0]?.pid ?? null
    }
    const first = await waitUntil(listenerPid, 5_000, 'the LISTEN session')
    await admin.query('SELECT pg_terminate_backend($1)', [first])
    await waitUntil(() => wakes >= 1, 5_000, 'the wake-up after reconnecting')
    const second = await waitUntil(async () => {
      const pid = await listenerPid()
      return pid !== null && pid !== first ? pid : null
    }, 5_000, 'a new LISTEN session')
    expect(second).not.toBe(first)

    wakes = 0
    await open().runInsertMany({ now: new Date(), runs: [newRun()] })
    await waitUntil(() => wakes >= 1, 5_000, 'a wake-up on the new connection')

    unsubscribe()
    await waitUntil(async () => (await listenerPid()) === null, 5_000, 'UNLISTEN after the last listener left')
  })
})
