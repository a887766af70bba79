/**
 * graphile-worker: `addJob` one at a time, `addJobs` in bulk (both through WorkerUtils, as
 * its docs recommend for application code). Tuned form is the one its release notes give
 * for high throughput: local queue (fetch and lock a batch, hand out locally) sized well
 * above concurrency, and batched completion with `completeJobBatchDelay: 0`.
 */
import { Logger, makeWorkerUtils, run, type Runner } from 'graphile-worker'
import { TASK, plainVariants, type Adapter, type Payload, type SystemDef } from './system.js'

async function open(url: string): Promise<Adapter> {
  const utils = await makeWorkerUtils({ connectionString: url })
  await utils.migrate()
  let runner: Runner | null = null
  return {
    enqueueOne: async (payload) => void (await utils.addJob(TASK, payload)),
    enqueueMany: async (payloads) => void (await utils.addJobs(payloads.map((payload) => ({ identifier: TASK, payload })))),
    async work(variant, onJob) {
      runner = await run({
        connectionString: url,
        concurrency: variant.concurrency,
        noHandleSignals: true,
        // Its default logger prints a line per job start at info level; that would time the terminal.
        logger: quietLogger,
        taskList: { [TASK]: async (payload) => onJob(payload as Payload) },
        ...(variant.tuned ? { preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0 } } } : {}),
      })
    },
    async close() {
      await runner?.stop()
      await utils.release()
    },
  }
}

/** graphile-worker deletes a job when it completes: there is no history of finished jobs to retain. */
const NA = 'n/a: deletes finished jobs'

const quietLogger = new Logger(() => (level: string, message: string) => {
  if (level === 'error') console.error(`[graphile-worker] ${message}`)
})

export const graphileWorker: SystemDef = {
  name: 'graphile-worker',
  store: 'postgres',
  pkg: 'graphile-worker',
  variants: [
    ...plainVariants((c) => (c === 1 ? 'concurrency 1 (its default)' : `concurrency ${c}`)),
    { key: 'tuned', label: 'concurrency 50, localQueue.size 500, completeJobBatchDelay 0', concurrency: 50, tuned: true },
  ],
  defaultWorker: { key: 'default', label: 'defaults (concurrency 1)', concurrency: 1 },
  open,
  retained: { na: NA },
}
