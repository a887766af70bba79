/**
 * A worker holds at most twice its concurrency: runs executing plus finished runs whose
 * result still waits for its batched write. The store's completion writes are slowed down
 * here (a real store behind a delaying wrapper), the situation in which finished runs used
 * to pile up without bound behind a slow write.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Errand } from '../src/index.js'
import type { StoreDriver } from '../src/storage/driver.js'
import { waitUntil } from './support/errand.js'
import { storeKinds, type TestStore } from './support/stores.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.each(storeKinds())('worker hold limit on $name', (kind) => {
  let store: TestStore
  let errand: Errand

  beforeEach(async () => {
    store = await kind.create()
  })

  afterEach(async () => {
    await errand?.close({ timeout: '5s' })
    await store.cleanup()
  })

  it('never holds more than twice its concurrency while completion writes are slow', async () => {
    const driver = store.open()
    let held = 0
    let maxHeld = 0
    let writes = 0
    const slowed: StoreDriver = Object.create(driver, {
      runClaim: {
        value: async (params: Parameters<StoreDriver['runClaim']>[0]) => {
          const claimed = await driver.runClaim(params)
          held += claimed.length
          maxHeld = Math.max(maxHeld, held)
          return claimed
        },
      },
      runFinishMany: {
        value: async (params: Parameters<StoreDriver['runFinishMany']>[0]) => {
          writes++
          await sleep(150)
          const applied = await driver.runFinishMany(params)
          held -= params.results.length
          return applied
        },
      },
    })
    errand = new Errand({ store: slowed })
    errand.task('noop', {}, async () => {})
    await errand.enqueueMany('noop', Array.from({ length: 300 }, (_, i) => i))
    const concurrency = 5
    await errand.worker({ concurrency }).start()
    await waitUntil(async () => (await errand.runs.list({ status: 'completed', limit: 300 })).runs.length === 300, 60_000, 'all runs completed')
    expect(writes).toBeGreaterThan(1)
    expect(maxHeld).toBeGreaterThan(concurrency) // claims went on while results were being written
    expect(maxHeld).toBeLessThanOrEqual(2 * concurrency)
  })
})
