/**
 * Processing throughput: a store filled with due no-op runs, drained by one worker. The
 * seeding runs in its own process and the worker in another, so the worker's resident
 * memory at the end is the scenario's alone. Time runs from `worker.start()` until the
 * last `run.completed` event: that event fires after the completion is committed, so
 * counting events detects the end without reading the table.
 */
import { performance } from 'node:perf_hooks'
import type { BenchConfig } from '../config.js'
import { processFigures, profileStatements, watchEventLoop } from '../instrument.js'
import type { ChildJob, JobResult } from '../jobs.js'
import type { ScenarioPlan } from '../plan.js'
import { runChild } from '../spawn.js'
import type { BenchTarget } from '../targets.js'
import { openSession, rssMb, storeFigures } from './errand-session.js'

type SeedJob = Extract<ChildJob, { kind: 'seed' }>
type DrainJob = Extract<ChildJob, { kind: 'drain' }>

export async function seedJob(job: SeedJob): Promise<void> {
  const { errand, task } = await openSession(job.spec)
  for (let i = 0; i < job.runs; i += job.batch) {
    await task.enqueueMany(Array.from({ length: Math.min(job.batch, job.runs - i) }, (_, k) => ({ i: i + k })))
  }
  await errand.close()
}

export async function drainJob(job: DrainJob): Promise<JobResult> {
  // Installed before the store opens; it only starts counting with `start()`.
  const profiler = job.profile && job.spec.kind === 'sqlite' ? profileStatements() : null
  const { errand, counter } = await openSession(job.spec)
  let completed = 0
  let errors = 0
  let endedAt = 0
  let firstAt = 0
  let allDone: () => void = () => {}
  const finished = new Promise<void>((resolve) => (allDone = resolve))
  errand.on('run.completed', () => {
    if (completed === 0) firstAt = performance.now()
    if (++completed === job.runs) {
      endedAt = performance.now()
      allDone()
    }
  })
  errand.on('worker.error', () => errors++)
  const worker = errand.worker({ concurrency: job.concurrency })
  const baseRssMb = rssMb()
  const cpu = process.cpuUsage()
  counter.start()
  profiler?.start()
  const loop = watchEventLoop()
  const startedAt = performance.now()
  await worker.start()
  await finished
  const elapsedMs = endedAt - startedAt
  const eventLoopMaxMs = loop.maxMs()
  counter.stop()
  // Memory is read while the worker still runs: what a busy worker holds.
  const figures = processFigures(cpu, job.runs)
  await errand.close()
  return {
    runs: job.runs,
    elapsedMs,
    perSec: (job.runs / elapsedMs) * 1000,
    ...storeFigures(counter, job.runs),
    ...figures,
    baseRssMb,
    errors,
    eventLoopMaxMs,
    firstEventMs: firstAt - startedAt,
    ...(profiler ? { statements: Object.fromEntries(profiler.stats) } : {}),
  }
}

export function processPlans(config: BenchConfig, target: BenchTarget): ScenarioPlan[] {
  return config.concurrencies.map((concurrency) => ({
    group: 'process',
    scenario: `process.c${concurrency}`,
    target: target.name,
    label: `process, concurrency ${concurrency}`,
    async measure(dir) {
      const location = await target.fresh(dir)
      try {
        await runChild({ kind: 'seed', spec: location.spec, runs: config.runs, batch: config.enqueueBatch })
        return await runChild<JobResult>({ kind: 'drain', spec: location.spec, runs: config.runs, concurrency, profile: config.profile })
      } finally {
        await location.cleanup()
      }
    },
  }))
}
