/**
 * Writes the generated part of the "Peers" section of docs/benchmarks.md (between two
 * markers, so prose around it survives a rerun) and the chart docs/peers-throughput.svg.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import type { PeersConfig } from './config.js'
import { THROUGHPUT_COLUMNS, renderMarkdown, type Table } from './report.js'
import type { Summary } from './summary.js'
import { throughputSvg } from './svg.js'

const REPO = resolve(import.meta.dirname, '../..')
const DOCS = join(REPO, 'docs/benchmarks.md')
const CHART = 'peers-throughput.svg'
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

function versions(): string[] {
  const errand = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version
  const pgBin = ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin'].find((d) => existsSync(join(d, 'postgres')))
  return [
    `errand ${errand} from source at commit ${sh('git log -1 --format=%h -- src')} (last change to src/)`,
    `graphile-worker ${pkgVersion('graphile-worker')}`,
    `pg-boss ${pkgVersion('pg-boss')}`,
    `BullMQ ${pkgVersion('bullmq')} with ioredis ${pkgVersion('ioredis')}`,
    `node-postgres ${pkgVersion('pg')}`,
    `PostgreSQL: ${process.env.DATABASE_URL ? 'DATABASE_URL' : pgBin ? sh(`${pgBin}/postgres --version`) : 'unknown'}`,
    `Redis: ${sh('redis-server --version').replace(/ sha=.*$/, '')}`,
  ]
}

export function writeDocs(tables: Table[], summaries: Summary[], config: PeersConfig, startedAt: Date): void {
  const systems = [...new Set(summaries.filter((s) => s.perSec && !s.scenario.startsWith('raw')).map((s) => s.system))]
  writeFileSync(join(REPO, 'docs', CHART), throughputSvg(summaries, THROUGHPUT_COLUMNS, systems))
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  const block = [
    START,
    '',
    `Measured ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${sh('uname -sr')}, Node ${process.versions.node}: a shared machine whose other tenants make figures move between runs, so read ratios within this run, not absolutes. ${config.runs.toLocaleString('en-US')} no-op jobs per measurement, ${config.reps} repetition(s) interleaved; every cell is the median with (min-max). A processing measurement that had not finished after ${config.processTimeoutMs / 1000} s (${config.slowTimeoutMs / 1000} s for pg-boss defaults) reports the rate of what it did, marked "capped".`,
    '',
    'Versions:',
    '',
    ...versions().map((v) => `- ${v}`),
    '',
    `![Jobs per second per system and scenario](${CHART})`,
    '',
    ...tables.flatMap((t) => [renderMarkdown(t), '']),
    END,
  ].join('\n')
  const current = existsSync(DOCS) ? readFileSync(DOCS, 'utf8') : '# Benchmarks\n'
  const from = current.indexOf(START)
  const to = current.indexOf(END)
  const next = from >= 0 && to > from ? current.slice(0, from) + block + current.slice(to + END.length) : `${current.trimEnd()}\n\n## Peers\n\n${block}\n`
  writeFileSync(DOCS, next)
  console.log(`updated ${DOCS} and docs/${CHART}`)
}
