import { setTimeout as sleep } from 'node:timers/promises'
import type { AttemptResult, StoreDriver } from '../storage/driver.js'
import type { Clock } from './clock.js'

interface Pending {
  result: AttemptResult
  resolve: (applied: boolean) => void
  reject: (error: unknown) => void
}

const MAX_FLUSH_TRIES = 8

/**
 * Collects attempt results and writes them in one store call, so a busy worker pays one
 * commit for many runs. Results arriving while a write is in flight go in the next one.
 * A write that fails (the database went away) is retried with backoff; if it keeps failing
 * the results are dropped and their runs will be rescued when their leases expire.
 */
export class CompletionBatcher {
  private pending: Pending[] = []
  private flushing: Promise<void> | null = null

  constructor(
    private readonly driver: StoreDriver,
    private readonly clock: Clock,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Resolves with whether the result applied (false: the lease was lost). */
  submit(result: AttemptResult): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ result, resolve, reject })
      if (!this.flushing) this.flushing = this.flushSoon()
    })
  }

  /** Waits until everything submitted so far is written. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing
  }

  private async flushSoon(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve))
    try {
      while (this.pending.length > 0) {
        const batch = this.pending
        this.pending = []
        await this.write(batch)
      }
    } finally {
      this.flushing = null
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const applied = await this.driver.runFinishMany({ results: batch.map((item) => item.result), now: this.clock.now() })
        batch.forEach((item, index) => item.resolve(applied[index] ?? false))
        return
      } catch (error) {
        this.onError(error)
        if (attempt >= MAX_FLUSH_TRIES) {
          batch.forEach((item) => item.reject(error))
          return
        }
        await sleep(Math.min(5_000, 50 * 2 ** attempt))
      }
    }
  }
}
