import type { LogAppendParams, StoreDriver } from '../storage/driver.js'

type Entry = LogAppendParams['entries'][number]

/**
 * Collects handler log messages and writes them in one store call per turn of the event
 * loop, so a chatty handler costs one commit per batch rather than one per line.
 */
export class LogBuffer {
  private entries: Entry[] = []
  private flushing: Promise<void> | null = null

  constructor(
    private readonly driver: StoreDriver,
    private readonly onError: (error: unknown) => void,
  ) {}

  add(entry: Entry): void {
    this.entries.push(entry)
    this.flushing ??= this.flushSoon()
  }

  async drain(): Promise<void> {
    while (this.flushing) await this.flushing
  }

  private async flushSoon(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve))
    try {
      while (this.entries.length > 0) {
        const batch = this.entries
        this.entries = []
        await this.driver.logAppend({ entries: batch }).catch(this.onError)
      }
    } finally {
      this.flushing = null
    }
  }
}
