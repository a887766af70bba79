/**
 * One measurement in its own process, so that one system's pools, timers and heap cannot
 * slow the next. The job arrives as JSON in argv[2]; the result goes back over IPC.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { countDatabaseWork, pgStatsEnabled } from './pg-stats.js'
import { loadSystem } from './systems/load.js'
import type { Adapter, Payload, Variant } from './systems/system.js'

type Where = { system: string; location: string; queue: string }

export type ChildJob = Where &
  (
    | { kind: 'enqueue'; runs: number; batch: number }
    | { kind: 'process'; runs: number; variant: Variant; timeoutMs: number }
    | { kind: 'latency-worker'; runs: number; variant: Variant; timeoutMs: number }
    | { kind: 'latency-producer'; runs: number; gapMs: number }
    /** Writes `count` finished jobs into a fresh store (retained scenario); not a measurement. */
    | { kind: 'seed-finished'; count: number }
    /** One of several worker processes draining one store: ready, then `go`, then `stop` (scale4). */
    | { kind: 'pool-worker'; variant: Variant; timeoutMs: number }
    /** The worker of the mixed load: drains `runs` jobs as they arrive, noting when each started. */
    | { kind: 'mixed-worker'; runs: number; variant: Variant; timeoutMs: number }
    /** The producer of the mixed load: `runs` jobs at `rate` per second, open loop; bulk calls every `tickMs` if set. */
    | { kind: 'mixed-producer'; runs: number; rate: number; tickMs?: number; maxInFlight: number }
  )

/** What a child says besides its result: `ready`, and a pool worker's running count. */
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'progress'; done: number }
  | { type: 'result'; value: ChildResult }
  | { type: 'error'; message: string }

export interface ChildResult {
  done: number
  elapsedMs: number
  latencies?: number[]
  /** PostgreSQL counters per job (PEERS_PG_STATS=1). */
  perJob?: Record<string, number>
  /** Resident set size of the process when its measured work ended, and its peak so far (MiB). */
  rssMb?: number
  peakRssMb?: number
  /** RSS once the system's module was loaded, before it opened anything (MiB). */
  loadedRssMb?: number
  /** Pool worker: epoch ms when it was told to go, and when its last job started. */
  goAt?: number
  lastAt?: number
  /** Mixed load: epoch ms of each job start (worker) or of each acknowledged enqueue (producer). */
  times?: number[]
  /** Mixed producer: epoch ms when it issued its first enqueue. */
  startAt?: number
}

// Wall-clock based and sub-millisecond, so producer and worker processes agree on it.
const epochNow = (): number => performance.timeOrigin + performance.now()
const payloads = (from: number, count: number): Payload[] => Array.from({ length: count }, (_, k) => ({ i: from + k }))
/** RSS once the system's module is loaded, before it opens anything: the floor under a worker's figures. */
let loadedRssMb = 0
/** maxRSS is in kilobytes. */
const memory = () => ({ rssMb: process.memoryUsage().rss / 2 ** 20, peakRssMb: process.resourceUsage().maxRSS / 1024, loadedRssMb })

/** Resolves at the first message of this type from the parent. Listen before saying `ready`: unheard messages are lost. */
function nextMessage(type: string): Promise<void> {
  return new Promise((resolve) => {
    const listener = (m: { type?: string }) => {
      if (m?.type !== type) return
      process.off('message', listener)
      resolve()
    }
    process.on('message', listener)
  })
}

/** Resolves after `ms`, or earlier with `cancel()`; never holds the process open after it is done. */
function timer(ms: number): { done: Promise<void>; cancel(): void } {
  let cancel: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms)
    cancel = () => (clearTimeout(t), resolve())
  })
  return { done, cancel }
}

async function enqueueAll(adapter: Adapter, runs: number, batch: number): Promise<void> {
  if (batch === 1) for (let i = 0; i < runs; i++) await adapter.enqueueOne({ i })
  else for (let i = 0; i < runs; i += batch) await adapter.enqueueMany(payloads(i, Math.min(batch, runs - i)))
}

/**
 * Starts a worker and resolves when `runs` jobs have started, or at the timeout with what was
 * done; the process's memory is read at that moment, before the system is closed.
 */
async function drain(
  adapter: Adapter,
  job: { runs: number; variant: Variant; timeoutMs: number },
  options: { onReady?: () => void; recordStarts?: boolean; stop?: Promise<void> } = {},
): Promise<ChildResult> {
  let done = 0
  let lastAt = 0
  const latencies: number[] = []
  const starts: number[] = []
  let finish: () => void = () => {}
  const finished = new Promise<void>((resolve) => (finish = resolve))
  const startedAt = performance.now()
  await adapter.work(job.variant, (payload) => {
    if (payload.t0 !== undefined) latencies.push(epochNow() - payload.t0)
    if (options.recordStarts) starts.push(epochNow())
    lastAt = performance.now()
    if (++done === job.runs) finish()
  })
  options.onReady?.()
  void options.stop?.then(finish)
  const timer = setTimeout(finish, job.timeoutMs)
  await finished
  clearTimeout(timer)
  return { done, elapsedMs: (done ? lastAt : performance.now()) - startedAt, latencies, ...(options.recordStarts ? { times: starts } : {}), ...memory() }
}

/**
 * One of several worker processes on one store. It opens the system and says `ready`; on
 * `go` (sent to every worker at once) it starts its worker and reports how many jobs have
 * started every 100 ms, until `stop` (the parent's sum has reached the total) or its own
 * time cap. Its jobs are timed from `go` to its last job's start, in epoch time, so the
 * parent can take the span over all workers.
 */
async function poolWorker(adapter: Adapter, job: { variant: Variant; timeoutMs: number }): Promise<ChildResult> {
  const go = nextMessage('go')
  const stop = nextMessage('stop')
  await send({ type: 'ready' })
  await go
  const goAt = epochNow()
  let done = 0
  let lastAt = goAt
  await adapter.work(job.variant, () => {
    done++
    lastAt = epochNow()
  })
  const progress = setInterval(() => void send({ type: 'progress', done }), 100)
  const cap = timer(job.timeoutMs)
  await Promise.race([stop, cap.done])
  cap.cancel()
  clearInterval(progress)
  return { done, elapsedMs: lastAt - goAt, goAt, lastAt, ...memory() }
}

/**
 * The producer of the mixed load, open loop: job i is due at start + i / rate. With `tickMs`
 * the jobs due are enqueued every tick in one bulk call (`enqueueMany`); without it each job
 * is one `enqueueOne` call issued when due. Calls do not wait for earlier ones, up to
 * `maxInFlight` unanswered calls; past that the producer falls behind its schedule, and its
 * achieved rate says so. Each job's acknowledgement is timed.
 */
async function produce(adapter: Adapter, job: { runs: number; rate: number; tickMs?: number; maxInFlight: number }): Promise<ChildResult> {
  const times: number[] = []
  let issued = 0
  let inFlight = 0
  let failure: Error | null = null
  let wake: () => void = () => {}
  const startAt = epochNow()
  const t0 = performance.now()
  const settled = (count: number, error?: unknown) => {
    if (error) failure ??= error instanceof Error ? error : new Error(String(error))
    else for (let k = 0, at = epochNow(); k < count; k++) times.push(at)
    inFlight--
    wake()
  }
  while (issued < job.runs || inFlight > 0) {
    if (failure) throw failure
    const elapsed = performance.now() - t0
    const due = Math.min(job.runs, Math.floor((elapsed * job.rate) / 1000) + 1)
    while (issued < due && inFlight < job.maxInFlight) {
      inFlight++
      if (job.tickMs) {
        const batch = Array.from({ length: due - issued }, () => ({ i: issued++, t0: epochNow() }))
        adapter.enqueueMany(batch).then(() => settled(batch.length), (e: unknown) => settled(0, e))
      } else {
        adapter.enqueueOne({ i: issued++, t0: epochNow() }).then(() => settled(1), (e: unknown) => settled(0, e))
      }
    }
    const now = performance.now() - t0
    const next = job.tickMs ? (Math.floor(now / job.tickMs) + 1) * job.tickMs : (issued * 1000) / job.rate
    const pause = timer(issued < job.runs && inFlight < job.maxInFlight ? Math.max(0, next - now) : 1000)
    wake = pause.cancel
    await pause.done
  }
  if (failure) throw failure
  return { done: times.length, elapsedMs: performance.now() - t0, startAt, times }
}

async function run(job: ChildJob): Promise<ChildResult> {
  const system = await loadSystem(job.system)
  loadedRssMb = process.memoryUsage().rss / 2 ** 20
  if (job.kind === 'seed-finished') {
    if (!('seed' in system.retained)) throw new Error(`${system.name}: ${system.retained.na}`)
    const t0 = performance.now()
    await system.retained.seed(job.location, job.queue, job.count)
    return { done: job.count, elapsedMs: performance.now() - t0 }
  }
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
        return await drain(adapter, job, { onReady: () => void send({ type: 'ready' }) })
      case 'mixed-worker': {
        // The parent stops it when it has not caught up some time after production ended.
        const stop = nextMessage('stop')
        return await drain(adapter, job, { onReady: () => void send({ type: 'ready' }), recordStarts: true, stop })
      }
      case 'mixed-producer':
        return await produce(adapter, job)
      case 'pool-worker':
        return await poolWorker(adapter, job)
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
