/**
 * pg-boss 12: `send` one at a time, `insert` in bulk. Its worker polls: defaults are one job
 * every 2 s per worker, so the plain concurrency variants use `localConcurrency` workers at
 * the shortest documented interval (0.5 s). Tuned form is the documented batch mode: the
 * handler receives arrays of `batchSize` jobs, and `burstWhenBatchFull` keeps fetching while
 * batches come back full. The queue is created with `notify: true` so an idle worker is
 * woken by NOTIFY rather than by its next poll.
 */
import { PgBoss } from 'pg-boss'
import { TASK, type Adapter, type Payload, type SystemDef, type Variant } from './system.js'

async function open(url: string): Promise<Adapter> {
  const boss = new PgBoss({ connectionString: url })
  boss.on('error', (error) => console.error(`[pg-boss] ${error.message}`))
  await boss.start()
  await boss.createQueue(TASK, { notify: true })
  return {
    enqueueOne: async (payload) => void (await boss.send(TASK, payload)),
    enqueueMany: async (payloads) => void (await boss.insert(TASK, payloads.map((data) => ({ data })))),
    async work(variant, onJob) {
      const options = variant.defaults
        ? {}
        : variant.tuned
          ? { batchSize: 500, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 }
          : { localConcurrency: variant.concurrency, pollingIntervalSeconds: 0.5 }
      await boss.work<Payload>(TASK, options, async (jobs) => {
        for (const job of jobs) onJob(job.data)
      })
    },
    close: () => boss.stop({ graceful: false }),
  }
}

const variants: Variant[] = [
  { key: 'default', label: 'defaults (one worker, 1 job per fetch, polls every 2 s)', concurrency: 1, defaults: true },
  ...[1, 10, 50].map((c) => ({ key: `c${c}`, label: `localConcurrency ${c}, pollingIntervalSeconds 0.5`, concurrency: c })),
  { key: 'tuned', label: 'batchSize 500, burstWhenBatchFull', concurrency: 1, tuned: true },
]

/**
 * Pickup latency uses the tuned worker: with its defaults (1 job per 2 s) jobs arriving every
 * 20 ms queue up behind the poll, which measures the backlog, not the pickup.
 */
export const pgBoss: SystemDef = { name: 'pg-boss', store: 'postgres', pkg: 'pg-boss', variants, defaultWorker: variants[4]!, open }
