/**
 * Tables of a peers run: printed on the terminal, and (with `PEERS_WRITE_DOCS=1`) written as
 * the "Peers" section of docs/benchmarks.md with its chart. Every cell is the median over
 * repetitions with min and max beside it; ratios are errand's median over the peer's.
 */
import type { PeersConfig } from './config.js'
import { writeDocs } from './docs.js'
import { SYSTEMS } from './systems/index.js'
import { tunedVariant } from './systems/system.js'
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

/** Bars of the chart: the throughput columns, then one process of 4 and the retained table. */
export const chartColumns = (config: Pick<PeersConfig, 'processes' | 'retained'>): Array<[scenario: string, header: string]> => [
  ...THROUGHPUT_COLUMNS,
  [`scale4.p${config.processes}`, `${config.processes} processes, tuned`],
  ['retained.full', `tuned, ${short(config.retained)} retained`],
]

const short = (n: number) => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : n.toLocaleString('en-US'))
const mb = (v: number) => Math.round(v).toLocaleString('en-US')
const range = (s: { median: number; min: number; max: number } | undefined, f = num): string =>
  !s ? '-' : s.min === s.max ? f(s.median) : `${f(s.median)} (${f(s.min)}-${f(s.max)})`
const tunedLabel = (system: string): string => {
  const def = SYSTEMS.find((s) => s.name === system)
  return def ? tunedVariant(def).label : '-'
}

const find = (summaries: Summary[], system: string, scenario: string) => summaries.find((s) => s.system === system && s.scenario === scenario)
const systemsIn = (summaries: Summary[]) => [...new Set(summaries.map((s) => s.system))]

/** The best processing median of a system over its settings (tuned or a plain concurrency). */
export function bestProcess(summaries: Summary[], system: string): Summary | undefined {
  return summaries
    .filter((s) => s.system === system && s.scenario.startsWith('process.') && s.perSec)
    .sort((a, b) => b.perSec!.median - a.perSec!.median)[0]
}

function throughputTable(summaries: Summary[]): Table {
  const columns = THROUGHPUT_COLUMNS.filter(([sc]) => summaries.some((s) => s.scenario === sc))
  const systems = systemsIn(summaries).filter((s) => summaries.some((x) => x.system === s && columns.some(([sc]) => sc === x.scenario)))
  return {
    title: 'Throughput, jobs/s: median (min-max) over repetitions',
    headers: ['system', ...columns.map(([, h]) => h)],
    rows: systems.map((system) => [system, ...columns.map(([sc]) => cell(find(summaries, system, sc)))]),
  }
}

function scaleTable(summaries: Summary[]): Table {
  const multi = summaries.filter((s) => /^scale4\.p\d+$/.test(s.scenario) && s.scenario !== 'scale4.p1')
  const n = multi[0]?.scenario.slice('scale4.p'.length) ?? '4'
  const systems = systemsIn(summaries).filter((system) => summaries.some((s) => s.system === system && s.scenario.startsWith('scale4.')))
  const rows = systems.map((system) => {
    const one = find(summaries, system, 'scale4.p1')
    const many = find(summaries, system, `scale4.p${n}`)
    const ratio = one?.perSec && many?.perSec ? `${(many.perSec.median / one.perSec.median).toFixed(2)}x` : '-'
    const share = many?.share ? `${Math.round(many.share.min * 100)}-${Math.round(many.share.max * 100)}%` : '-'
    const rss = (x?: Summary) => (x?.rssMb ? mb(x.rssMb.median) : '-')
    return [system, tunedLabel(system), cell(one), cell(many), ratio, share, rss(one), rss(many)]
  })
  return {
    title: `Processing with ${n} worker processes at once on one store, each with the system's tuned setting, beside 1 process in the same harness (jobs/s: median (min-max))`,
    headers: ['system', 'setting (each process)', '1 process', `${n} processes`, `${n} / 1`, 'jobs per process (min-max share)', 'RSS MiB, 1 process', `RSS MiB, largest of ${n}`],
    rows,
  }
}

function retainedTable(summaries: Summary[]): Table {
  const full = summaries.filter((s) => s.scenario === 'retained.full')
  const count = full.find((s) => s.retained !== undefined)?.retained
  const rows = full.map((f) => {
    if (f.na) return [f.system, '-', '-', f.na, '-', '-']
    const empty = find(summaries, f.system, 'retained.empty')
    // Positive: slower with the history; negative: faster (noise, or a warmer cache).
    const cost = empty?.perSec && f.perSec ? `${((1 - f.perSec.median / empty.perSec.median) * 100).toFixed(0)}%` : '-'
    return [f.system, tunedLabel(f.system), cell(empty), cell(f), cost, f.seedMs ? `${(f.seedMs.median / 1000).toFixed(1)} s` : '-']
  })
  return {
    title: `Processing (tuned setting, one process) with ${count === undefined ? 'a history of' : count.toLocaleString('en-US')} finished jobs retained in the table versus an empty one (jobs/s: median (min-max); cost: how much slower the drain is with the history, from the medians; negative is faster)`,
    headers: ['system', 'setting', 'empty table', `${count === undefined ? '' : short(count) + ' '}retained`, 'cost', 'seeding (not timed)'],
    rows,
  }
}

function mixedTable(summaries: Summary[]): Table {
  const mixed = summaries.filter((s) => s.mixed)
  const m0 = mixed[0]?.mixed
  const rows = mixed.map((s) => {
    const m = s.mixed!
    const catchUp = m.catchUpMs ? `${range(m.catchUpMs, (v) => (v / 1000).toFixed(1))} s` : '-'
    const notCaught = m.notCaughtUp ? `${m.catchUpMs ? `; ` : ''}not caught up before the cap in ${m.notCaughtUp} of ${s.reps}` : ''
    return [
      s.system,
      tunedLabel(s.system),
      range(m.enqueueRate),
      range(m.maxBacklog, mb),
      range(m.endBacklog, mb),
      `${catchUp === '-' && notCaught ? '' : catchUp}${notCaught}`,
      `${m.pickup.p50.toFixed(0)} / ${m.pickup.p99.toFixed(0)}`,
      s.rssMb ? mb(s.rssMb.median) : '-',
    ]
  })
  const how = m0 ? `${m0.rate.toLocaleString('en-US')} jobs/s for ${m0.seconds} s ${m0.tickMs ? `(the jobs due every ${m0.tickMs} ms in one bulk call)` : '(one enqueue call per job)'}` : ''
  return {
    title: `Mixed load: a producer process enqueueing ${how} while one worker process drains (tuned setting); backlog = jobs enqueued and not yet started, sampled every 500 ms (medians (min-max) over repetitions)`,
    headers: ['system', 'worker setting', 'enqueued, jobs/s', 'max backlog', 'backlog when production ended', 'catch-up after production', 'pickup p50 / p99, ms', 'worker RSS MiB'],
    rows,
  }
}

function memoryTable(summaries: Summary[]): Table {
  const scenarios = [
    ...THROUGHPUT_COLUMNS.filter(([sc]) => sc.startsWith('process.')),
    ['scale4.p1', '1 process (scale4)'],
    ...[...new Set(summaries.map((s) => s.scenario).filter((sc) => /^scale4\.p\d+$/.test(sc) && sc !== 'scale4.p1'))].map((sc) => [sc, `largest of ${sc.slice('scale4.p'.length)} processes`]),
    ['retained.empty', 'empty table (retained)'],
    ['retained.full', 'retained history'],
    ['mixed', 'mixed load'],
  ].filter(([sc]) => summaries.some((s) => s.scenario === sc && s.rssMb))
  const systems = systemsIn(summaries).filter((system) => summaries.some((s) => s.system === system && s.rssMb))
  const value = (s?: Summary) => (s?.rssMb ? `${mb(s.rssMb.median)} / ${mb(s.peakRssMb?.median ?? s.rssMb.median)}` : '-')
  const loaded = (system: string) => {
    const values = summaries.filter((s) => s.system === system && s.loadedRssMb).map((s) => s.loadedRssMb!.median)
    return values.length ? mb(Math.min(...values)) : '-'
  }
  return {
    title: "Worker process memory, RSS in MiB: when its measured work ended / its peak (medians over repetitions). 'Loaded' is the same child once the system's package is imported, before it opens anything: Node, the tsx loader and the library, a baseline the other figures include (RSS can also shrink after a collection)",
    headers: ['system', 'loaded', ...scenarios.map(([, h]) => h!)],
    rows: systems.map((system) => [system, loaded(system), ...scenarios.map(([sc]) => value(find(summaries, system, sc!)))]),
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
  const processes = summaries.find((s) => /^scale4\.p\d+$/.test(s.scenario) && s.scenario !== 'scale4.p1')?.scenario.slice('scale4.p'.length) ?? '4'
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
        r(`scale4.p${processes}`),
        ratio(bestProcess(summaries, errand)?.perSec?.median, bestProcess(summaries, peer)?.perSec?.median),
        lat(find(summaries, errand, 'latency'), find(summaries, peer, 'latency')),
      ])
    }
  }
  return {
    title: 'Ratios errand / peer (medians; above 1 means errand is faster, except pickup p99 where below 1 is better)',
    headers: ['pair', 'enqueue 1-by-1', 'enqueue batch', 'process c10', 'process c50', 'process tuned', `tuned, ${processes} processes`, 'best vs best', 'pickup p99'],
    rows: rows.filter((row) => row.slice(1).some((c) => c !== '-')),
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
    .map((s) => [s.system, s.scenario.slice('process.'.length), cell(s), ...['worker CPU us', 'commits', 'tup_returned', 'tup_fetched', 'tup_updated', 'blks_hit'].map((k) => {
      const value = s.perJob![k]
      // Counters not read in this run (PEERS_PG_STATS unset, or a store without them): no figure, not zero.
      return value === undefined || (k !== 'worker CPU us' && value === 0) ? '-' : value.toFixed(2)
    })])
  return {
    title: 'Work per job while processing: CPU of the worker process, and PostgreSQL counters of the measurement\'s own database (pg_stat_database, PEERS_PG_STATS=1)',
    headers: ['system', 'setting', 'jobs/s', 'worker CPU µs', 'commits', 'rows returned', 'rows fetched', 'rows updated', 'buffer hits'],
    rows,
  }
}

export function tables(summaries: Summary[]): Table[] {
  return [
    throughputTable(summaries),
    ratioTable(summaries),
    scaleTable(summaries),
    retainedTable(summaries),
    mixedTable(summaries),
    latencyTable(summaries),
    memoryTable(summaries),
    workTable(summaries),
    rawTable(summaries),
    settingsTable(summaries),
  ]
    .filter((t) => t.rows.length)
    .map(withoutEmptyColumns)
}

/** Drops the columns in which no row has a figure (scenarios not run). */
function withoutEmptyColumns(table: Table): Table {
  const keep = table.headers.map((_, i) => i === 0 || table.rows.some((r) => (r[i] ?? '-') !== '-'))
  const pick = <T,>(cells: T[]) => cells.filter((_, i) => keep[i])
  return { ...table, headers: pick(table.headers), rows: table.rows.map(pick) }
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
