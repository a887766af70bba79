/**
 * The servers every system shares: ONE PostgreSQL server (started by the test harness in
 * test/support/postgres.ts: fsync on, synchronous_commit and full_page_writes at their
 * durable defaults, or `DATABASE_URL` when set) and one Redis for BullMQ, started here on a
 * free loopback port and stopped at the end. Each measurement gets a fresh database, a fresh
 * SQLite file, or a fresh queue name, and runs in its own child process.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import pg from 'pg'
import type { ChildJob, ChildMessage, ChildResult } from './child.js'
import type { StoreKind } from './systems/system.js'
import type { Measurement } from './summary.js'

const HARNESS = '../../test/support/postgres.js'
/** What the bench uses of the test harness, imported at run time (it is outside this package). */
interface Harness {
  default(): Promise<() => Promise<void>>
  POSTGRES_URL_ENV: string
  POSTGRES_SKIP_ENV: string
  freePort(): Promise<number>
}

export interface Servers {
  postgresUrl: string
  redisUrl: string
  scratch: string
  stop(): Promise<void>
}

export async function startServers(): Promise<Servers> {
  const harness = (await import(HARNESS)) as Harness
  const stopPostgres = await harness.default()
  const postgresUrl = process.env[harness.POSTGRES_URL_ENV]
  if (!postgresUrl) throw new Error(`PostgreSQL is needed: ${process.env[harness.POSTGRES_SKIP_ENV] ?? 'the harness did not start it'}`)
  const scratch = mkdtempSync(join(tmpdir(), 'errand-peers-'))
  const redis = await startRedis(scratch, await harness.freePort())
  return {
    postgresUrl,
    redisUrl: redis.url,
    scratch,
    async stop() {
      redis.process.kill('SIGTERM')
      await new Promise((resolve) => redis.process.once('exit', resolve))
      await stopPostgres()
      rmSync(scratch, { recursive: true, force: true })
    },
  }
}

function redisBinary(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error('redis-server is not installed: apt-get install -y redis-server')
  }
}

async function startRedis(dir: string, port: number): Promise<{ url: string; process: ChildProcess }> {
  // No AOF and no snapshots: BullMQ's figures are for in-memory Redis, stated as such in the docs.
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no']
  const child = spawn(redisBinary(), args, { stdio: ['ignore', 'ignore', 'inherit'] })
  const url = `redis://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    if (await canConnect(port)) return { url, process: child }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  child.kill('SIGKILL')
  throw new Error('redis-server did not start')
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
  })
}

let seq = 0

/** A fresh store location for one measurement, and how to drop it. */
export async function freshLocation(servers: Servers, store: StoreKind): Promise<{ location: string; queue: string; drop(): Promise<void> }> {
  const name = `peers_${process.pid}_${(seq++).toString(36)}`
  // Emptied by the parent after both processes of a measurement are done (a producer that
  // cleaned up itself would delete jobs its worker had not taken yet).
  if (store === 'redis') return { location: servers.redisUrl, queue: name, drop: () => flushRedis(servers.redisUrl) }
  if (store === 'sqlite') {
    const dir = mkdtempSync(join(servers.scratch, 'sqlite-'))
    return { location: join(dir, 'errand.db'), queue: name, drop: async () => rmSync(dir, { recursive: true, force: true }) }
  }
  await adminQuery(servers.postgresUrl, `CREATE DATABASE ${name}`)
  const url = new URL(servers.postgresUrl)
  url.pathname = `/${name}`
  return { location: url.toString(), queue: name, drop: () => adminQuery(servers.postgresUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) }
}

async function flushRedis(url: string): Promise<void> {
  const client = new Redis(url)
  try {
    await client.flushall()
  } finally {
    client.disconnect()
  }
}

async function adminQuery(connectionString: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url))
const TSX = import.meta.resolve('tsx')

export interface ChildHandle {
  /** Resolves when the child says it is ready (workers: started and waiting). */
  ready: Promise<void>
  result: Promise<ChildResult>
  /** Sends a message to the child (`go`, `stop`); ignored once it has exited. */
  send(message: { type: string }): void
  kill(): void
}

/** Forks a measurement child; `ready` resolves when it says so, `result` with its answer; other messages go to `onMessage`. */
export function startChild(job: ChildJob, options: { timeoutMs?: number; onMessage?: (message: ChildMessage) => void } = {}): ChildHandle {
  const child = fork(CHILD, [JSON.stringify(job)], { execArgv: ['--import', TSX], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let markReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (markReady = resolve))
  const result = new Promise<ChildResult>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 10 * 60_000)
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'ready') return markReady()
      if (m.type !== 'result' && m.type !== 'error') return options.onMessage?.(m)
      clearTimeout(timer)
      if (m.type === 'result') resolve(m.value)
      else reject(new Error(`${job.system} ${job.kind}: ${m.message}`))
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${job.system} ${job.kind} exited (${signal ?? code}) without a result`))
    })
    child.on('error', (error) => reject(new Error(`${job.system} ${job.kind}: ${error.message}`)))
  })
  return {
    ready,
    result,
    send: (message) => void (child.connected && child.send(message)),
    kill: () => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')),
  }
}

/** What one drain measurement reports: its rate, and the worker's counters and memory when it read them. */
export function drainMeasurement(runs: number, r: ChildResult): Omit<Measurement, 'system' | 'scenario' | 'label' | 'rep'> {
  return {
    runs,
    done: r.done,
    elapsedMs: r.elapsedMs,
    perSec: (r.done / r.elapsedMs) * 1000,
    ...(r.perJob ? { perJob: r.perJob } : {}),
    ...(r.rssMb !== undefined ? { rssMb: r.rssMb, peakRssMb: r.peakRssMb, loadedRssMb: r.loadedRssMb } : {}),
  }
}
