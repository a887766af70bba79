/**
 * Waits across processes on PostgreSQL are notified: a wait marks its run `waited`, and the
 * runs table's trigger NOTIFYs when a marked run reaches a final status. The waiting
 * instances here read the store only every ten minutes, and at their deadline (a wait's
 * last read); tests expect the outcome well before that deadline, so only a notification
 * (or the wake-up after the LISTEN connection comes back) can end their waits in time.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Errand } from '../src/index.js'
import type { StoreDriver } from '../src/storage/driver.js'
import { postgresStore } from '../src/storage/postgres/index.js'
import { deferred, waitUntil } from './support/errand.js'
import { postgresUrl, storeKinds, type TestStore } from './support/stores.js'
import { newRun } from './support/new-run.js'

const url = postgresUrl()
const TEN_MINUTES = { firstMs: 600_000, maxMs: 600_000 }

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A wait's timeout: its last read comes this late, long after {@link WOKEN_WITHIN}. */
const WAIT_TIMEOUT = '40s'
/** How soon a woken wait must have ended: generous for a loaded machine, far below the wait's timeout. */
const WOKEN_WITHIN = 15_000

/**
 * What a wait ended with, the run or the error it threw, if it ended within
 * {@link WOKEN_WITHIN} of `from` (default now). The wait is settled at once, so no
 * rejection goes unhandled.
 */
function outcomeOf(wait: Promise<unknown>): { within(from?: number): Promise<unknown> } {
  const outcome = wait.then(
    (value) => value,
    (error: unknown) => error,
  )
  return {
    within: async (from = Date.now()) => {
      let timer: NodeJS.Timeout | undefined
      const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('the wait was not woken')), from + WOKEN_WITHIN - Date.now())))
      try {
        return await Promise.race([outcome, late])
      } finally {
        clearTimeout(timer)
      }
    },
  }
}


describe.skipIf(!url)('postgres: waits notified across processes', () => {
  const kind = storeKinds().find((candidate) => candidate.name === 'postgres')
  let store: TestStore
  let schema: string
  let admin: pg.Client
  let closers: Array<() => Promise<unknown>>

  beforeEach(async () => {
    store = await (kind as NonNullable<typeof kind>).create()
    schema = (store.spec as { schema: string }).schema
    admin = new pg.Client({ connectionString: url as string })
    await admin.connect()
    closers = []
  })

  afterEach(async () => {
    for (const close of closers.reverse()) await close()
    await admin.end()
    await store.cleanup()
  })

  /** An errand instance on its own driver (its own pool), as another process would have. */
  function instance(driver: StoreDriver = store.open()): Errand {
    const errand = new Errand({ store: driver })
    errand.task('ok', {}, async () => 'done')
    errand.task('idle', {}, async () => 'never started: no worker runs this task')
    closers.push(() => errand.close({ timeout: '2s' }))
    return errand
  }

  /** An instance whose waits read the store every ten minutes: only a wake-up ends them in time. */
  function slowWaiter(driver?: StoreDriver): Errand {
    const errand = instance(driver)
    errand['internals'].waitPacing = { polled: TEN_MINUTES, notified: TEN_MINUTES }
    return errand
  }

  /** A driver on the test store through a pool of our own, tagged so its sessions can be found. */
  function tagged(): { driver: StoreDriver; pool: pg.Pool; tag: string } {
    const tag = `errand-wait-${randomBytes(4).toString('hex')}`
    const pool = new pg.Pool({ connectionString: url as string, application_name: tag, max: 4 })
    pool.on('error', () => {})
    const driver = postgresStore({ pool }, { schema })
    closers.push(() => pool.end(), () => driver.close())
    return { driver, pool, tag }
  }

  async function listenerPid(tag: string): Promise<number | null> {
    const { rows } = await admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %'",
      [tag],
    )
    return rows[0]?.pid ?? null
  }

  async function waitedIds(): Promise<string[]> {
    const { rows } = await admin.query<{ id: string }>(`SELECT id FROM "${schema}".runs WHERE waited ORDER BY id`)
    return rows.map((row) => row.id)
  }

  it('a wait ends when another instance completes, dead-letters or cancels the run, woken by the notification', async () => {
    const release = deferred()
    const waiting = slowWaiter()
    const working = instance()
    for (const errand of [waiting, working]) {
      errand.task('held', {}, async () => {
        await release.promise
        return 'done'
      })
      errand.task('fail', { maxAttempts: 1 }, async () => {
        await release.promise
        throw new Error('boom')
      })
    }
    await working.worker({ pollInterval: '50ms', tasks: ['held', 'fail'] }).start()

    const completed = outcomeOf(waiting.enqueueAndWait('held', {}, { timeout: WAIT_TIMEOUT }))
    const failed = outcomeOf((await waiting.enqueue('fail', {})).wait({ timeout: WAIT_TIMEOUT }))
    const idle = await waiting.enqueue('idle', {})
    const cancelled = outcomeOf(waiting.runs.wait(idle.id, { timeout: WAIT_TIMEOUT }))
    // Every wait is armed (its run marked) before any of the runs finishes.
    await waitUntil(async () => (await waitedIds()).length === 3, 10_000, 'three waited runs')
    const finishedFrom = Date.now()
    release.resolve()
    await working.runs.cancel(idle.id, { reason: 'not needed' })

    expect(await completed.within(finishedFrom)).toMatchObject({ output: 'done', run: { status: 'completed' } })
    expect(await failed.within(finishedFrom)).toMatchObject({ code: 'run_failed', run: { status: 'dead_lettered', error: { message: 'boom' } } })
    expect(await cancelled.within(finishedFrom)).toMatchObject({ code: 'run_cancelled', run: { id: idle.id, status: 'cancelled', cancelReason: 'not needed' } })
  })

  /**
   * LISTENs on `channel` from a connection of its own, closed after the test, and passes on
   * the payloads of this store's schema only: the channel is shared by every store of the
   * database, and other test files run at once.
   */
  async function listenToOwnSchema(channel: string, onPayload: (payload: unknown[]) => void): Promise<void> {
    const listener = new pg.Client({ connectionString: url as string })
    await listener.connect()
    closers.push(() => listener.end())
    listener.on('notification', (message) => {
      const payload = JSON.parse(message.payload ?? 'null') as unknown[]
      if (message.channel === channel && payload[0] === schema) onPayload(payload)
    })
    await listener.query(`LISTEN ${channel}`)
  }

  it('only runs someone waits on notify their finish; the mark leaves updated_at alone', async () => {
    const payloads: unknown[] = []
    await listenToOwnSchema('errand_runs_finished', (payload) => payloads.push(payload))

    const driver = store.open()
    closers.push(() => driver.close())
    const runs = [newRun(), newRun(), newRun(), newRun()]
    await driver.runInsertMany({ now: new Date(), runs })
    const [done, failed, cancelled, waited] = runs.map((run) => run.id) as [string, string, string, string]
    const claimed = await driver.runClaim({ workerId: 'w', tasks: ['ping'], limit: 10, leaseMs: 60_000, now: new Date() })
    expect(claimed).toHaveLength(4)

    const before = await driver.runGet({ id: waited })
    const stop = await driver.watchRunFinished?.({ id: waited, onFinished: () => {} })
    expect(stop).toBeTypeOf('function')
    expect(await waitedIds()).toEqual([waited])
    expect((await driver.runGet({ id: waited }))?.updatedAt).toEqual(before?.updatedAt)

    const finish = (id: string, outcome: 'completed' | 'dead_lettered') =>
      driver.runFinishMany({
        now: new Date(),
        results: [
          outcome === 'completed'
            ? { id, attempt: 1, workerId: 'w', outcome, outputJson: '1' }
            : { id, attempt: 1, workerId: 'w', outcome, error: { name: 'Error', message: 'boom' } },
        ],
      })
    await finish(done, 'completed')
    await finish(failed, 'dead_lettered')
    await driver.runCancel({ id: cancelled, reason: null, now: new Date() })
    await finish(waited, 'completed')
    // Notifications arrive in commit order: had the unwaited finishes notified, they would be here first.
    await waitUntil(() => payloads.length >= 1, 10_000, 'the waited run to be notified')
    expect(payloads).toEqual([[schema, waited]])
    stop?.()
  })

  it('a wait on a run not started announces the run again a moment later, for a claim its mark may have hidden; on a running run it does not', async () => {
    const announced: number[] = []
    await listenToOwnSchema('errand_runs_available', () => announced.push(Date.now()))
    const driver = store.open()
    closers.push(() => driver.close())
    const [running, queued] = [newRun(), newRun()]
    await driver.runInsertMany({ now: new Date(), runs: [running] })
    expect(await driver.runClaim({ workerId: 'w', tasks: ['ping'], limit: 10, leaseMs: 60_000, now: new Date() })).toHaveLength(1)
    await sleep(200) // let the insert's own NOTIFY arrive and be counted out
    announced.length = 0
    const stopRunning = await driver.watchRunFinished?.({ id: running.id, onFinished: () => {} })
    await sleep(300)
    expect(announced).toEqual([])
    stopRunning?.()

    await driver.runInsertMany({ now: new Date(), runs: [queued] })
    await waitUntil(() => announced.length === 1, 10_000, "the insert's NOTIFY")
    const marked = Date.now()
    const stopQueued = await driver.watchRunFinished?.({ id: queued.id, onFinished: () => {} })
    await waitUntil(() => announced.length === 2, 10_000, 'the run announced again')
    expect(announced[1]! - marked).toBeGreaterThanOrEqual(5)
    stopQueued?.()
  })

  it('a finish during a LISTEN outage still ends the wait: every watch is woken when the connection is back', async () => {
    const { driver, pool, tag } = tagged()
    const gate = holdConnections(pool)
    let reads = 0
    const waiting = slowWaiter(afterEachRead(driver, () => reads++))
    const other = instance()
    const idle = await waiting.enqueue('idle', {})
    let settled = false
    const outcome = outcomeOf(waiting.runs.wait(idle.id, { timeout: WAIT_TIMEOUT }).finally(() => (settled = true)))
    // Armed, and the first read (run still queued) done: from here on, only a wake-up can end the wait.
    const pid = await waitUntil(() => listenerPid(tag), 10_000, 'the LISTEN session')
    await waitUntil(() => reads >= 1, 10_000, 'the first read')
    expect(await waitedIds()).toEqual([idle.id])

    gate.close()
    await admin.query('SELECT pg_terminate_backend($1)', [pid])
    await waitUntil(async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0, 10_000, 'the LISTEN session to end')
    await other.runs.cancel(idle.id, { reason: 'during the outage' })
    await sleep(300)
    expect(settled).toBe(false) // the notification was lost with the connection

    gate.open()
    expect(await outcome.within()).toMatchObject({ code: 'run_cancelled', run: { status: 'cancelled', cancelReason: 'during the outage' } })
    expect(await listenerPid(tag)).not.toBe(pid)
  })

  it('a wait that ends (here by timeout) stops watching: the LISTEN connection goes back to the pool', async () => {
    const { driver, tag } = tagged()
    const waiting = instance(driver)
    const idle = await waiting.enqueue('idle', {})
    const outcome = outcomeOf(idle.wait({ timeout: '2s' }))
    await waitUntil(() => listenerPid(tag), 5_000, 'the LISTEN session')
    expect(await outcome.within()).toMatchObject({ code: 'wait_timeout' })
    await waitUntil(async () => (await listenerPid(tag)) === null, 5_000, 'UNLISTEN after the wait')
  })

  it('with notifications off, waits poll as on SQLite and mark nothing', async () => {
    const driver = postgresStore({ connectionString: url as string }, { schema, notify: false })
    expect(await driver.watchRunFinished?.({ id: newRun().id, onFinished: () => {} })).toBeNull()
    const waiting = instance(driver)
    await instance().worker({ pollInterval: '50ms', tasks: ['ok'] }).start()
    expect(await waiting.enqueueAndWait('ok', {}, { timeout: '20s' })).toMatchObject({ output: 'done' })
    expect(await waitedIds()).toEqual([])
  })
})

/** The driver, counting each read of a run once it has returned. */
function afterEachRead(driver: StoreDriver, onRead: () => void): StoreDriver {
  return new Proxy(driver, {
    get(target, key) {
      if (key === 'runGet') return async (params: { id: string }) => (await target.runGet(params).finally(onRead))
      const value: unknown = Reflect.get(target, key, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

/** Holds back new connections from the pool while closed, as a server out of reach would. */
function holdConnections(pool: pg.Pool): { close(): void; open(): void } {
  const connect = pool.connect.bind(pool) as (callback?: (...args: unknown[]) => void) => Promise<pg.PoolClient> | undefined
  let opened: Promise<void> = Promise.resolve()
  let open = () => {}
  Object.assign(pool, {
    connect: (callback?: (...args: unknown[]) => void) => {
      if (callback) return void opened.then(() => connect(callback))
      return opened.then(() => connect())
    },
  })
  return {
    close: () => (opened = new Promise((resolve) => (open = resolve))),
    open: () => open(),
  }
}
