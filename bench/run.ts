/**
 * `npm run bench`: measures errand on each target store, and the raw SQLite limit beside
 * it. Flags and environment variables are in config.ts. Repetitions are interleaved (every
 * scenario once, then again) so that a slow minute on a shared machine spreads over all
 * scenarios instead of landing on one.
 */
import { loadavg } from 'node:os'
import { readConfig, type BenchConfig } from './config.js'
import type { ScenarioPlan } from './plan.js'
import { renderTable } from './report/format.js'
import { DOCS_PATH, ResultsFile, docsSection, writeDocs } from './report/files.js'
import { machineInfo } from './report/machine.js'
import {
  latencyTable,
  ratioTable,
  responsivenessTable,
  statementTable,
  storeCallTable,
  throughputTable,
  type Table,
} from './report/tables.js'
import { median, summarize, type Measurement } from './results.js'
import { enqueuePlans } from './scenarios/enqueue.js'
import { latencyPlans } from './scenarios/latency.js'
import { processPlans } from './scenarios/process.js'
import { rawPlans } from './scenarios/raw-sqlite.js'
import { TARGETS, findTarget } from './targets.js'

async function planAll(config: BenchConfig): Promise<ScenarioPlan[]> {
  const plans: ScenarioPlan[] = []
  for (const name of config.targets) {
    const target = findTarget(name)
    const why = await target.unavailable()
    if (why) {
      console.log(`skipping target ${name}: ${why}`)
      continue
    }
    if (config.groups.includes('enqueue')) plans.push(...enqueuePlans(config, target))
    if (config.groups.includes('process')) plans.push(...processPlans(config, target))
    if (config.groups.includes('latency')) plans.push(...latencyPlans(config, target))
  }
  // The raw limit is SQLite's; a raw PostgreSQL limit would join here with its target.
  if (config.groups.includes('raw') && config.targets.includes('sqlite')) plans.push(...rawPlans(config))
  return plans
}

function describe(m: Measurement): string {
  if (m.latency) return `p50 ${m.latency.p50.toFixed(1)} ms, p99 ${m.latency.p99.toFixed(1)} ms`
  return `${Math.round(m.perSec ?? 0).toLocaleString('en-US')} runs/s${m.commitsPerRun === undefined ? '' : `, ${m.commitsPerRun.toFixed(3)} commits/run`}`
}

async function main(): Promise<void> {
  try {
    await measureAndReport()
  } finally {
    for (const target of TARGETS) await target.dispose?.()
  }
}

async function measureAndReport(): Promise<void> {
  const config = readConfig()
  const startedAt = new Date()
  const machine = machineInfo(config.dir)
  const results = new ResultsFile(startedAt)
  results.append({ type: 'run', startedAt: startedAt.toISOString(), machine, config })
  console.log(`errand bench: ${config.reps} repetition(s)${config.quick ? ', quick mode' : ''}; ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, SQLite ${machine.sqlite}`)
  const plans = await planAll(config)
  const measurements: Measurement[] = []
  for (let rep = 1; rep <= config.reps; rep++) {
    for (const [index, plan] of plans.entries()) {
      const loadAvg = loadavg()[0]
      const measured = await plan.measure(config.dir)
      const m: Measurement = { scenario: plan.scenario, target: plan.target, label: plan.label, rep, ...measured, loadAvg }
      measurements.push(m)
      results.append({ type: 'measurement', ...m })
      console.log(`[rep ${rep}/${config.reps} ${index + 1}/${plans.length}] ${plan.target} ${plan.label}: ${describe(m)}`)
      if (m.errors) console.log(`  ${m.errors} worker error(s) reported`)
    }
  }
  const summaries = summarize(measurements)
  for (const summary of summaries) results.append({ type: 'summary', ...summary })
  const tables: Table[] = [
    throughputTable(summaries),
    ratioTable(summaries),
    latencyTable(summaries),
    storeCallTable(measurements),
    responsivenessTable(summaries),
  ]
  if (config.profile) tables.push(statementTable(measurements))
  for (const table of tables) {
    if (table.rows.length) console.log(`\n${table.title}\n\n${renderTable(table.headers, table.rows, 'text', table.leftColumns)}`)
  }
  console.log(`\nmedian 1-minute load average during the run: ${median(measurements.map((m) => m.loadAvg ?? 0)).toFixed(1)} on ${machine.cores} cores`)
  console.log(`raw results: ${results.path}`)
  if (config.writeDocs) {
    writeDocs(docsSection(machine, config, tables, median(measurements.map((m) => m.loadAvg ?? 0))), config.quick ? 'quick' : 'full')
    console.log(`updated ${DOCS_PATH}`)
  }
}

await main()
