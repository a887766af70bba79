/**
 * The tables of a run, as header + rows, rendered to the terminal or to markdown by the caller.
 */
import { median, type Measurement, type Summary } from '../results.js'
import { int, ms, pct, perRun } from './format.js'

export interface Table {
  title: string
  headers: string[]
  rows: string[][]
  /** Leading text columns, aligned left. */
  leftColumns: number
}

const spreadText = (s: Summary['perSec'], f: (n: number) => string) => (s ? `${f(s.min)} – ${f(s.max)}` : '-')

export function throughputTable(summaries: Summary[]): Table {
  const rows = summaries
    .filter((s) => s.perSec)
    .map((s) => [
      s.label,
      s.target,
      int(s.perSec?.median),
      spreadText(s.perSec, int),
      perRun(s.commitsPerRun),
      perRun(s.callsPerRun),
      perRun(s.roundTripsPerRun),
      int(s.cpuUsPerRun),
      s.rssMb === undefined ? '-' : `${int(s.baseRssMb)} / ${int(s.rssMb)} / ${int(s.maxRssMb)}`,
    ])
  return {
    title: 'Throughput (runs per second, median of the repetitions)',
    headers: ['scenario', 'target', 'runs/s', 'min – max', 'commits/run', 'store calls/run', 'PG queries/run', 'CPU µs/run', 'RSS MB start / end / peak'],
    rows,
    leftColumns: 2,
  }
}

export function latencyTable(summaries: Summary[]): Table {
  const rows = summaries
    .filter((s) => s.p50)
    .map((s) => [s.label, s.target, ms(s.p50?.median), ms(s.p95?.median), ms(s.p99?.median), spreadText(s.p99, ms), perRun(s.callsPerRun)])
  return {
    title: 'Enqueue-to-start latency with an idle worker (ms, median of the repetitions)',
    headers: ['scenario', 'target', 'p50', 'p95', 'p99', 'p99 min – max', 'store calls/run'],
    rows,
    leftColumns: 2,
  }
}

/**
 * Whether the measuring process stayed responsive: a worker that never yields to the event
 * loop holds its timers (heartbeats, polls) and its completions until it runs dry.
 */
export function responsivenessTable(summaries: Summary[]): Table {
  const rows = summaries
    .filter((s) => s.eventLoopMaxMs !== undefined)
    .map((s) => [s.label, s.target, ms(s.elapsedMs), ms(s.firstEventMs), ms(s.eventLoopMaxMs)])
  return {
    title: 'Responsiveness (ms, medians)',
    headers: ['scenario', 'target', 'measured time', 'first run.completed event', 'longest event-loop stall'],
    rows,
    leftColumns: 2,
  }
}

/** Each errand figure beside the raw limit it should be read against. */
const RATIO_PAIRS: Array<[scenario: RegExp, limit: (m: RegExpExecArray) => string[]]> = [
  [/^enqueue\.single$/, () => ['raw.insert.lean.1', 'raw.insert.errand.1']],
  [/^enqueue\.batch(\d+)$/, (m) => [`raw.insert.lean.${m[1]}`, `raw.insert.errand.${m[1]}`]],
  [/^process\.c(\d+)$/, (m) => [`raw.claim.lean.${m[1]}`, `raw.claim.errand.${m[1]}`, 'raw.claim.lean.500']],
]

/** Which raw target bounds each errand target: a store is only compared with itself. */
const RAW_TARGET_OF: Record<string, string> = { sqlite: 'raw-sqlite', postgres: 'raw-postgres' }

export function ratioTable(summaries: Summary[]): Table {
  const byKey = new Map(summaries.map((s) => [`${s.target}:${s.scenario}`, s]))
  const rows: string[][] = []
  for (const s of summaries) {
    const rawTarget = RAW_TARGET_OF[s.target]
    if (!rawTarget || !s.perSec) continue
    for (const [pattern, limits] of RATIO_PAIRS) {
      const match = pattern.exec(s.scenario)
      if (!match) continue
      for (const key of limits(match)) {
        const limit = byKey.get(`${rawTarget}:${key}`)
        if (limit?.perSec) rows.push([s.label, s.target, limit.label, int(s.perSec.median), int(limit.perSec.median), pct(s.perSec.median / limit.perSec.median)])
      }
    }
  }
  return {
    title: 'Against the raw limit (medians)',
    headers: ['errand scenario', 'target', 'raw limit', 'errand runs/s', 'raw runs/s', 'errand / raw'],
    rows,
    leftColumns: 3,
  }
}

/**
 * Where a processed run's time goes: store calls per run by method, rows per call, and the
 * share of wall time spent inside the driver (on SQLite: SQL plus fsync; the rest is runtime).
 */
export function storeCallTable(measurements: Measurement[]): Table {
  const groups = new Map<string, Measurement[]>()
  for (const m of measurements) {
    if (!m.calls || !m.perSec) continue
    const key = `${m.target}:${m.scenario}`
    groups.set(key, [...(groups.get(key) ?? []), m])
  }
  const rows: string[][] = []
  for (const reps of groups.values()) {
    const first = reps[0] as Measurement
    const methods = new Set(reps.flatMap((m) => Object.keys(m.calls ?? {})))
    const inDriver = median(reps.map((m) => Object.values(m.calls ?? {}).reduce((sum, c) => sum + c.syncMs, 0) / m.elapsedMs))
    for (const method of [...methods].sort()) {
      const stat = (m: Measurement) => m.calls?.[method] ?? { calls: 0, rows: 0, syncMs: 0 }
      const calls = median(reps.map((m) => stat(m).calls / m.runs))
      const rowsPerCall = median(reps.map((m) => (stat(m).calls ? stat(m).rows / stat(m).calls : 0)))
      const usPerCall = median(reps.map((m) => (stat(m).calls ? (stat(m).syncMs * 1000) / stat(m).calls : 0)))
      // Only on SQLite does the call's synchronous part contain its whole cost (no network wait).
      const sync = first.target === 'sqlite'
      rows.push([first.label, first.target, method, perRun(calls), perRun(rowsPerCall), sync ? int(usPerCall) : '-', sync ? pct(inDriver) : '-'])
    }
  }
  return {
    title: 'Store calls per run, by driver method (medians)',
    headers: ['scenario', 'target', 'method', 'calls/run', 'rows/call', 'µs/call (SQLite)', 'wall time in driver (SQLite)'],
    rows,
    leftColumns: 3,
  }
}

/** Per-statement cost, when the run was profiled (--profile). */
export function statementTable(measurements: Measurement[]): Table {
  const rows: string[][] = []
  const seen = new Set<string>()
  for (const m of measurements) {
    const key = `${m.target}:${m.scenario}`
    if (!m.statements || seen.has(key)) continue
    seen.add(key)
    const reps = measurements.filter((other) => `${other.target}:${other.scenario}` === key && other.statements)
    for (const sql of Object.keys(m.statements)) {
      const count = median(reps.map((r) => (r.statements?.[sql]?.count ?? 0) / r.runs))
      const us = median(reps.map((r) => ((r.statements?.[sql]?.ms ?? 0) * 1000) / Math.max(1, r.statements?.[sql]?.count ?? 0)))
      rows.push([m.label, sql, perRun(count), int(us)])
    }
  }
  return { title: 'SQL statements per run (--profile, medians)', headers: ['scenario', 'statement', 'per run', 'µs each'], rows, leftColumns: 2 }
}
