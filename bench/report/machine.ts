/** The machine a run was measured on: figures only compare within one machine and one run. */
import Database from 'better-sqlite3'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'
import { createRequire } from 'node:module'

export interface MachineInfo {
  date: string
  cpu: string
  cores: number
  memoryGiB: number
  node: string
  sqlite: string
  betterSqlite3: string
  kernel: string
  /** Filesystem under the database files: a tmpfs would make every fsync free and the figures meaningless. */
  filesystem: string
  /** The code measured: commit, and whether src/ had uncommitted changes (others edit this tree too). */
  commit: string
}

export function machineInfo(dir: string): MachineInfo {
  const db = new Database(':memory:')
  const sqlite = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v
  db.close()
  const require = createRequire(import.meta.url)
  const betterSqlite3 = (JSON.parse(readFileSync(require.resolve('better-sqlite3/package.json'), 'utf8')) as { version: string }).version
  return {
    date: new Date().toISOString(),
    cpu: cpuModel(),
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    sqlite,
    betterSqlite3,
    kernel: release(),
    filesystem: filesystemOf(dir),
    commit: commitOf(),
  }
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'))
    if (line) return line.split(':')[1]?.trim() ?? 'unknown'
  } catch {
    // not Linux: fall back to what Node reports
  }
  return cpus()[0]?.model ?? 'unknown'
}

function filesystemOf(dir: string): string {
  try {
    return execFileSync('findmnt', ['-n', '-o', 'FSTYPE,SOURCE', '-T', dir], { encoding: 'utf8' }).trim().replace(/\s+/g, ' on ')
  } catch {
    return 'unknown'
  }
}

function commitOf(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const dirty = git('status', '--porcelain', '--', 'src') !== ''
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' with uncommitted changes in src/' : ''}`
  } catch {
    return 'unknown'
  }
}
