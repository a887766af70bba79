/**
 * When a worker claims. A claim that comes back short means nothing else is due: the
 * worker then waits for a wake-up (an enqueue in this process, NOTIFY or the store's watch
 * from others, a timer, the poll) instead of claiming again each time a run finishes. The
 * cases that used to be covered by those claims are checked here with the poll far away,
 * so only the right wake-up can start the run in time.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Errand } from '../src/index.js'
import type { StoreDriver } from '../src/storage/driver.js'
import { deferred, nextEvent, waitUntil } from './support/errand.js'
import { storeKinds, type TestStore } from './support/stores.js'

const noPoll = { pollInterval: '10m', maintenanceInterval: '10m' } as const

describe.each(storeKinds())('worker claims on $name', (kind) => {
  let store: TestStore
  let errand: Errand
  let claims: number[]

  beforeEach(async () => {
    store = await kind.create()
    claims = []
    const driver = store.open()
    // The real store, with every claim's size recorded.
    const counted: StoreDriver = Object.create(driver, {
      runClaim: {
        value: async (params: Parameters<StoreDriver['runClaim']>[0]) => {
          const claimed = await driver.runClaim(params)
          claims.push(claimed.length)
          return claimed
        },
      },
    })
    errand = new Errand({ store: counted })
  })

  afterEach(async () => {
    await errand.close({ timeout: '5s' })
    await store.cleanup()
  })

  it('claims once per enqueue, not again each time a run finishes', async () => {
    const ping = errand.task('ping', {}, async (n: number) => n)
    await errand.worker({ ...noPoll, concurrency: 10 }).start()
    for (let i = 0; i < 20; i++) {
      // Not `wait()`: on PostgreSQL a wait on a run not yet started announces it again (below).
      const completed = nextEvent(errand, 'run.completed', ({ run }) => run.payload === i)
      await ping.enqueue(i)
      await completed
    }
    // The claim at start finds nothing; each enqueue's wake-up claims its run. Before, each
    // finished run was followed by a claim that found nothing: 20 more.
    expect(claims.filter((size) => size === 1)).toHaveLength(20)
    expect(claims.filter((size) => size === 0).length).toBeLessThanOrEqual(1)
  })

  // On PostgreSQL the wait's mark locks the run's row for a moment, and a claim meeting
  // the lock skips the run: the mark announces the run again (it used to wait for the poll).
  it('a run waited on as soon as it is enqueued starts at once on an idle worker', async () => {
    const ping = errand.task('ping', {}, async (n: number) => n)
    await errand.worker({ ...noPoll, concurrency: 1 }).start()
    for (let i = 0; i < 40; i++) await expect((await ping.enqueue(i)).wait({ timeout: '5s' })).resolves.toMatchObject({ output: i })
  })

  it('a run enqueued while every slot is busy starts when a slot frees, without the poll', async () => {
    const gate = deferred()
    const started: string[] = []
    const job = errand.task('job', {}, async (name: string) => {
      started.push(name)
      if (name === 'first') await gate.promise
    })
    await errand.worker({ ...noPoll, concurrency: 1 }).start()
    const first = await job.enqueue('first')
    await waitUntil(() => started.includes('first'), 10_000, 'first started')
    const second = await job.enqueue('second') // its wake-up finds no free slot
    gate.resolve()
    await first.wait({ timeout: '10s' })
    await expect(second.wait({ timeout: '10s' })).resolves.toMatchObject({ status: 'completed' })
  })

  it("a serial queue's next run starts when the running one is cancelled, without the poll", async () => {
    const job = errand.task('job', {}, async (name: string, ctx) => {
      if (name === 'head') await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
    })
    await errand.worker({ ...noPoll, concurrency: 5 }).start()
    const head = await job.enqueue('head', { queue: 'serial' })
    await waitUntil(async () => (await head.get())?.status === 'running', 10_000, 'head running')
    const before = claims.length
    const next = await job.enqueue('next', { queue: 'serial' })
    // Its wake-up's claim comes back short: the queue is held by the head.
    await waitUntil(() => claims.length > before, 10_000, 'the claim of the wake-up of "next"')
    await errand.runs.cancel(head.id)
    await expect(next.wait({ timeout: '10s' })).resolves.toMatchObject({ status: 'completed' })
  })

  it("a serial queue's next run is claimed when a run held for a slot is cancelled, without the poll", async () => {
    const gate = deferred()
    const job = errand.task('job', {}, async (name: string) => {
      if (name === 'blocker') await gate.promise
    })
    await errand.worker({ ...noPoll, concurrency: 1, prefetch: 5 }).start()
    const blocker = await job.enqueue('blocker')
    await waitUntil(async () => (await blocker.get())?.status === 'running', 10_000, 'blocker running')
    const first = await job.enqueue('first', { queue: 'serial' })
    await waitUntil(async () => (await first.get())?.status === 'running', 10_000, 'first claimed and held')
    const before = claims.length
    const second = await job.enqueue('second', { queue: 'serial' })
    // Its wake-up's claim comes back short: the queue is held by the first.
    await waitUntil(() => claims.length > before, 10_000, 'the claim of the wake-up of "second"')
    expect((await second.get())?.status).toBe('queued')
    await errand.runs.cancel(first.id) // held, never started: dropped from the worker
    await waitUntil(async () => (await second.get())?.status === 'running', 10_000, 'second claimed')
    gate.resolve()
    await expect(second.wait({ timeout: '10s' })).resolves.toMatchObject({ status: 'completed' })
  })

  it('runs another worker of this process gives back at its stop start here, without the poll', async () => {
    const gate = deferred()
    const ran: number[] = []
    const job = errand.task('job', {}, async (n: number) => {
      ran.push(n)
      await gate.promise
    })
    const first = errand.worker({ ...noPoll, concurrency: 1, prefetch: 5 })
    await first.start()
    const handles = await job.enqueueMany([0, 1, 2, 3, 4, 5])
    await waitUntil(async () => (await errand.runs.list({ status: ['running'], limit: 10 })).runs.length === 6, 10_000, 'six claimed')
    const second = errand.worker({ ...noPoll, concurrency: 5 })
    await second.start() // its first claim finds every run taken
    const stopping = first.stop({ timeout: '10s' }) // gives back its five held runs at once
    await waitUntil(() => ran.length === 6, 10_000, 'the five given back started on the second worker')
    gate.resolve()
    await stopping
    for (const handle of handles) await handle.wait({ timeout: '10s' })
  })
})
