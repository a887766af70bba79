/**
 * Where a run's results go: every measurement as a JSON line under bench/results/ (git
 * ignored), appended as it is made so an interrupted run keeps what it measured; and the
 * generated part of docs/benchmarks.md, between two markers, so the prose around it
 * (how to read the figures) survives the next run.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { BenchConfig } from '../config.js'
import { renderTable } from './format.js'
import type { MachineInfo } from './machine.js'
import type { Table } from './tables.js'

const REPO = resolve(import.meta.dirname, '../..')
const RESULTS_DIR = join(REPO, 'bench/results')
export const DOCS_PATH = join(REPO, 'docs/benchmarks.md')
/** The markers of each generated section: the full run's figures, and the quick run's (a regression guard). */
const MARKERS = {
  full: { start: '<!-- bench:results:start (written by `npm run bench`; edit outside these markers) -->', end: '<!-- bench:results:end -->' },
  quick: { start: '<!-- bench:quick:start (written by `npm run bench -- --quick`; edit outside these markers) -->', end: '<!-- bench:quick:end -->' },
}
export type DocsSectionKind = keyof typeof MARKERS

export class ResultsFile {
  readonly path: string

  constructor(startedAt: Date) {
    mkdirSync(RESULTS_DIR, { recursive: true })
    this.path = join(RESULTS_DIR, `${startedAt.toISOString().replace(/[:.]/g, '-')}.jsonl`)
  }

  append(record: Record<string, unknown>): void {
    appendFileSync(this.path, `${JSON.stringify(record)}\n`)
  }
}

/** The generated section: the machine, then every table. */
export function docsSection(machine: MachineInfo, config: BenchConfig, tables: Table[], loadAvg: number): string {
  const command = config.quick ? 'npm run bench -- --quick' : 'npm run bench'
  const lines = [
    `Measured ${machine.date.slice(0, 10)} with \`${command}\` (${config.reps} repetitions, ${config.runs.toLocaleString('en-US')} runs per throughput scenario, ${config.latencyRuns} runs ${config.latencyGapMs} ms apart per latency scenario).`,
    '',
    `- CPU: ${machine.cpu}, ${machine.cores} cores; memory ${machine.memoryGiB} GiB`,
    `- Shared machine: median 1-minute load average ${loadAvg.toFixed(1)} while measuring (other work was running; compare ratios, not absolutes)`,
    `- Node ${machine.node}; SQLite ${machine.sqlite} (better-sqlite3 ${machine.betterSqlite3}); Linux ${machine.kernel}`,
    `- Database files on ${machine.filesystem}; WAL, \`synchronous = FULL\` (errand's default) everywhere`,
    `- Code measured: commit ${machine.commit}`,
  ]
  for (const table of tables) {
    if (table.rows.length === 0) continue
    lines.push('', `### ${table.title}`, '', renderTable(table.headers, table.rows, 'markdown', table.leftColumns))
  }
  return lines.join('\n')
}

/**
 * Replaces one generated section of docs/benchmarks.md. A page without the section's
 * markers gets it appended under a heading of its own.
 */
export function writeDocs(section: string, kind: DocsSectionKind = 'full'): void {
  const { start, end } = MARKERS[kind]
  const block = `${start}\n${section}\n${end}`
  const current = existsSync(DOCS_PATH) ? readFileSync(DOCS_PATH, 'utf8') : ''
  const prefix = start.slice(0, start.indexOf(' ('))
  if (current.includes(prefix) && current.includes(end)) {
    const from = current.indexOf(prefix)
    const to = current.indexOf(end) + end.length
    writeFileSync(DOCS_PATH, current.slice(0, from) + block + current.slice(to))
    return
  }
  mkdirSync(join(REPO, 'docs'), { recursive: true })
  const heading = kind === 'full' ? '## Results' : '## Quick run (regression guard)'
  writeFileSync(DOCS_PATH, `${current || '# Benchmarks\n'}\n${heading}\n\n${block}\n`)
}
