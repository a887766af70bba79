/**
 * Cross-process wake-ups of the SQLite store: a driver watching `PRAGMA data_version` wakes
 * its workers when another connection commits a run that is due now, and only then. The
 * worker tests poll once an hour, so the poll cannot be what started the run.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Errand } from '../src/index.js'
import type { StoreDriver } from '../src/storage/driver.js'
import { sqliteStore } from '../src/storage/sqlite/index.js'
import { nextEvent, waitUntil } from './support/errand.js'
import { storeKinds, type TestStore } from './support/stores.js'
import { newRun } from './support/new-run.js'


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('sqlite: cross-process wake-ups (data_version watch)', () => {
  const kind = storeKinds().find((candidate) => candidate.name === 'sqlite')!
  let store: TestStore
  let path: string
  let closers: Array<() => Promise<unknown>>

  beforeEach(async () => {
    store = await kind.create()
    path = (store.spec as { path: string }).path
    closers = []
  })

  afterEach(async () => {
    for (const close of closers.reverse()) await close()
    await store.cleanup()
  })

  function open(options: { watchIntervalMs?: number } = {}): StoreDriver {
    const driver = sqliteStore({ path, ...options })
    closers.push(() => driver.close())
    return driver
  }

  it('wakes a listener when another connection commits a due run, not for its own writes or runs due later', async () => {
    const watching = open({ watchIntervalMs: 10 })
    const other = open()
    let wakes = 0
    const unsubscribe = watching.subscribeRunsAvailable!(() => wakes++)

    await watching.runInsertMany({ now: new Date(), runs: [newRun()] })
    await sleep(100)
    expect(wakes).toBe(0) // its own commit: the runtime wakes local workers itself

    await other.runClaim({ workerId: 'w', tasks: ['ping'], limit: 10, leaseMs: 60_000, now: new Date() })
    await sleep(100)
    expect(wakes).toBe(0) // a commit that leaves nothing due

    await other.runInsertMany({ now: new Date(), runs: [newRun({ status: 'scheduled', runAt: new Date(Date.now() + 60_000) })] })
    await sleep(100)
    expect(wakes).toBe(0) // due later: the poll or the promotion finds it

    await other.runInsertMany({ now: new Date(), runs: [newRun()] })
    await waitUntil(() => wakes > 0, 5_000, 'a wake-up')
    unsubscribe()
    await other.runInsertMany({ now: new Date(), runs: [newRun()] })
    const before = wakes
    await sleep(100)
    expect(wakes).toBe(before) // unsubscribed
  })

  it('an idle worker that polls once an hour starts a run enqueued by another errand instance', async () => {
    const consumer = new Errand({ store: open() })
    const producer = new Errand({ store: open() })
    closers.push(() => consumer.close({ timeout: '2s' }), () => producer.close())
    for (const errand of [consumer, producer]) errand.task('ping', {}, async () => 'pong')
    const worker = consumer.worker({ pollInterval: '1h' })
    await worker.start()
    await sleep(100) // past the start-up claim
    for (let i = 0; i < 3; i++) {
      const run = await producer.enqueue('ping', {})
      const started = await nextEvent(consumer, 'run.started', (event) => event.run.id === run.id, 10_000)
      expect(started.run.id).toBe(run.id)
    }
  })

  it('a wait ends when another instance finishes the run: woken by the watch, not by its reads', async () => {
    const waiting = new Errand({ store: open() })
    const working = new Errand({ store: open() })
    closers.push(() => waiting.close(), () => working.close({ timeout: '2s' }))
    // Reads every ten minutes: within the waits' 40 s timeouts only a wake-up can end them.
    const tenMinutes = { firstMs: 600_000, maxMs: 600_000 }
    waiting['internals'].waitPacing = { polled: tenMinutes, notified: tenMinutes }
    for (const errand of [waiting, working]) {
      errand.task('ok', {}, async () => 'done')
      errand.task('idle', {}, async () => 'never started: no worker runs this task')
    }
    await working.worker({ pollInterval: '50ms', tasks: ['ok'] }).start()
    const completed = waiting.enqueueAndWait('ok', {}, { timeout: '40s' })
    const idle = await waiting.enqueue('idle', {})
    const cancelled = waiting.runs.wait(idle.id, { timeout: '40s' }).catch((error: unknown) => error)
    await sleep(100) // both waits armed and past their first read
    await working.runs.cancel(idle.id, { reason: 'not needed' })
    expect(await completed).toMatchObject({ output: 'done', run: { status: 'completed' } })
    expect(await cancelled).toMatchObject({ code: 'run_cancelled', run: { id: idle.id, status: 'cancelled' } })
  })

  it('watchIntervalMs 0 turns the watch off', async () => {
    const quiet = open({ watchIntervalMs: 0 })
    const other = open()
    let wakes = 0
    quiet.subscribeRunsAvailable!(() => wakes++)
    await other.runInsertMany({ now: new Date(), runs: [newRun()] })
    await sleep(150)
    expect(wakes).toBe(0)
  })
})
