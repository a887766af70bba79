/**
 * The scenarios beyond one worker on an empty store, each with the system's tuned setting:
 *
 * - `scale4`: the same drain as `process` (a store seeded with `runs` jobs, timed from the
 *   workers' start to the start of the last job's handler) by 4 worker processes at once,
 *   beside 1 process in the same harness, so the ratio says whether workers scale or fight
 *   over locks. The store is seeded by another process; the workers open the system, wait
 *   until all are ready, and start on one signal.
 * - `retained`: the tuned `process` drain in a store that already holds `PEERS_RETAINED`
 *   finished jobs (seeded with SQL in the system's own schema, then analyzed), beside the
 *   same drain in an empty store.
 * - `mixed`: a producer process enqueueing at a steady rate (by default the jobs due every
 *   10 ms in one bulk call; `PEERS_MIXED_MODE=single`: one call per job) while one worker
 *   process drains; the backlog (enqueued and acknowledged, not yet started) is
 *   sampled every 500 ms from both processes' own timestamps.
 *
 * Every worker process reports its resident memory when its work ends (`rssMb`, `peakRssMb`).
 */
import type { PeersConfig } from './config.js'
import { drainMeasurement, freshLocation, startChild, type ChildHandle, type Servers } from './infra.js'
import type { Plan } from './run.js'
import { percentile, type Measurement, type MixedResult } from './summary.js'
import { tunedVariant, type SystemDef } from './systems/system.js'

type Result = Omit<Measurement, 'system' | 'scenario' | 'label' | 'rep'>

const fmt = (n: number) => n.toLocaleString('en-US')
/** Settles a child's result promise early so a failure elsewhere cannot leave it unhandled. */
const quiet = (h: ChildHandle): ChildHandle => (h.result.catch(() => {}), h)

/** `runs` jobs seeded by another process, drained by `processes` worker processes started together. */
async function drainWithProcesses(servers: Servers, system: SystemDef, config: PeersConfig, processes: number): Promise<Result> {
  const variant = tunedVariant(system)
  const where = await freshLocation(servers, system.store)
  const handles: ChildHandle[] = []
  let finished = false
  try {
    await startChild({ kind: 'enqueue', system: system.name, ...where, runs: config.runs, batch: config.batch }).result
    const progress: number[] = new Array(processes).fill(0)
    let allStarted: () => void = () => {}
    const reached = new Promise<void>((resolve) => (allStarted = resolve))
    for (let k = 0; k < processes; k++) {
      const onMessage = (m: { type: string; done?: number }) => {
        if (m.type !== 'progress') return
        progress[k] = m.done ?? 0
        if (progress.reduce((a, b) => a + b, 0) >= config.runs) allStarted()
      }
      // The parent stops the workers at the cap; their own cap is only a safety net.
      handles.push(quiet(startChild({ kind: 'pool-worker', system: system.name, ...where, variant, timeoutMs: config.processTimeoutMs + 30_000 }, { onMessage })))
    }
    await Promise.all(handles.map((h) => Promise.race([h.ready, h.result])))
    for (const h of handles) h.send({ type: 'go' })
    const cap = setTimeout(allStarted, config.processTimeoutMs)
    await Promise.race([reached, ...handles.map((h) => h.result)])
    await reached
    clearTimeout(cap)
    for (const h of handles) h.send({ type: 'stop' })
    const results = await Promise.all(handles.map((h) => h.result))
    finished = true
    const done = results.reduce((a, r) => a + r.done, 0)
    const goAt = Math.min(...results.map((r) => r.goAt ?? Infinity))
    const lastAt = Math.max(...results.map((r) => (r.done ? (r.lastAt ?? 0) : 0)))
    const elapsedMs = done ? lastAt - goAt : config.processTimeoutMs
    return {
      runs: config.runs,
      done,
      elapsedMs,
      perSec: (done / elapsedMs) * 1000,
      rssMb: Math.max(...results.map((r) => r.rssMb ?? 0)),
      peakRssMb: Math.max(...results.map((r) => r.peakRssMb ?? 0)),
      loadedRssMb: Math.max(...results.map((r) => r.loadedRssMb ?? 0)),
      processes: results.map((r) => ({ done: r.done, rssMb: r.rssMb ?? 0, peakRssMb: r.peakRssMb ?? 0 })),
    }
  } finally {
    if (!finished) for (const h of handles) h.kill()
    await where.drop()
  }
}

/** The tuned `process` drain, in a store first given `retained` finished jobs (none: an empty store). */
async function drainWithHistory(servers: Servers, system: SystemDef, config: PeersConfig, retained: number): Promise<Result> {
  const where = await freshLocation(servers, system.store)
  try {
    const seed = retained
      ? await startChild({ kind: 'seed-finished', system: system.name, ...where, count: retained }, { timeoutMs: 60 * 60_000 }).result
      : null
    const r = await startChild({ kind: 'process', system: system.name, ...where, runs: config.runs, variant: tunedVariant(system), timeoutMs: config.processTimeoutMs }).result
    return {
      ...drainMeasurement(config.runs, r),
      retained,
      ...(seed ? { seedMs: seed.elapsedMs } : {}),
    }
  } finally {
    await where.drop()
  }
}

/** How many of the sorted `times` are at or before `t`. */
function countUpTo(times: number[], t: number): number {
  let lo = 0
  let hi = times.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (times[mid]! <= t) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * The backlog of the mixed load from the two processes' timestamps (epoch ms, shared clock):
 * jobs whose enqueue had been acknowledged minus jobs whose handler had started, every
 * `stepMs` from the producer's first enqueue until production has ended and the worker has
 * started its last job. A job can start a moment before its producer hears the
 * acknowledgement, so a sample is never below zero.
 */
export function backlogOf(enqueuedAt: number[], startedAt: number[], from: number, stepMs: number) {
  const e = [...enqueuedAt].sort((a, b) => a - b)
  const s = [...startedAt].sort((a, b) => a - b)
  const productionEnd = e.at(-1) ?? from
  const drainEnd = s.at(-1) ?? from
  const until = Math.max(productionEnd, drainEnd)
  const at = (t: number) => Math.max(0, countUpTo(e, t) - countUpTo(s, t))
  const series: Array<[number, number]> = []
  for (let t = from; ; t += stepMs) {
    series.push([Math.round((t - from) / 100) / 10, at(t)])
    if (t >= until) break
  }
  return { series, maxBacklog: Math.max(...series.map(([, b]) => b)), endBacklog: at(productionEnd), productionEnd, drainEnd }
}

async function mixedLoad(servers: Servers, system: SystemDef, config: PeersConfig): Promise<Result> {
  const runs = Math.round(config.mixedRate * config.mixedSeconds)
  const where = await freshLocation(servers, system.store)
  let worker: ChildHandle | null = null
  let finished = false
  try {
    // The worker's own cap is a safety net: the parent stops it `processTimeoutMs` after production ends.
    const timeoutMs = config.mixedSeconds * 1000 + config.processTimeoutMs + 60_000
    worker = quiet(startChild({ kind: 'mixed-worker', system: system.name, ...where, runs, variant: tunedVariant(system), timeoutMs }))
    await Promise.race([worker.ready, worker.result])
    const producer = await startChild({ kind: 'mixed-producer', system: system.name, ...where, runs, rate: config.mixedRate, maxInFlight: config.mixedMaxInFlight, ...(config.mixedTickMs ? { tickMs: config.mixedTickMs } : {}) }).result
    const w = worker
    const cap = setTimeout(() => w.send({ type: 'stop' }), config.processTimeoutMs)
    const r = await w.result
    clearTimeout(cap)
    finished = true
    const from = producer.startAt ?? 0
    const b = backlogOf(producer.times ?? [], r.times ?? [], from, config.mixedSampleMs)
    const l = r.latencies ?? []
    const mixed: MixedResult = {
      rate: config.mixedRate,
      seconds: config.mixedSeconds,
      tickMs: config.mixedTickMs,
      enqueued: producer.done,
      enqueueRate: (producer.done / Math.max(1, b.productionEnd - from)) * 1000,
      maxBacklog: b.maxBacklog,
      endBacklog: b.endBacklog,
      catchUpMs: r.done >= producer.done ? Math.max(0, b.drainEnd - b.productionEnd) : null,
      pickup: { p50: percentile(l, 50), p95: percentile(l, 95), p99: percentile(l, 99) },
      series: b.series,
    }
    return { runs, done: r.done, elapsedMs: Math.max(b.productionEnd, b.drainEnd) - from, rssMb: r.rssMb, peakRssMb: r.peakRssMb, loadedRssMb: r.loadedRssMb, mixed }
  } finally {
    if (!finished) worker?.kill()
    await where.drop()
  }
}

export function loadPlans(system: SystemDef, config: PeersConfig): Plan[] {
  const plans: Plan[] = []
  const base = { system: system.name }
  const tuned = tunedVariant(system).label
  if (config.scenarios.includes('scale4')) {
    for (const processes of [1, config.processes]) {
      plans.push({
        ...base,
        scenario: `scale4.p${processes}`,
        label: processes === 1 ? `1 worker process: ${tuned}` : `${processes} worker processes, each: ${tuned}`,
        measure: (servers) => drainWithProcesses(servers, system, config, processes),
      })
    }
  }
  if (config.scenarios.includes('retained')) {
    const retained = system.retained
    if ('na' in retained) {
      plans.push({
        ...base,
        scenario: 'retained.full',
        label: `process, ${fmt(config.retained)} finished jobs retained`,
        measure: async () => ({ runs: 0, done: 0, elapsedMs: 0, na: retained.na }),
      })
    } else {
      for (const count of [0, config.retained]) {
        plans.push({
          ...base,
          scenario: count ? 'retained.full' : 'retained.empty',
          label: count ? `process, ${fmt(count)} finished jobs retained: ${tuned}` : `process, empty table: ${tuned}`,
          measure: (servers) => drainWithHistory(servers, system, config, count),
        })
      }
    }
  }
  if (config.scenarios.includes('mixed')) {
    plans.push({
      ...base,
      scenario: 'mixed',
      label: `mixed load, ${fmt(config.mixedRate)} jobs/s for ${config.mixedSeconds} s (${config.mixedTickMs ? `bulk enqueue every ${config.mixedTickMs} ms` : 'one enqueue call per job'}), one worker: ${tuned}`,
      measure: (servers) => mixedLoad(servers, system, config),
    })
  }
  return plans
}
