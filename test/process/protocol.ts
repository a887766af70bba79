/**
 * What the process-level tests and their child processes agree on: the task they run, the
 * payload that scripts each run, the configuration handed to a child, the ledger lines and
 * the messages children print on stdout.
 */
import type { Duration } from '../../src/core/durations.js'
import type { EnqueueOptions } from '../../src/core/run-options.js'
import type { StoreSpec } from '../support/stores.js'

/** The one task every scripted worker registers. */
export const LEDGER_TASK = 'ledger-task'

/** What a handler does. */
export type Outcome =
  /** Sleeps `ms` (aborts cooperatively when its signal fires), then returns. */
  | 'ok'
  /** Sleeps `ms`, then throws an Error. */
  | 'throw'
  /** Never settles and ignores its signal. */
  | 'hang'
  /** Calls `process.exit` after `ms`, in the middle of the run. */
  | 'exit'
  /** Sleeps `ms` without looking at its signal, then returns. */
  | 'ignore-abort'
  /** Sleeps `ms`, then throws a string. */
  | 'throw-string'
  /** Sleeps `ms`, then throws `undefined`. */
  | 'throw-undefined'
  /** After `ms`, a promise the handler never awaited rejects while the handler is still busy (Node's default then ends the process). */
  | 'reject-unhandled'

export const OUTCOMES: readonly Outcome[] = ['ok', 'throw', 'hang', 'exit', 'ignore-abort', 'throw-string', 'throw-undefined', 'reject-unhandled']

/** The payload of a ledger-task run: a script for its handler. */
export interface JobPayload {
  /** How long the handler works, in ms. */
  ms: number
  outcome: Outcome
  /** Attempts after the first work this long instead, and succeed (a retried or released run finishes quickly). */
  retryMs?: number
}

/** One handler event, one JSON line in a process's ledger. */
export interface LedgerEntry {
  runId: string
  attempt: number
  pid: number
  /** The worker id, which also names the attempt's `workerId` in the store. */
  worker: string
  event: 'start' | 'finish'
  /** ms since the epoch, from the machine's one clock. */
  at: number
  /** On `start`: the outcome the payload asked for. On `finish`: what happened (`ok`, `throw`, `aborted`...). */
  outcome: string
}

/** Options of a scripted worker's `errand.worker(...)`. */
export interface ScriptedWorkerOptions {
  concurrency?: number
  lease?: Duration
  heartbeatInterval?: Duration
  pollInterval?: Duration
  maintenanceInterval?: Duration
  batchSize?: number
}

/** Handed to `worker-process.ts` as JSON in `ERRAND_PROCESS_CONFIG` (or argv[2]). */
export interface WorkerProcessConfig {
  store: StoreSpec
  /** Folder of ledgers: the process writes `worker-<pid>.jsonl` in it. */
  ledgerDir: string
  /** Prefix of the worker id (`<name>-<pid>`). */
  name: string
  worker: ScriptedWorkerOptions
  /** How long `worker.stop()` lets runs finish after SIGTERM. Default `'5s'`. */
  grace?: Duration
  /** fsync every ledger line. Default true. */
  fsync?: boolean
}

/** Handed to `producer-process.ts`. */
export interface ProducerProcessConfig {
  store: StoreSpec
  /** Acknowledged enqueues are appended here, one JSON line `{ ids, at }` per resolved call, fsynced. */
  ackPath: string
  /** Runs to enqueue in total. */
  count: number
  /** Enqueue calls in flight at once. */
  inFlight: number
  /** Each call enqueues 1 (via `enqueue`) up to this many (via `enqueueMany`). */
  maxBatch: number
  /** Handler duration range of the runs, ms. */
  ms: [number, number]
  seed: number
  options?: Pick<EnqueueOptions, 'maxAttempts' | 'timeout'>
}

/** A JSON line a child prints on stdout. */
export type ChildMessage =
  | { type: 'ready'; pid: number; workerId: string }
  | { type: 'stopping'; pid: number }
  | { type: 'stopped'; pid: number; stopMs: number }
  | { type: 'worker.error'; pid: number; name: string; code: string | null; message: string }
  | { type: 'released'; pid: number; runId: string; attempt: number }
  | { type: 'rescued'; pid: number; runId: string; attempt: number; status: string }
  | { type: 'enqueue.error'; pid: number; name: string; code: string | null; message: string }
  | { type: 'done'; pid: number; acked: number; errors: number }
  /** The event loop did not turn for `ms` (>= 500; a heartbeat late by as much). */
  | { type: 'stall'; pid: number; ms: number; at: number; ledgerMs: number }
  /** At a clean stop: the longest event-loop stall, the slowest ledger append (with its fsync), store call timings. */
  | {
      type: 'stats'
      pid: number
      maxStallMs: number
      maxLedgerMs: number
      ledgerWrites: number
      /** Per store method: calls, calls whose synchronous part took >= 500 ms, and the longest, in ms. */
      storeSyncMs: Record<string, { calls: number; slow: number; max: number }>
    }

/** A small seeded PRNG (mulberry32), so a failing fault schedule can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A whole number in [min, max]. */
export function between(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1))
}
