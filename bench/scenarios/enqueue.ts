/**
 * Enqueue throughput: runs one at a time (each `enqueue` awaited before the next, as a
 * request handler would), and in batches with `enqueueMany`. Each in a fresh store.
 */
import { performance } from 'node:perf_hooks'
import type { BenchConfig } from '../config.js'
import { processFigures, profileStatements, watchEventLoop } from '../instrument.js'
import type { ChildJob, JobResult } from '../jobs.js'
import type { ScenarioPlan } from '../plan.js'
import { runChild } from '../spawn.js'
import type { BenchTarget } from '../targets.js'
import { openSession, rssMb, storeFigures } from './errand-session.js'

type EnqueueJob = Extract<ChildJob, { kind: 'enqueue' }>

export async function enqueueJob(job: EnqueueJob): Promise<JobResult> {
  const profiler = job.profile && job.spec.kind === 'sqlite' ? profileStatements() : null
  const { errand, task, counter } = await openSession(job.spec)
  const baseRssMb = rssMb()
  const cpu = process.cpuUsage()
  counter.start()
  profiler?.start()
  const loop = watchEventLoop()
  const t0 = performance.now()
  if (job.batch === 1) {
    for (let i = 0; i < job.runs; i++) await task.enqueue({ i })
  } else {
    for (let i = 0; i < job.runs; i += job.batch) {
      const size = Math.min(job.batch, job.runs - i)
      await task.enqueueMany(Array.from({ length: size }, (_, k) => ({ i: i + k })))
    }
  }
  const elapsedMs = performance.now() - t0
  const eventLoopMaxMs = loop.maxMs()
  counter.stop()
  const result: JobResult = {
    runs: job.runs,
    elapsedMs,
    perSec: (job.runs / elapsedMs) * 1000,
    ...storeFigures(counter, job.runs),
    ...processFigures(cpu, job.runs),
    baseRssMb,
    eventLoopMaxMs,
    ...(profiler ? { statements: Object.fromEntries(profiler.stats) } : {}),
  }
  await errand.close()
  return result
}

export function enqueuePlans(config: BenchConfig, target: BenchTarget): ScenarioPlan[] {
  const plan = (batch: number, scenario: string, label: string): ScenarioPlan => ({
    group: 'enqueue',
    scenario,
    target: target.name,
    label,
    async measure(dir) {
      const location = await target.fresh(dir)
      try {
        return await runChild<JobResult>({ kind: 'enqueue', spec: location.spec, runs: config.runs, batch, profile: config.profile })
      } finally {
        await location.cleanup()
      }
    },
  })
  return [
    plan(1, 'enqueue.single', 'enqueue, one at a time'),
    plan(config.enqueueBatch, `enqueue.batch${config.enqueueBatch}`, `enqueueMany, batches of ${config.enqueueBatch}`),
  ]
}
