import type { LogAppendParams, StoreDriver } from '../storage/driver.js'

type Entry = LogAppendParams['entries'][number]

interface Batch {
  entries: Entry[]
  written: Promise<void>
  resolve: () => void
}

/**
 * Collects handler log messages and writes them in one store call per turn of the event
 * loop, so a chatty handler costs one commit per batch rather than one per line.
 */
export class LogBuffer {
  private collecting: Batch = newBatch()
  private inFlight: Batch | null = null
  private flushing: Promise<void> | null = null

  constructor(
    private readonly driver: StoreDriver,
    private readonly onError: (error: unknown) => void,
  ) {}

  add(entry: Entry): void {
    this.collecting.entries.push(entry)
    this.flushing ??= this.flushSoon()
  }

  /**
   * Settles once every message added so far is written (or failed to be), without waiting
   * for messages added later; null when none is pending. An attempt's result waits for it,
   * so whoever sees a run finished also sees its logs.
   */
  written(): Promise<void> | null {
    if (this.collecting.entries.length > 0) return this.collecting.written
    return this.inFlight?.written ?? null
  }

  async drain(): Promise<void> {
    while (this.flushing) await this.flushing
  }

  private async flushSoon(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve))
    try {
      while (this.collecting.entries.length > 0) {
        const batch = this.collecting
        this.collecting = newBatch()
        this.inFlight = batch
        try {
          await this.driver.logAppend({ entries: batch.entries })
        } catch (error) {
          this.onError(error)
        } finally {
          // Settled whatever happened, even a driver that throws instead of rejecting:
          // results wait on it.
          this.inFlight = null
          batch.resolve()
        }
      }
    } finally {
      this.flushing = null
    }
  }
}

function newBatch(): Batch {
  let resolve!: () => void
  const written = new Promise<void>((settle) => (resolve = settle))
  return { entries: [], written, resolve }
}
