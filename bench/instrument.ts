/**
 * Counting what a run costs the store. `countCalls` wraps a driver so every method call is
 * counted with the rows it carried and the time it took before returning its promise (on
 * SQLite the whole transaction runs synchronously inside the call, so that is the cost of
 * the SQL and of the commit's fsync; the rest of the elapsed time is the runtime's own).
 * `profileStatements` goes one level down and times every better-sqlite3 statement.
 */
import Database from 'better-sqlite3'
import { performance } from 'node:perf_hooks'
import type { StoreDriver } from '../src/storage/driver.js'
import type { CallStat, StatementStat } from './results.js'

/**
 * Methods that open a write transaction: one commit each on SQLite (`BEGIN IMMEDIATE` ...
 * `COMMIT`), one or more statements on PostgreSQL. `migrate` is left out: it runs once, before timing.
 */
const WRITE_METHODS = new Set([
  'runInsertMany',
  'runClaim',
  'runHeartbeat',
  'runFinishMany',
  'runCancel',
  'runPromoteDue',
  'runRescueExpired',
  'runPrune',
])

export class CallCounter {
  readonly stats: Record<string, CallStat> = {}
  private enabled = false
  /** Lets a lower-level counter (PostgreSQL queries) start and stop with this one. */
  onToggle: ((on: boolean) => void) | null = null

  /** Counting starts here, so setup (migrations, seeding) stays out of the figures. */
  start(): void {
    this.enabled = true
    this.onToggle?.(true)
  }

  stop(): void {
    this.enabled = false
    this.onToggle?.(false)
  }

  record(method: string, rows: number, syncMs: number): void {
    if (!this.enabled) return
    const stat = (this.stats[method] ??= { calls: 0, rows: 0, syncMs: 0 })
    stat.calls++
    stat.rows += rows
    stat.syncMs += syncMs
  }

  addRows(method: string, rows: number): void {
    if (this.enabled && this.stats[method]) this.stats[method].rows += rows
  }

  commits(): number {
    return Object.entries(this.stats).reduce((sum, [method, stat]) => sum + (WRITE_METHODS.has(method) ? stat.calls : 0), 0)
  }

  calls(): number {
    return Object.values(this.stats).reduce((sum, stat) => sum + stat.calls, 0)
  }
}

/** Wraps a driver so every call is counted; the driver itself is untouched. */
export function countCalls(inner: StoreDriver, counter: CallCounter): StoreDriver {
  return new Proxy(inner, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown
      if (typeof value !== 'function' || typeof property !== 'string') return value
      return (params: { runs?: unknown[]; results?: unknown[]; leases?: unknown[] } | undefined) => {
        const t0 = performance.now()
        const result = (value as (p: unknown) => unknown).call(target, params)
        const rowsIn = params?.runs?.length ?? params?.results?.length ?? params?.leases?.length ?? 0
        counter.record(property, rowsIn, performance.now() - t0)
        // A claim's rows are only known from its answer.
        if (property === 'runClaim' && result instanceof Promise) {
          void result.then((rows: unknown[]) => counter.addRows(property, rows.length), () => {})
        }
        return result
      }
    },
  })
}

/**
 * Times every statement better-sqlite3 runs in this process, BEGIN and COMMIT included,
 * by wrapping the shared Statement prototype. Only for child processes that measure one
 * scenario: it is process-wide and cannot be undone.
 */
export function profileStatements(): { stats: Map<string, StatementStat>; start(): void } {
  const stats = new Map<string, StatementStat>()
  const byStatement = new WeakMap<object, StatementStat>()
  let enabled = false
  const probe = new Database(':memory:')
  const proto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>
  probe.close()
  for (const method of ['run', 'get', 'all'] as const) {
    const original = proto[method] as (...args: unknown[]) => unknown
    proto[method] = function (this: { source: string }, ...args: unknown[]) {
      if (!enabled) return original.apply(this, args)
      // The WeakMap keeps the per-call cost to one lookup; the SQL text is read once per statement.
      let stat = byStatement.get(this)
      if (!stat) {
        const key = this.source.replace(/\s+/g, ' ').trim().slice(0, 70)
        stat = stats.get(key) ?? { count: 0, ms: 0 }
        stats.set(key, stat)
        byStatement.set(this, stat)
      }
      const t0 = performance.now()
      try {
        return original.apply(this, args)
      } finally {
        stat.count++
        stat.ms += performance.now() - t0
      }
    }
  }
  return { stats, start: () => (enabled = true) }
}

/** Process figures for the measurement record. */
export function processFigures(cpuStart: NodeJS.CpuUsage, runs: number): { cpuUsPerRun: number; rssMb: number; maxRssMb: number } {
  const cpu = process.cpuUsage(cpuStart)
  return {
    cpuUsPerRun: (cpu.user + cpu.system) / runs,
    rssMb: process.memoryUsage().rss / 2 ** 20,
    // maxRSS is in kilobytes.
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  }
}

/**
 * Watches how long the event loop goes without a turn: the longest gap between ticks of a
 * 5 ms interval, the gap still open at the end included (a loop blocked throughout would
 * otherwise never record anything). A worker that never yields starves its own heartbeats
 * and timers, and everything else its process serves.
 */
export function watchEventLoop(): { maxMs(): number } {
  let last = performance.now()
  let max = 0
  const timer = setInterval(() => {
    const now = performance.now()
    max = Math.max(max, now - last)
    last = now
  }, 5)
  return {
    maxMs() {
      clearInterval(timer)
      return Math.max(max, performance.now() - last)
    },
  }
}

/**
 * Counts queries sent by node-postgres in this process: each one is a round trip to the
 * server (BEGIN and COMMIT included), which is what a networked store charges for.
 */
export async function countPgQueries(): Promise<{ total(): number; start(): void; stop(): void }> {
  const { default: pg } = await import('pg')
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }
  const original = proto.query
  let enabled = false
  let total = 0
  proto.query = function (this: unknown, ...args: unknown[]) {
    if (enabled) total++
    return original.apply(this, args)
  }
  return {
    total: () => total,
    start: () => void (enabled = true),
    stop: () => void (enabled = false),
  }
}
