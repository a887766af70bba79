import type { Duration } from '../core/durations.js'
import type { Run } from '../core/run.js'
import type { RunStatus } from '../core/run-state.js'
import type { InsertReason } from '../storage/driver.js'

/** What enqueue returns: the run's identity, whether it was created, and shortcuts to it. */
export interface RunHandle<TOutput = unknown> {
  id: string
  task: string
  /** The status right after enqueue. */
  status: RunStatus
  /** False when an existing run was returned (and maybe updated) instead of a new one. */
  created: boolean
  /**
   * What happened instead, when no run was created: `'idempotent'` (the idempotency key's
   * run, unchanged), `'replaced'` (the job key's run that had not started took this
   * payload and these options), `'deduped'` (`unsafe_dedupe`: the job key's latest run,
   * unchanged), `'scheduled_tick'` (its schedule already has a run for that tick). Null
   * when a run was created.
   */
  reason: InsertReason | null
  /** The run as it stood right after enqueue. */
  run: Run<unknown, TOutput>
  /** The run as it is now. */
  get(): Promise<Run<unknown, TOutput>>
  /** Waits until it completes; throws if it is dead-lettered or cancelled, or on timeout. */
  wait(options?: { timeout?: Duration }): Promise<Run<unknown, TOutput>>
  cancel(options?: { reason?: string }): Promise<Run<unknown, TOutput>>
}
