/**
 * Entry point of bench child processes (started by spawn.ts): runs the job given as JSON
 * in argv[2], sends the result to the parent, and exits.
 */
import type { ChildJob, JobResult } from './jobs.js'
import { drainJob, seedJob } from './scenarios/process.js'
import { enqueueJob } from './scenarios/enqueue.js'
import { inProcessLatencyJob, producerJob, workerLatencyJob } from './scenarios/latency.js'
import { rawJob } from './scenarios/raw-sqlite.js'
import type { ChildMessage } from './spawn.js'

async function run(job: ChildJob): Promise<JobResult | null> {
  switch (job.kind) {
    case 'enqueue':
      return enqueueJob(job)
    case 'seed':
      return seedJob(job).then(() => null)
    case 'drain':
      return drainJob(job)
    case 'latency-inprocess':
      return inProcessLatencyJob(job)
    case 'latency-worker':
      return workerLatencyJob(job, () => send({ type: 'ready' }))
    case 'latency-producer':
      return producerJob(job).then(() => null)
    case 'raw':
      return rawJob(job)
  }
}

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => (process.send ? process.send(message, () => resolve()) : resolve()))
}

const job = JSON.parse(process.argv[2] ?? 'null') as ChildJob
try {
  const value = await run(job)
  await send({ type: 'result', value })
  process.exit(0)
} catch (error) {
  const err = error instanceof Error ? error : new Error(String(error))
  await send({ type: 'error', message: err.message, stack: err.stack })
  process.exit(1)
}
