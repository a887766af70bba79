import type { EventEmitter } from 'node:events'
import { parseDuration, type Duration } from '../core/durations.js'
import { RunCancelledError, RunFailedError, RunNotFoundError, WaitTimeoutError } from '../core/errors.js'
import type { Run } from '../core/run.js'
import { isFinalStatus } from '../core/run-state.js'
import type { StoreDriver } from '../storage/driver.js'
import type { ErrandInternals, LocalSignals } from './internals.js'
import { toPublicRun } from './public-run.js'

/** Gaps between reads of the store: the first, doubling up to the longest. */
export interface Backoff {
  firstMs: number
  maxMs: number
}

/** How often a wait reads the store: often when nothing would wake it, rarely when the store notifies. */
export interface WaitPacing {
  polled: Backoff
  notified: Backoff
}

export const DEFAULT_WAIT_PACING: WaitPacing = {
  polled: { firstMs: 20, maxMs: 1_000 },
  // A safety net only: the notification carries the latency.
  notified: { firstMs: 1_000, maxMs: 5_000 },
}

/**
 * Waits until run `id` reaches a final status and returns it. A finish in this process
 * wakes the wait at once; so does one in another process when the store notifies finishes
 * (PostgreSQL), in which case the store is read only now and then, as a safety net.
 * Otherwise the store is polled, quickly at first, then every second.
 */
export async function waitForFinalRun(internals: ErrandInternals, id: string, timeout?: Duration): Promise<Run> {
  const timeoutMs = timeout === undefined ? null : parseDuration(timeout)
  const deadline = timeoutMs === null ? Infinity : Date.now() + timeoutMs
  const wakeUp = new WakeUp(internals.signals, id)
  try {
    // Armed before the first read, so that no finish falls between the read and the watch.
    const notified = await wakeUp.watch(internals.driver, deadline)
    const pacing = notified ? internals.waitPacing.notified : internals.waitPacing.polled
    let gapMs = pacing.firstMs
    for (;;) {
      const record = await internals.driver.runGet({ id })
      if (!record) throw new RunNotFoundError(id)
      if (isFinalStatus(record.status)) return toPublicRun(record)
      const remaining = deadline - Date.now()
      if (remaining <= 0) throw new WaitTimeoutError(id, timeoutMs ?? 0)
      await wakeUp.sleep(Math.min(gapMs, remaining))
      gapMs = Math.min(pacing.maxMs, gapMs * 2)
    }
  } finally {
    wakeUp.close()
  }
}

/** What ends a wait's sleep early: a finish of the run here, or the store's notification of one. */
class WakeUp {
  private woken = false
  private endSleep: (() => void) | null = null
  private unwatch: () => void = () => {}

  constructor(
    private readonly signals: EventEmitter<LocalSignals>,
    private readonly id: string,
  ) {
    signals.on('finished', this.onLocalFinish)
  }

  /**
   * Arms the store's notification of the run's finish, if it has one; true once armed. A
   * store that cannot arm it in time, or fails to, leaves the wait to polling.
   */
  async watch(driver: StoreDriver, deadline: number): Promise<boolean> {
    if (!driver.watchRunFinished) return false
    const armed = driver.watchRunFinished({ id: this.id, onFinished: this.wake })
    this.unwatch = () => void armed.then((stop) => stop?.(), () => {})
    try {
      const stop = await beforeDeadline(armed, deadline)
      return typeof stop === 'function'
    } catch {
      return false
    }
  }

  /** Resolves after `ms`, or at once if woken since the last sleep. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.endSleep?.(), ms)
      this.endSleep = () => {
        clearTimeout(timer)
        this.endSleep = null
        this.woken = false
        resolve()
      }
      if (this.woken) this.endSleep()
    })
  }

  close(): void {
    this.signals.off('finished', this.onLocalFinish)
    this.unwatch()
  }

  private readonly wake = () => {
    this.woken = true
    this.endSleep?.()
  }

  private readonly onLocalFinish = (runId: string) => {
    if (runId === this.id) this.wake()
  }
}

/** The promise's value, or undefined once `deadline` (epoch ms) passes first. */
async function beforeDeadline<T>(promise: Promise<T>, deadline: number): Promise<T | undefined> {
  if (deadline === Infinity) return promise
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()))))
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

/** Returns a completed run; throws for a dead-lettered or cancelled one. */
export function expectCompleted<T extends Run>(run: T): T {
  if (run.status === 'dead_lettered') throw new RunFailedError(run.id, run, run.error?.message)
  if (run.status === 'cancelled') throw new RunCancelledError(run.id, run, run.cancelReason)
  return run
}
