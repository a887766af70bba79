/**
 * In-process companion of the process-level tests, for what they caught under load: a run
 * whose handler has returned is still held by its worker until its result is written. If
 * that write is slow (a busy SQLite lock, a slow database, the completion batcher backing
 * off after an error), the lease must keep being renewed; otherwise another worker's
 * maintenance rescues the run and it runs twice although its worker never died. The
 * store's `runFinishMany` is slowed down here to make that certain.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { Errand } from '../src/runtime/errand.js'
import type { StoreDriver } from '../src/storage/driver.js'
import { storeKinds, type TestStore } from './support/stores.js'

describe.each(storeKinds())('lease of a run whose result waits to be written ($name)', (kind) => {
  let store: TestStore | undefined
  let errand: Errand | undefined
  let other: StoreDriver | undefined

  afterEach(async () => {
    await errand?.close({ timeout: '1s' })
    await other?.close()
    await store?.cleanup()
    store = errand = other = undefined
  })

  it('is renewed until the write lands: no rescue, one execution', { timeout: 30_000 }, async () => {
    store = await kind.create()
    const inner = store.open()
    const WRITE_DELAY_MS = 2_500
    let slowWrites = 1
    // The first completion write reaches the store 2.5 s late (more than twice the lease).
    const driver = new Proxy(inner, {
      get(target, property, receiver) {
        if (property === 'runFinishMany') {
          return async (params: Parameters<StoreDriver['runFinishMany']>[0]) => {
            if (slowWrites-- > 0) await sleep(WRITE_DELAY_MS)
            return target.runFinishMany(params)
          }
        }
        const value = Reflect.get(target, property, receiver) as unknown
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
      },
    })
    errand = new Errand({ store: driver })
    let executions = 0
    const task = errand.task('quick', {}, async () => {
      executions++
      return 'done'
    })
    const worker = errand.worker({ lease: '1s', heartbeatInterval: '200ms', maintenanceInterval: '1h', pollInterval: '50ms' })
    await worker.start()
    const handle = await task.enqueue({})

    // Another process's maintenance, sweeping for expired leases while the write is slow.
    other = store.open()
    const rescued: string[] = []
    const until = Date.now() + WRITE_DELAY_MS + 1_000
    while (Date.now() < until) {
      for (const run of await other.runRescueExpired({ now: new Date(), limit: 10 })) rescued.push(`${run.id}#${run.attempt}`)
      await sleep(100)
    }
    const run = await handle.wait({ timeout: '10s' })
    const attempts = await errand.runs.attempts(handle.id)

    expect(rescued).toEqual([])
    expect(run.status).toBe('completed')
    expect(attempts.map((attempt) => attempt.outcome)).toEqual(['completed'])
    expect(executions).toBe(1)
  })
})
