/**
 * One measurement in its own process, so that one system's pools, timers and heap cannot
 * slow the next. The job arrives as JSON in argv[2]; the result goes back over IPC.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { countDatabaseWork, pgStatsEnabled } from './pg-stats.js'
import { findSystem } from './systems/index.js'
import type { Adapter, Payload, Variant } from './systems/system.js'

export type ChildJob =
  | { kind: 'enqueue'; system: string; location: string; queue: string; runs: number; batch: number }
  | { kind: 'process'; system: string; location: string; queue: string; runs: number; variant: Variant; timeoutMs: number }
  | { kind: 'latency-worker'; system: string; location: string; queue: string; runs: number; variant: Variant; timeoutMs: number }
  | { kind: 'latency-producer'; system: string; location: string; queue: string; runs: number; gapMs: number }

export interface ChildResult {
  done: number
  elapsedMs: number
  latencies?: number[]
  /** PostgreSQL counters per job (PEERS_PG_STATS=1). */
  perJob?: Record<string, number>
}

// Wall-clock based and sub-millisecond, so producer and worker processes agree on it.
const epochNow = (): number => performance.timeOrigin + performance.now()
const payloads = (from: number, count: number): Payload[] => Array.from({ length: count }, (_, k) => ({ i: from + k }))

async function enqueueAll(adapter: Adapter, runs: number, batch: number): Promise<void> {
  if (batch === 1) for (let i = 0; i < runs; i++) await adapter.enqueueOne({ i })
  else for (let i = 0; i < runs; i += batch) await adapter.enqueueMany(payloads(i, Math.min(batch, runs - i)))
}

/** Starts a worker and resolves when `runs` jobs have started, or at the timeout with what was done. */
async function drain(adapter: Adapter, job: { runs: number; variant: Variant; timeoutMs: number }, onReady?: () => void): Promise<ChildResult> {
  let done = 0
  let lastAt = 0
  const latencies: number[] = []
  let finish: () => void = () => {}
  const finished = new Promise<void>((resolve) => (finish = resolve))
  const startedAt = performance.now()
  await adapter.work(job.variant, (payload) => {
    if (payload.t0 !== undefined) latencies.push(epochNow() - payload.t0)
    lastAt = performance.now()
    if (++done === job.runs) finish()
  })
  onReady?.()
  const timer = setTimeout(finish, job.timeoutMs)
  await finished
  clearTimeout(timer)
  return { done, elapsedMs: (done ? lastAt : performance.now()) - startedAt, latencies }
}

async function run(job: ChildJob): Promise<ChildResult> {
  const system = findSystem(job.system)
  let adapter: Adapter | null = await system.open(job.location, job.queue)
  try {
    switch (job.kind) {
      case 'enqueue': {
        const t0 = performance.now()
        await enqueueAll(adapter, job.runs, job.batch)
        return { done: job.runs, elapsedMs: performance.now() - t0 }
      }
      case 'process': {
        // Seeded with the system's own bulk API; only the draining is timed.
        await enqueueAll(adapter, job.runs, 1000)
        const stats = pgStatsEnabled() && job.location.startsWith('postgres')
        // A backend flushes its counters when it exits; an idle one may hold them for 10 s.
        // Closing around the drain makes the server's counters exact for the drain alone.
        if (stats) (await adapter.close(), (adapter = await system.open(job.location, job.queue)))
        const work = await countDatabaseWork(stats ? job.location : null)
        // CPU of this process (the worker and its driver) per job: the library's own share,
        // beside the database's share that `work` reads from the server.
        const cpu = process.cpuUsage()
        const result = await drain(adapter, job)
        const used = process.cpuUsage(cpu)
        const workerCpuUs = (used.user + used.system) / Math.max(1, result.done)
        if (stats) (await adapter.close(), (adapter = null))
        return { ...result, latencies: undefined, perJob: { 'worker CPU us': workerCpuUs, ...(await work(result.done)) } }
      }
      case 'latency-worker':
        return await drain(adapter, job, () => void send({ type: 'ready' }))
      case 'latency-producer': {
        const start = performance.now()
        for (let i = 0; i < job.runs; i++) {
          const wait = start + i * job.gapMs - performance.now()
          if (wait > 0) await sleep(wait)
          await adapter.enqueueOne({ i, t0: epochNow() })
        }
        return { done: job.runs, elapsedMs: performance.now() - start }
      }
    }
    throw new Error(`unknown job kind in ${JSON.stringify(job)}`)
  } finally {
    await adapter?.close()
  }
}

function send(message: unknown): Promise<void> {
  return new Promise((resolve) => (process.send ? process.send(message, () => resolve()) : resolve()))
}

const job = JSON.parse(process.argv[2] ?? 'null') as ChildJob
try {
  const value = await run(job)
  await send({ type: 'result', value })
  process.exit(0)
} catch (error) {
  const err = error instanceof Error ? error : new Error(String(error))
  await send({ type: 'error', message: err.stack ?? err.message })
  process.exit(1)
}
