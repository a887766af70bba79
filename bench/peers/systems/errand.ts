/**
 * errand, from this repository's source (not a published build), on PostgreSQL and on
 * SQLite. Tuned form: concurrency 100, so each claim takes 100 runs (batchSize defaults to
 * concurrency); that is the one documented setting, nothing else changes.
 */
import { createErrand } from '../../../src/index.js'
import type { StoreDriver } from '../../../src/storage/driver.js'
import { postgresStore } from '../../../src/storage/postgres/index.js'
import { sqliteStore } from '../../../src/storage/sqlite/index.js'
import { TASK, plainVariants, type Adapter, type Payload, type SystemDef } from './system.js'

async function openErrand(store: StoreDriver): Promise<Adapter> {
  const errand = createErrand({ store })
  let onJob: (payload: Payload) => void = () => {}
  const task = errand.task(TASK, {}, (payload) => {
    onJob(payload as Payload)
  })
  await errand.migrate()
  return {
    enqueueOne: async (payload) => void (await task.enqueue(payload)),
    enqueueMany: async (payloads) => void (await task.enqueueMany(payloads)),
    async work(variant, handler) {
      onJob = handler
      await errand.worker({ concurrency: variant.concurrency }).start()
    },
    close: () => errand.close(),
  }
}

const variants = [
  ...plainVariants((c) => `concurrency ${c}`),
  { key: 'tuned', label: 'concurrency 100 (claims 100 per statement)', concurrency: 100, tuned: true },
]
const defaultWorker = { key: 'default', label: 'defaults (concurrency 10)', concurrency: 10 }

export const errandPostgres: SystemDef = {
  name: 'errand (PostgreSQL)',
  store: 'postgres',
  pkg: 'errand',
  variants,
  defaultWorker,
  open: (url) => openErrand(postgresStore({ connectionString: url })),
}

export const errandSqlite: SystemDef = {
  name: 'errand (SQLite)',
  store: 'sqlite',
  pkg: 'errand',
  variants,
  defaultWorker,
  open: (path) => openErrand(sqliteStore({ path })),
}
