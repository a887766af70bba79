/**
 * Tables of a peers run: printed on the terminal, and (with `PEERS_WRITE_DOCS=1`) written as
 * the "Peers" section of docs/benchmarks.md with its chart. Every cell is the median over
 * repetitions with min and max beside it; ratios are errand's median over the peer's.
 */
import type { PeersConfig } from './config.js'
import { writeDocs } from './docs.js'
import { SYSTEMS } from './systems/index.js'
import type { Summary } from './summary.js'

export interface Table {
  title: string
  headers: string[]
  rows: string[][]
}

const num = (v: number): string => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(v >= 10 ? 0 : 1))
const cell = (s: Summary | undefined): string =>
  !s?.perSec ? '-' : `${num(s.perSec.median)} (${num(s.perSec.min)}-${num(s.perSec.max)})${s.capped ? ' capped' : ''}`

export const THROUGHPUT_COLUMNS: Array<[scenario: string, header: string]> = [
  ['enqueue.single', 'enqueue 1-by-1'],
  ['enqueue.batch1000', 'enqueue batch 1000'],
  ['process.default', 'process, defaults'],
  ['process.c1', 'process c1'],
  ['process.c10', 'process c10'],
  ['process.c50', 'process c50'],
  ['process.tuned', 'process, tuned'],
]

const find = (summaries: Summary[], system: string, scenario: string) => summaries.find((s) => s.system === system && s.scenario === scenario)
const systemsIn = (summaries: Summary[]) => [...new Set(summaries.map((s) => s.system))]

/** The best processing median of a system over its settings (tuned or a plain concurrency). */
export function bestProcess(summaries: Summary[], system: string): Summary | undefined {
  return summaries
    .filter((s) => s.system === system && s.scenario.startsWith('process.') && s.perSec)
    .sort((a, b) => b.perSec!.median - a.perSec!.median)[0]
}

function throughputTable(summaries: Summary[]): Table {
  const systems = systemsIn(summaries).filter((s) => summaries.some((x) => x.system === s && x.scenario !== 'latency' && !x.scenario.startsWith('raw')))
  const columns = THROUGHPUT_COLUMNS.filter(([sc]) => summaries.some((s) => s.scenario === sc))
  return {
    title: 'Throughput, jobs/s: median (min-max) over repetitions',
    headers: ['system', ...columns.map(([, h]) => h)],
    rows: systems.map((system) => [system, ...columns.map(([sc]) => cell(find(summaries, system, sc)))]),
  }
}

function latencyTable(summaries: Summary[]): Table {
  const rows = summaries
    .filter((s) => s.latency)
    .map((s) => [s.system, s.label.replace(/^pickup latency, idle worker: /, '') + (s.capped ? ' (not all jobs started before the cap)' : ''), ...[s.latency!.p50, s.latency!.p95, s.latency!.p99, s.latency!.p99Max].map((v) => v.toFixed(1))])
  return { title: 'Enqueue-to-start latency, idle worker, producer in another process (ms; medians over repetitions)', headers: ['system', 'worker', 'p50', 'p95', 'p99', 'worst p99'], rows }
}

function ratioTable(summaries: Summary[]): Table {
  const errands = systemsIn(summaries).filter((s) => s.startsWith('errand'))
  const peers = systemsIn(summaries).filter((s) => !s.startsWith('errand') && !s.startsWith('raw'))
  const ratio = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}x` : '-')
  const rows: string[][] = []
  for (const errand of errands) {
    for (const peer of peers) {
      const r = (sc: string) => ratio(find(summaries, errand, sc)?.perSec?.median, find(summaries, peer, sc)?.perSec?.median)
      const lat = (a?: Summary, b?: Summary) => (a?.latency && b?.latency ? `${(a.latency.p99 / b.latency.p99).toFixed(2)}x` : '-')
      rows.push([
        `${errand} / ${peer}`,
        r('enqueue.single'),
        r('enqueue.batch1000'),
        r('process.c10'),
        r('process.c50'),
        r('process.tuned'),
        ratio(bestProcess(summaries, errand)?.perSec?.median, bestProcess(summaries, peer)?.perSec?.median),
        lat(find(summaries, errand, 'latency'), find(summaries, peer, 'latency')),
      ])
    }
  }
  return {
    title: 'Ratios errand / peer (medians; above 1 means errand is faster, except pickup p99 where below 1 is better)',
    headers: ['pair', 'enqueue 1-by-1', 'enqueue batch', 'process c10', 'process c50', 'process tuned', 'best vs best', 'pickup p99'],
    rows,
  }
}

function settingsTable(summaries: Summary[]): Table {
  const rows = SYSTEMS.flatMap((system) => system.variants.map((v) => [system.name, v.key, v.label])).filter(([system, key]) => summaries.some((s) => s.system === system && s.scenario === `process.${key}`))
  return { title: 'Processing settings', headers: ['system', 'column', 'setting'], rows }
}

function rawTable(summaries: Summary[]): Table {
  const rows = summaries
    .filter((s) => s.scenario.startsWith('raw'))
    .map((s) => [s.label, cell(s), s.perJob ? Object.entries(s.perJob).map(([k, v]) => `${v.toFixed(3)} ${k}`).join(', ') : ''])
  return { title: 'Raw PostgreSQL limit, no library (same server)', headers: ['loop', 'jobs/s', 'per job'], rows }
}

function workTable(summaries: Summary[]): Table {
  const rows = summaries
    .filter((s) => s.perJob && s.scenario.startsWith('process.'))
    .map((s) => [s.system, s.scenario.slice('process.'.length), cell(s), ...['worker CPU us', 'commits', 'tup_returned', 'tup_fetched', 'tup_updated', 'blks_hit'].map((k) => (s.perJob![k] ?? 0).toFixed(2))])
  return {
    title: 'Work per job while processing: CPU of the worker process, and PostgreSQL counters of the measurement\'s own database (pg_stat_database, PEERS_PG_STATS=1)',
    headers: ['system', 'setting', 'jobs/s', 'worker CPU µs', 'commits', 'rows returned', 'rows fetched', 'rows updated', 'buffer hits'],
    rows,
  }
}

export function tables(summaries: Summary[]): Table[] {
  return [throughputTable(summaries), ratioTable(summaries), latencyTable(summaries), workTable(summaries), rawTable(summaries), settingsTable(summaries)].filter((t) => t.rows.length)
}

export function renderText(table: Table): string {
  const widths = table.headers.map((h, i) => Math.max(h.length, ...table.rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [table.title, '', line(table.headers), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map(line)].join('\n')
}

export function renderMarkdown(table: Table): string {
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [`**${table.title}**`, '', row(table.headers), row(table.headers.map((_, i) => (i === 0 ? '---' : '---:'))), ...table.rows.map(row)].join('\n')
}

export async function renderReport(summaries: Summary[], config: PeersConfig, startedAt: Date): Promise<void> {
  const all = tables(summaries)
  for (const table of all) console.log(`\n${renderText(table)}`)
  if (config.writeDocs) writeDocs(all, summaries, config, startedAt)
}
