/**
 * Enqueue-to-start latency with an idle worker: runs enqueued `gapMs` apart, each timed
 * from just before `enqueue` to the first line of its handler. The enqueue time travels in
 * the payload on a wall-clock-based, sub-millisecond clock (`timeOrigin + now()`), so the
 * worker can measure it even when it runs in another process.
 *
 * In one process, enqueue wakes the worker directly. Across processes nothing does: the
 * worker finds runs by polling, so its poll interval sets the pickup time.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { BenchConfig } from '../config.js'
import type { ChildJob, JobResult } from '../jobs.js'
import type { ScenarioPlan } from '../plan.js'
import { percentile } from '../results.js'
import { runChild, startChild } from '../spawn.js'
import type { BenchTarget, StoreSpec } from '../targets.js'
import { openSession, storeFigures, type ErrandSession } from './errand-session.js'

type Job<K extends ChildJob['kind']> = Extract<ChildJob, { kind: K }>
interface Stamp {
  i: number
  t0: number
}

const epochNow = (): number => performance.timeOrigin + performance.now()

/** An errand session whose handler records each run's pickup latency; `all` resolves at the last one. */
async function recordingSession(spec: StoreSpec, runs: number): Promise<ErrandSession & { latencies: number[]; all: Promise<void> }> {
  const latencies: number[] = []
  let seen = 0
  let allSeen: () => void = () => {}
  const all = new Promise<void>((resolve) => (allSeen = resolve))
  const session = await openSession(spec, (payload) => {
    const stamp = payload as Stamp
    latencies[stamp.i] = epochNow() - stamp.t0
    if (++seen === runs) allSeen()
  })
  return { ...session, latencies, all }
}

/** Enqueues one run every `gapMs`, on a fixed schedule so a slow enqueue does not push the rest back. */
async function produce(session: ErrandSession, runs: number, gapMs: number): Promise<void> {
  const start = performance.now()
  for (let i = 0; i < runs; i++) {
    const wait = start + i * gapMs - performance.now()
    if (wait > 0) await sleep(wait)
    await session.task.enqueue({ i, t0: epochNow() } satisfies Stamp)
  }
}

function latencyResult(session: ErrandSession, latencies: number[], runs: number, elapsedMs: number): JobResult {
  return {
    runs,
    elapsedMs,
    latency: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), max: Math.max(...latencies) },
    ...storeFigures(session.counter, runs),
  }
}

export async function inProcessLatencyJob(job: Job<'latency-inprocess'>): Promise<JobResult> {
  const session = await recordingSession(job.spec, job.runs)
  await session.errand.worker({}).start()
  session.counter.start()
  const t0 = performance.now()
  await produce(session, job.runs, job.gapMs)
  await session.all
  const result = latencyResult(session, session.latencies, job.runs, performance.now() - t0)
  await session.errand.close()
  return result
}

export async function workerLatencyJob(job: Job<'latency-worker'>, ready: () => Promise<void>): Promise<JobResult> {
  const session = await recordingSession(job.spec, job.runs)
  await session.errand.worker(job.pollInterval ? { pollInterval: job.pollInterval } : {}).start()
  session.counter.start()
  const t0 = performance.now()
  await ready()
  await session.all
  const result = latencyResult(session, session.latencies, job.runs, performance.now() - t0)
  await session.errand.close()
  return result
}

export async function producerJob(job: Job<'latency-producer'>): Promise<void> {
  const session = await openSession(job.spec)
  await produce(session, job.runs, job.gapMs)
  await session.errand.close()
}

export function latencyPlans(config: BenchConfig, target: BenchTarget): ScenarioPlan[] {
  const { latencyRuns: runs, latencyGapMs: gapMs } = config
  const plan = (scenario: string, label: string, measure: (spec: StoreSpec) => Promise<JobResult>): ScenarioPlan => ({
    group: 'latency',
    scenario,
    target: target.name,
    label,
    async measure(dir) {
      const location = await target.fresh(dir)
      try {
        return await measure(location.spec)
      } finally {
        await location.cleanup()
      }
    },
  })
  const crossProcess = (pollInterval: string | null) => async (spec: StoreSpec) => {
    const worker = startChild<JobResult>({ kind: 'latency-worker', spec, runs, pollInterval })
    // The producer starts only once the worker polls, so no run waits for a worker's boot.
    await Promise.race([worker.ready, worker.result])
    await runChild({ kind: 'latency-producer', spec, runs, gapMs })
    return worker.result
  }
  return [
    plan('latency.inprocess', 'pickup, same process (enqueue wakes worker)', (spec) =>
      runChild<JobResult>({ kind: 'latency-inprocess', spec, runs, gapMs }),
    ),
    plan('latency.cross.default', 'pickup, other process, default poll (1s)', crossProcess(null)),
    plan('latency.cross.50ms', "pickup, other process, pollInterval '50ms'", crossProcess('50ms')),
  ]
}
