import { once } from 'node:events'
import { parseDuration, type Duration } from '../core/durations.js'
import { RunCancelledError, RunFailedError, RunNotFoundError, WaitTimeoutError } from '../core/errors.js'
import type { Run } from '../core/run.js'
import { isFinalStatus } from '../core/run-state.js'
import type { ErrandInternals } from './internals.js'
import { toPublicRun } from './public-run.js'

const FIRST_POLL_MS = 20
const MAX_POLL_MS = 1_000

/**
 * Waits until run `id` reaches a final status and returns it. A finish in this process wakes
 * the wait at once; otherwise the store is polled, quickly at first, then every second.
 */
export async function waitForFinalRun(internals: ErrandInternals, id: string, timeout?: Duration): Promise<Run> {
  const timeoutMs = timeout === undefined ? null : parseDuration(timeout)
  const deadline = timeoutMs === null ? Infinity : Date.now() + timeoutMs
  let pollMs = FIRST_POLL_MS
  for (;;) {
    const record = await internals.driver.runGet({ id })
    if (!record) throw new RunNotFoundError(id)
    if (isFinalStatus(record.status)) return toPublicRun(record)
    const remaining = deadline - Date.now()
    if (remaining <= 0) throw new WaitTimeoutError(id, timeoutMs ?? 0)
    await nextCheck(internals, id, Math.min(pollMs, remaining))
    pollMs = Math.min(MAX_POLL_MS, pollMs * 2)
  }
}

/** Resolves after `ms`, or sooner when this process finishes the run. */
async function nextCheck(internals: ErrandInternals, id: string, ms: number): Promise<void> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), ms)
  try {
    for (;;) {
      const [finishedId] = await once(internals.signals, 'finished', { signal: controller.signal })
      if (finishedId === id) return
    }
  } catch {
    // aborted: the poll interval passed
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
}

/** Returns a completed run; throws for a dead-lettered or cancelled one. */
export function expectCompleted<T extends Run>(run: T): T {
  if (run.status === 'dead_lettered') throw new RunFailedError(run.id, run, run.error?.message)
  if (run.status === 'cancelled') throw new RunCancelledError(run.id, run, run.cancelReason)
  return run
}
