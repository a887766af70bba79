/**
 * Writes the generated part of the "Peers" section of docs/benchmarks.md (between two
 * markers, so prose around it survives a rerun) and its charts docs/peers-throughput.svg
 * and, when the mixed load ran, docs/peers-backlog.svg.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import type { PeersConfig } from './config.js'
import { chartColumns, renderMarkdown, type Table } from './report.js'
import type { Summary } from './summary.js'
import { backlogSvg, throughputSvg } from './svg.js'

const REPO = resolve(import.meta.dirname, '../..')
const DOCS = join(REPO, 'docs/benchmarks.md')
const CHART = 'peers-throughput.svg'
const BACKLOG_CHART = 'peers-backlog.svg'
const START = '<!-- peers:start (written by `npm run bench:peers` with PEERS_WRITE_DOCS=1; edit outside these markers) -->'
const END = '<!-- peers:end -->'

const sh = (cmd: string): string => {
  try {
    return execFileSync('sh', ['-c', cmd], { encoding: 'utf8', cwd: REPO }).trim()
  } catch {
    return 'unknown'
  }
}
const pkgVersion = (name: string): string => {
  const file = join(import.meta.dirname, 'node_modules', name, 'package.json')
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : 'not installed'
}

/** The last commit that changed src/: the errand code a run measures. */
export function errandSourceCommit(): string {
  return sh('git log -1 --format=%h -- src')
}

/** Versions of everything measured; `errandCommit` is the one recorded when the run was made, if known. */
export function versions(errandCommit?: string): string[] {
  const errand = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version
  const pgBin = ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin'].find((d) => existsSync(join(d, 'postgres')))
  return [
    `errand ${errand}, built from src/ at commit ${errandCommit ?? errandSourceCommit()} (its last change)`,
    `graphile-worker ${pkgVersion('graphile-worker')}`,
    `pg-boss ${pkgVersion('pg-boss')}`,
    `BullMQ ${pkgVersion('bullmq')} with ioredis ${pkgVersion('ioredis')}`,
    `node-postgres ${pkgVersion('pg')}`,
    `PostgreSQL: ${process.env.DATABASE_URL ? 'DATABASE_URL' : pgBin ? sh(`${pgBin}/postgres --version`) : 'unknown'}`,
    `Redis: ${sh('redis-server --version').replace(/ sha=.*$/, '')}`,
  ]
}

export function writeDocs(tables: Table[], summaries: Summary[], config: PeersConfig, startedAt: Date): void {
  const systems = [...new Set(summaries.filter((s) => (s.perSec || s.mixed) && !s.scenario.startsWith('raw')).map((s) => s.system))]
  writeFileSync(join(REPO, 'docs', CHART), throughputSvg(summaries, chartColumns(config), systems))
  const mixed = summaries.some((s) => s.mixed)
  if (mixed) writeFileSync(join(REPO, 'docs', BACKLOG_CHART), backlogSvg(summaries, systems))
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  const ran = (prefix: string) => summaries.some((s) => s.scenario.startsWith(prefix))
  const more = [
    ran('scale4.') ? `${config.processes} worker processes: the same ${config.runs.toLocaleString('en-US')} jobs per measurement.` : '',
    ran('retained.') ? `Retained history: ${config.retained.toLocaleString('en-US')} finished jobs.` : '',
    mixed ? `Mixed load: ${config.mixedRate.toLocaleString('en-US')} jobs/s offered for ${config.mixedSeconds} s, ${config.mixedTickMs ? `the jobs due every ${config.mixedTickMs} ms in one bulk call` : 'one enqueue call per job'}; a worker that has not caught up ${config.processTimeoutMs / 1000} s after production ended is stopped there.` : '',
  ].filter(Boolean)
  const block = [
    START,
    '',
    `Measured ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${sh('uname -sr')}, Node ${process.versions.node}: a shared machine whose other tenants make figures move between runs, so read ratios within this run, not absolutes. ${config.runs.toLocaleString('en-US')} no-op jobs per measurement, ${config.reps} repetition(s) interleaved; every cell is the median with (min-max). A processing measurement that had not finished after ${config.processTimeoutMs / 1000} s (${config.slowTimeoutMs / 1000} s for pg-boss defaults) reports the rate of what it did, marked "capped".${more.length ? ` ${more.join(' ')}` : ''}`,
    '',
    'Versions:',
    '',
    ...versions(config.errandCommit).map((v) => `- ${v}`),
    '',
    `![Jobs per second per system and scenario](${CHART})`,
    '',
    ...(mixed ? [`![Backlog over time under the mixed load, per system](${BACKLOG_CHART})`, ''] : []),
    ...tables.flatMap((t) => [renderMarkdown(t), '']),
    END,
  ].join('\n')
  const current = existsSync(DOCS) ? readFileSync(DOCS, 'utf8') : '# Benchmarks\n'
  const from = current.indexOf(START)
  const to = current.indexOf(END)
  const next = from >= 0 && to > from ? current.slice(0, from) + block + current.slice(to + END.length) : `${current.trimEnd()}\n\n## Peers\n\n${block}\n`
  writeFileSync(DOCS, next)
  console.log(`updated ${DOCS}, docs/${CHART}${mixed ? ` and docs/${BACKLOG_CHART}` : ''}`)
}
