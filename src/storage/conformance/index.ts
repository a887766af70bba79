/**
 * The behavioural suite every store must pass. A test file calls
 * `describeDriverConformance('sqlite', factory)`; each test gets a fresh, empty store.
 */
import { afterEach, beforeEach, describe } from 'vitest'
import type { StoreDriver } from '../driver.js'
import { claimSuite } from './claim.js'
import type { ConformanceStore, ConformanceStoreFactory, SuiteContext } from './fixtures.js'
import { finishSuite } from './finish.js'
import { flagsAndBatchesSuite } from './flags-and-batches.js'
import { insertAndReadSuite } from './insert-and-read.js'
import { insightsSuite } from './insights.js'
import { jobKeySuite } from './job-keys.js'
import { maintenanceSuite } from './maintenance.js'
import { queueSuite } from './queues.js'
import { schedulesSuite } from './schedules.js'
import { stepsSuite } from './steps.js'
import { watchSuite } from './watch.js'

export type { ConformanceStore, ConformanceStoreFactory } from './fixtures.js'

export function describeDriverConformance(name: string, factory: ConformanceStoreFactory): void {
  describe(`store conformance: ${name}`, () => {
    let store: ConformanceStore | null = null
    let drivers: StoreDriver[] = []

    beforeEach(async () => {
      store = await factory()
      drivers = [store.open()]
      await (drivers[0] as StoreDriver).migrate()
    })

    afterEach(async () => {
      await Promise.all(drivers.map((d) => d.close()))
      drivers = []
      await store?.cleanup()
      store = null
    })

    const context: SuiteContext = {
      driver: () => drivers[0] as StoreDriver,
      another: () => {
        if (!store) throw new Error('no store')
        const driver = store.open()
        drivers.push(driver)
        return driver
      },
    }

    insertAndReadSuite(context)
    claimSuite(context)
    finishSuite(context)
    maintenanceSuite(context)
    jobKeySuite(context)
    queueSuite(context)
    flagsAndBatchesSuite(context)
    schedulesSuite(context)
    stepsSuite(context)
    insightsSuite(context)
    watchSuite(context)
  })
}
