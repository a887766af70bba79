import { decideFailure } from '../core/attempt-outcome.js'
import { WorkerShutdownError } from '../core/errors.js'
import { serializeError } from '../core/run.js'
import type { AttemptResult, RunRecord } from '../storage/driver.js'
import type { Settlement } from './executor.js'
import type { ErrandInternals } from './internals.js'
import { toPublicRun } from './public-run.js'

/**
 * Turns how an attempt settled into the write to make, or null when there is nothing to
 * write. The lease fields lead each literal: V8 (Node 20) builds `{ ...lease, outcome }`,
 * a spread followed by more properties, on a slow path (about 2 µs per object, measured),
 * and this runs for every attempt.
 */
export function attemptResultOf(run: RunRecord, settlement: Settlement, workerId: string): AttemptResult | null {
  const { id, attempt } = run
  switch (settlement.kind) {
    case 'completed':
      return { id, attempt, workerId, outcome: 'completed', outputJson: settlement.outputJson }
    case 'sleep':
      return { id, attempt, workerId, outcome: 'sleep', runAt: settlement.wakeAt }
    case 'aborted':
      // Cancelled or lease lost: the run is no longer ours to write. Shutdown: give it back.
      if (!(settlement.reason instanceof WorkerShutdownError)) return null
      return { id, attempt, workerId, outcome: 'released', error: serializeError(settlement.reason) }
    case 'failed':
    case 'partial': {
      const error = serializeError(settlement.error)
      const decision = decideFailure({
        error: settlement.error,
        attempt: run.attempt,
        maxAttempts: run.maxAttempts,
        policy: run.retryPolicy,
        random: Math.random(),
      })
      // A partly failed batch keeps its failed items and its results so far, whether it is retried or not.
      const remainder = settlement.kind === 'partial' ? { payloadJson: settlement.payloadJson, outputJson: settlement.outputJson } : {}
      return decision.outcome === 'retry'
        ? { id, attempt, workerId, outcome: 'retry', error, delayMs: decision.delayMs, ...remainder }
        : { id, attempt, workerId, outcome: 'dead_lettered', error, ...remainder }
    }
  }
}

/**
 * Emits the events of an attempt result that was written, and tells local waiters. Returns
 * when the run is due again (a retry, or the end of a durable sleep), for the worker's wake-up timer.
 */
export function announceAttemptResult(
  internals: ErrandInternals,
  run: RunRecord,
  result: AttemptResult,
  settlement: Settlement,
  durationMs: number,
): Date | null {
  const events = internals.events
  const now = internals.clock.now()
  const kept = settlement.kind === 'partial' ? { payload: settlement.payload, output: settlement.output } : {}
  // Built only when someone listens: a busy worker finishes thousands of runs a second.
  const base = () => ({ ...toPublicRun(run), ...kept, lockedBy: null, leaseExpiresAt: null, updatedAt: now })
  switch (result.outcome) {
    case 'completed': {
      const output = settlement.kind === 'completed' ? settlement.output : null
      internals.signals.emit('finished', run.id)
      if (events.listenerCount('run.completed') > 0) {
        events.emit('run.completed', { run: { ...base(), status: 'completed', output, error: null, completedAt: now }, durationMs })
      }
      return null
    }
    case 'retry': {
      const retryAt = new Date(now.getTime() + result.delayMs)
      events.emit('run.failed', { run: { ...base(), status: 'scheduled', error: result.error, runAt: retryAt }, error: result.error, willRetry: true, retryAt })
      return retryAt
    }
    case 'dead_lettered': {
      const final = { ...base(), status: 'dead_lettered' as const, error: result.error, completedAt: now }
      internals.signals.emit('finished', run.id)
      events.emit('run.failed', { run: final, error: result.error, willRetry: false, retryAt: null })
      events.emit('run.dead_lettered', { run: final, error: result.error })
      return null
    }
    case 'released':
      events.emit('run.released', { runId: run.id, attempt: run.attempt })
      return null
    case 'sleep':
      events.emit('run.sleeping', { run: { ...base(), status: 'scheduled', runAt: result.runAt }, wakeAt: result.runAt })
      return result.runAt
  }
}
