/**
 * A scripted errand worker, run as its own process by the process-level tests:
 *
 *   ERRAND_PROCESS_CONFIG='{"store":...,"ledgerDir":...}' node --import tsx test/process/worker-process.ts
 *
 * It opens the store described by the config, registers `ledger-task` (each run's payload
 * says what its handler does, see {@link JobPayload}), starts a worker, and appends every
 * handler start and finish to its own ledger file, fsynced. On SIGTERM it stops the worker
 * with the configured grace, closes the store and exits 0. It prints one JSON line per
 * lifecycle event on stdout (see {@link ChildMessage}).
 */
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createErrand } from '../../src/index.js'
import type { TaskContext } from '../../src/runtime/task.js'
import type { StoreDriver } from '../../src/storage/driver.js'
import { openStore } from '../support/stores.js'
import { LedgerWriter } from './ledger.js'
import { LEDGER_TASK, type ChildMessage, type JobPayload, type LedgerEntry, type WorkerProcessConfig } from './protocol.js'

const config = JSON.parse(process.env.ERRAND_PROCESS_CONFIG ?? process.argv[2] ?? '') as WorkerProcessConfig
const pid = process.pid
const workerId = `${config.name}-${pid}`
const ledger = new LedgerWriter(join(config.ledgerDir, `worker-${pid}.jsonl`), config.fsync ?? true)

function say(message: ChildMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`)
}

let ledgerWrites = 0
let maxLedgerMs = 0
/** ms spent in ledger appends since the stall detector's last tick. */
let ledgerMsSinceTick = 0

function record(ctx: TaskContext, event: LedgerEntry['event'], outcome: string): void {
  const started = performance.now()
  ledger.append({ runId: ctx.runId, attempt: ctx.attempt, pid, worker: workerId, event, at: Date.now(), outcome })
  const ms = performance.now() - started
  ledgerWrites++
  ledgerMsSinceTick += ms
  if (ms > maxLedgerMs) maxLedgerMs = ms
}

/**
 * Reports event-loop stalls of half a second or more: a stalled loop sends no heartbeat, so a
 * lease lost by a live worker can be traced to the stall (and to how much of it the
 * ledger's own fsyncs took).
 */
const STALL_TICK_MS = 100
let maxStallMs = 0
let lastTick = performance.now()
setInterval(() => {
  const now = performance.now()
  const stall = now - lastTick - STALL_TICK_MS
  if (stall > maxStallMs) maxStallMs = stall
  if (stall >= 500) say({ type: 'stall', pid, ms: Math.round(stall), at: Date.now(), ledgerMs: Math.round(ledgerMsSinceTick) })
  lastTick = now
  ledgerMsSinceTick = 0
}, STALL_TICK_MS).unref()

/** Sleeps, and rejects with the signal's reason when it aborts. */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

async function handler(payload: JobPayload, ctx: TaskContext): Promise<unknown> {
  const retried = ctx.attempt > 1 && payload.retryMs !== undefined
  const outcome = retried ? 'ok' : payload.outcome
  const ms = retried ? (payload.retryMs as number) : payload.ms
  record(ctx, 'start', outcome)
  switch (outcome) {
    case 'ok':
      try {
        await abortableSleep(ms, ctx.signal)
      } catch (reason) {
        record(ctx, 'finish', 'aborted')
        throw reason
      }
      record(ctx, 'finish', 'ok')
      return { pid, attempt: ctx.attempt }
    case 'ignore-abort':
      await sleep(ms)
      record(ctx, 'finish', 'ok')
      return { pid, attempt: ctx.attempt }
    case 'throw':
      await sleep(ms)
      record(ctx, 'finish', 'throw')
      throw new Error(`planned failure of run ${ctx.runId}`)
    case 'throw-string':
      await sleep(ms)
      record(ctx, 'finish', 'throw-string')
      throw 'planned string failure'
    case 'throw-undefined':
      await sleep(ms)
      record(ctx, 'finish', 'throw-undefined')
      throw undefined
    case 'hang':
      return new Promise(() => {})
    case 'exit':
      await sleep(ms)
      record(ctx, 'finish', 'exit')
      process.exit(70)
    case 'reject-unhandled': {
      // Work the handler started and never awaited fails while the handler is still busy.
      void (async () => {
        await sleep(ms)
        record(ctx, 'finish', 'reject-unhandled')
        throw new Error(`unawaited failure in run ${ctx.runId}`)
      })()
      await sleep(ms * 10 + 60_000)
      record(ctx, 'finish', 'ok')
      return { pid, attempt: ctx.attempt }
    }
    default:
      throw new Error(`unknown outcome ${String(outcome)}`)
  }
}

/**
 * The store, with the synchronous part of each call timed: SQLite does all its work (lock
 * waits and fsyncs included) before the call returns its promise, blocking the event loop.
 */
const syncMs = new Map<string, { calls: number; slow: number; max: number }>()
function timedStore(driver: StoreDriver): StoreDriver {
  return new Proxy(driver, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        const started = performance.now()
        try {
          return (value as (...a: unknown[]) => unknown).apply(target, args)
        } finally {
          const ms = performance.now() - started
          const entry = syncMs.get(String(property)) ?? { calls: 0, slow: 0, max: 0 }
          entry.calls++
          if (ms >= 500) entry.slow++
          entry.max = Math.max(entry.max, Math.round(ms))
          syncMs.set(String(property), entry)
        }
      }
    },
  })
}

async function main(): Promise<void> {
  const errand = createErrand({ store: timedStore(openStore(config.store)) })
  errand.task<JobPayload>(LEDGER_TASK, {}, handler)
  const worker = errand.worker({ ...config.worker, workerId })
  errand.on('worker.error', ({ error }) =>
    say({ type: 'worker.error', pid, name: error.name, code: (error as { code?: string }).code ?? null, message: error.message }),
  )
  errand.on('run.released', ({ runId, attempt }) => say({ type: 'released', pid, runId, attempt }))
  errand.on('run.rescued', ({ runId, attempt, status }) => say({ type: 'rescued', pid, runId, attempt, status }))

  let stopping = false
  process.on('SIGTERM', () => {
    if (stopping) return
    stopping = true
    say({ type: 'stopping', pid })
    const started = Date.now()
    void worker
      .stop({ timeout: config.grace ?? '5s' })
      .then(async () => {
        const stopMs = Date.now() - started
        await errand.close()
        ledger.close()
        say({ type: 'stats', pid, maxStallMs: Math.round(maxStallMs), maxLedgerMs: Math.round(maxLedgerMs), ledgerWrites, storeSyncMs: Object.fromEntries(syncMs) })
        say({ type: 'stopped', pid, stopMs })
        // A handler that ignored its abort may still hold a timer: the worker is done with it.
        process.exit(0)
      })
      .catch((error: unknown) => {
        process.stderr.write(`stop failed: ${String((error as Error)?.stack ?? error)}\n`)
        process.exit(1)
      })
  })

  await worker.start()
  say({ type: 'ready', pid, workerId })
}

main().catch((error: unknown) => {
  process.stderr.write(`worker process failed: ${String((error as Error)?.stack ?? error)}\n`)
  process.exit(1)
})
