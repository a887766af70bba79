import { EventEmitter } from 'node:events'
import type { Run, SerializedError } from '../core/run.js'

/** Events errand emits, each with what it carries. Events are local to the process that caused them. */
export interface ErrandEvents {
  /** A run was created (not emitted when an idempotency key returned an existing run). */
  'run.enqueued': { run: Run }
  /** A worker started an attempt. */
  'run.started': { run: Run }
  /** An attempt succeeded. */
  'run.completed': { run: Run; durationMs: number }
  /** An attempt failed; `retryAt` is set when another attempt will follow. */
  'run.failed': { run: Run; error: SerializedError; willRetry: boolean; retryAt: Date | null }
  /** A run ended without success: attempts used up, or non-retryable. */
  'run.dead_lettered': { run: Run; error: SerializedError }
  /** A run was cancelled. */
  'run.cancelled': { run: Run; reason: string | null }
  /** A handler reported progress with `ctx.progress`. */
  'run.progress': { runId: string; progress: unknown }
  /** A handler began a durable sleep; the run is `scheduled` until `wakeAt`. */
  'run.sleeping': { run: Run; wakeAt: Date }
  /** A stopping worker gave a run back to the queue. */
  'run.released': { runId: string; attempt: number }
  /** Runs whose worker stopped renewing their lease were taken back. */
  'run.rescued': { runId: string; attempt: number; status: Run['status'] }
  /** A schedule's tick got its run (`run.status` is `scheduled` while held back by overlap `'queue'`). */
  'schedule.ticked': { key: string; task: string; scheduledFor: Date; run: Run }
  /** A schedule's tick got no run: a run of the schedule was unfinished (overlap `'skip'`). */
  'schedule.skipped': { key: string; task: string; scheduledFor: Date; reason: 'overlap' }
  /** Ticks from `from` to `to` (both ticks) were missed while no scheduler ran, and the catch-up policy dropped them. */
  'schedule.missed': { key: string; task: string; from: Date; to: Date }
  /** A worker hit an error of its own (the database went away, a handler ignored its abort...). It keeps going. */
  'worker.error': { error: Error; workerId: string }
}

export type ErrandEventName = keyof ErrandEvents
export type ErrandListener<E extends ErrandEventName> = (event: ErrandEvents[E]) => void

/** A typed event emitter. A listener that throws is reported, never allowed to break the runtime. */
export class ErrandEmitter {
  private readonly emitter = new EventEmitter({ captureRejections: false })

  constructor() {
    this.emitter.setMaxListeners(0)
  }

  on<E extends ErrandEventName>(event: E, listener: ErrandListener<E>): () => void {
    this.emitter.on(event, listener)
    return () => this.emitter.off(event, listener)
  }

  off<E extends ErrandEventName>(event: E, listener: ErrandListener<E>): void {
    this.emitter.off(event, listener)
  }

  emit<E extends ErrandEventName>(event: E, payload: ErrandEvents[E]): void {
    for (const listener of this.emitter.listeners(event)) {
      try {
        ;(listener as ErrandListener<E>)(payload)
      } catch (error) {
        process.emitWarning(error instanceof Error ? error : new Error(String(error)), { code: 'ERRAND_LISTENER' })
      }
    }
  }

  listenerCount(event: ErrandEventName): number {
    return this.emitter.listenerCount(event)
  }
}
