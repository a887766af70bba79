/**
 * BullMQ on Redis: `add` one at a time, `addBulk` in bulk. Redis here keeps data in memory
 * only (no AOF, no snapshots), so it does not pay for durable commits as the PostgreSQL
 * systems do. Tuned form: concurrency 50 and completed jobs auto-removed (its docs' advice
 * for production), so Redis memory does not grow with history.
 */
import { Queue, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { TASK, plainVariants, type Adapter, type Payload, type SystemDef } from './system.js'

async function open(url: string, queueName: string): Promise<Adapter> {
  // Under ESM, BullMQ wants a constructed client; workers need maxRetriesPerRequest null (its docs).
  const connection = new Redis(url, { maxRetriesPerRequest: null })
  const queue = new Queue(queueName, { connection })
  await queue.waitUntilReady()
  let worker: Worker | null = null
  return {
    enqueueOne: async (payload) => void (await queue.add(TASK, payload)),
    enqueueMany: async (payloads) => void (await queue.addBulk(payloads.map((data) => ({ name: TASK, data })))),
    async work(variant, onJob) {
      worker = new Worker(queueName, async (job) => onJob(job.data as Payload), {
        connection,
        concurrency: variant.concurrency,
        ...(variant.tuned ? { removeOnComplete: { count: 1000 } } : {}),
      })
      worker.on('error', (error) => console.error(`[bullmq] ${error.message}`))
      await worker.waitUntilReady()
    },
    async close() {
      await worker?.close(true)
      await queue.close()
      connection.disconnect()
    },
  }
}

/** The tuned setting removes completed jobs (all but the last 1,000), as its docs advise for production. */
const NA = 'n/a: deletes finished jobs (removeOnComplete, its tuned setting)'

export const bullmq: SystemDef = {
  name: 'BullMQ (Redis)',
  store: 'redis',
  pkg: 'bullmq',
  variants: [
    ...plainVariants((c) => (c === 1 ? 'concurrency 1 (its default)' : `concurrency ${c}`)),
    { key: 'tuned', label: 'concurrency 50, removeOnComplete { count: 1000 }', concurrency: 50, tuned: true },
  ],
  defaultWorker: { key: 'default', label: 'defaults (concurrency 1)', concurrency: 1 },
  open,
  retained: { na: NA },
}
