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
const START = '<!-- bench:results:start (written by `npm run bench`; edit outside these markers) -->'
const END = '<!-- bench:results:end -->'

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
  const lines = [
    `Measured ${machine.date.slice(0, 10)} with \`npm run bench\` (${config.reps} repetitions, ${config.runs.toLocaleString('en-US')} runs per throughput scenario, ${config.latencyRuns} runs ${config.latencyGapMs} ms apart per latency scenario).`,
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

/** Replaces the generated section of docs/benchmarks.md, creating the page around it if needed. */
export function writeDocs(section: string): void {
  const block = `${START}\n${section}\n${END}`
  const current = existsSync(DOCS_PATH) ? readFileSync(DOCS_PATH, 'utf8') : null
  if (current && current.includes(START.slice(0, 25)) && current.includes(END)) {
    const from = current.indexOf(START.slice(0, 25))
    const to = current.indexOf(END) + END.length
    writeFileSync(DOCS_PATH, current.slice(0, from) + block + current.slice(to))
    return
  }
  mkdirSync(join(REPO, 'docs'), { recursive: true })
  writeFileSync(DOCS_PATH, `# Benchmarks\n\nRun \`npm run bench\` to measure again.\n\n## Results\n\n${block}\n${current ? `\n${current}` : ''}`)
}
