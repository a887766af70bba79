/**
 * The jobs a bench child process can run. Plain JSON: they travel on the command line.
 * Each returns a `JobResult`, the measured part of a `Measurement`.
 */
import type { Measurement } from './results.js'
import type { StoreSpec } from './targets.js'

export type ChildJob =
  /** Enqueue `runs` runs, `batch` per call (1: `enqueue` one at a time, awaited in turn). */
  | { kind: 'enqueue'; spec: StoreSpec; runs: number; batch: number; profile: boolean }
  /** Fill a store with due runs for a processing scenario; untimed. */
  | { kind: 'seed'; spec: StoreSpec; runs: number; batch: number }
  /** Start one worker on a seeded store and time it until every run completed. */
  | { kind: 'drain'; spec: StoreSpec; runs: number; concurrency: number; profile: boolean }
  /** Producer and idle worker in one process: enqueue wakes the worker directly. */
  | { kind: 'latency-inprocess'; spec: StoreSpec; runs: number; gapMs: number }
  /** The worker half of the cross-process latency scenario; sends `ready` once polling. */
  | { kind: 'latency-worker'; spec: StoreSpec; runs: number; pollInterval: string | null }
  /** The producer half: enqueues on a schedule and exits. */
  | { kind: 'latency-producer'; spec: StoreSpec; runs: number; gapMs: number }
  /** The raw better-sqlite3 limit, no library. */
  | { kind: 'raw'; path: string; op: RawOp; schema: RawSchema; batch: number; runs: number }

export type RawOp = 'insert' | 'claim'
/** `lean`: the smallest job table that can be claimed safely. `errand`: errand's own tables and indexes, written with errand's SQL. */
export type RawSchema = 'lean' | 'errand'

export type JobResult = Omit<Measurement, 'scenario' | 'target' | 'label' | 'rep'>
