/**
 * `npm run bench:peers`: errand beside graphile-worker, pg-boss and BullMQ on one
 * PostgreSQL server and one Redis. Repetitions are interleaved (every measurement once, then
 * again) so a slow minute on a shared machine spreads over every system instead of landing
 * on one. Settings: config.ts.
 */
import { appendFileSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { readConfig, type PeersConfig } from './config.js'
import { drainMeasurement, freshLocation, startChild, startServers, type Servers } from './infra.js'
import { errandSourceCommit } from './docs.js'
import { renderReport } from './report.js'
import { loadPlans } from './load.js'
import { percentile, summarize, type Measurement } from './summary.js'
import { rawPlans } from './raw-postgres.js'
import { SYSTEMS } from './systems/index.js'
import type { SystemDef } from './systems/system.js'

export interface Plan {
  system: string
  scenario: string
  label: string
  measure(servers: Servers): Promise<Omit<Measurement, 'system' | 'scenario' | 'label' | 'rep'>>
}

function plansFor(system: SystemDef, config: PeersConfig): Plan[] {
  const plans: Plan[] = []
  const base = { system: system.name }
  if (config.scenarios.includes('enqueue')) {
    for (const batch of [1, config.batch]) {
      plans.push({
        ...base,
        scenario: batch === 1 ? 'enqueue.single' : `enqueue.batch${batch}`,
        label: batch === 1 ? 'enqueue one at a time' : `enqueue in batches of ${batch}`,
        async measure(servers) {
          const where = await freshLocation(servers, system.store)
          try {
            const r = await startChild({ kind: 'enqueue', system: system.name, ...where, runs: config.runs, batch }).result
            return { runs: config.runs, done: r.done, elapsedMs: r.elapsedMs, perSec: (r.done / r.elapsedMs) * 1000 }
          } finally {
            await where.drop()
          }
        },
      })
    }
  }
  if (config.scenarios.includes('process')) {
    for (const variant of system.variants) {
      plans.push({
        ...base,
        scenario: `process.${variant.key}`,
        label: `process: ${variant.label}`,
        async measure(servers) {
          const where = await freshLocation(servers, system.store)
          const timeoutMs = variant.defaults ? config.slowTimeoutMs : config.processTimeoutMs
          try {
            const r = await startChild({ kind: 'process', system: system.name, ...where, runs: config.runs, variant, timeoutMs }).result
            return drainMeasurement(config.runs, r)
          } finally {
            await where.drop()
          }
        },
      })
    }
  }
  if (config.scenarios.includes('latency')) {
    plans.push({
      ...base,
      scenario: 'latency',
      label: `pickup latency, idle worker: ${system.defaultWorker.label}`,
      async measure(servers) {
        const where = await freshLocation(servers, system.store)
        try {
          const runs = config.latencyRuns
          const timeoutMs = runs * config.latencyGapMs + 30_000
          const worker = startChild({ kind: 'latency-worker', system: system.name, ...where, runs, variant: system.defaultWorker, timeoutMs })
          await Promise.race([worker.ready, worker.result])
          // The producer is another process: nothing in-process can wake the worker.
          await startChild({ kind: 'latency-producer', system: system.name, ...where, runs, gapMs: config.latencyGapMs }).result
          const r = await worker.result
          const l = r.latencies ?? []
          return { runs, done: r.done, elapsedMs: r.elapsedMs, latency: { p50: percentile(l, 50), p95: percentile(l, 95), p99: percentile(l, 99) } }
        } finally {
          await where.drop()
        }
      },
    })
  }
  plans.push(...loadPlans(system, config))
  return plans
}

function describe(m: Measurement): string {
  const n = (v: number) => Math.round(v).toLocaleString('en-US')
  const rss = m.rssMb !== undefined ? `; worker RSS ${n(m.rssMb)} MiB (peak ${n(m.peakRssMb ?? 0)})${m.processes ? ' (largest process)' : ''}` : ''
  if (m.na) return m.na
  if (m.latency) return `p50 ${m.latency.p50.toFixed(1)} ms, p95 ${m.latency.p95.toFixed(1)} ms, p99 ${m.latency.p99.toFixed(1)} ms (${m.done}/${m.runs})`
  if (m.mixed) {
    const x = m.mixed
    const caught = x.catchUpMs === null ? `not caught up before the cap (${m.done}/${x.enqueued} started)` : `caught up ${(x.catchUpMs / 1000).toFixed(1)} s after`
    return `enqueued at ${n(x.enqueueRate)}/s; backlog max ${n(x.maxBacklog)}, ${n(x.endBacklog)} when production ended, ${caught}; pickup p50 ${x.pickup.p50.toFixed(0)} ms, p99 ${x.pickup.p99.toFixed(0)} ms${rss}`
  }
  const shares = m.processes && m.done > 0 ? `; jobs per process ${m.processes.map((p) => p.done).join('/')}` : ''
  const seed = m.seedMs !== undefined ? `; seeding ${n(m.retained ?? 0)} finished jobs took ${(m.seedMs / 1000).toFixed(1)} s` : ''
  return `${n(m.perSec ?? 0)} jobs/s${m.done < m.runs ? ` (only ${m.done}/${m.runs} before the cap)` : ''}${shares}${seed}${rss}`
}

async function main(): Promise<void> {
  const config = readConfig()
  const systems = SYSTEMS.filter((s) => !config.systems || config.systems.some((f) => s.name.toLowerCase().includes(f.toLowerCase())))
  const plans = systems.flatMap((s) => plansFor(s, config))
  if (config.scenarios.includes('raw')) plans.push(...rawPlans(config))
  const resultsDir = resolve(import.meta.dirname, '../results')
  mkdirSync(resultsDir, { recursive: true })
  const startedAt = new Date()
  const resultsPath = join(resultsDir, `peers-${startedAt.toISOString().replace(/[:.]/g, '-')}.jsonl`)
  const log = (record: object) => appendFileSync(resultsPath, `${JSON.stringify(record)}\n`)
  config.errandCommit = errandSourceCommit()
  log({ type: 'run', startedAt: startedAt.toISOString(), config })
  console.log(`bench:peers: ${plans.length} measurements x ${config.reps} repetition(s), ${config.runs} jobs each${config.quick ? ' (quick mode)' : ''}`)
  const servers = await startServers()
  const measurements: Measurement[] = []
  try {
    for (let rep = 1; rep <= config.reps; rep++) {
      for (const [index, plan] of plans.entries()) {
        let m: Measurement
        try {
          m = { system: plan.system, scenario: plan.scenario, label: plan.label, rep, ...(await plan.measure(servers)) }
        } catch (error) {
          console.error(`[rep ${rep}] ${plan.system} ${plan.label} failed: ${(error as Error).message}`)
          log({ type: 'failure', system: plan.system, scenario: plan.scenario, rep, message: (error as Error).message })
          continue
        }
        measurements.push(m)
        log({ type: 'measurement', ...m })
        console.log(`[rep ${rep}/${config.reps} ${index + 1}/${plans.length}] ${plan.system}, ${plan.label}: ${describe(m)}`)
      }
    }
  } finally {
    await servers.stop()
  }
  const summaries = summarize(measurements)
  for (const s of summaries) log({ type: 'summary', ...s })
  await renderReport(summaries, config, startedAt)
  console.log(`\nraw results: ${resultsPath}`)
}

await main()
