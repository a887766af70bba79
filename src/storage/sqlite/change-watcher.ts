/**
 * Cross-process wake-ups for the SQLite store. SQLite has no LISTEN/NOTIFY, but
 * `PRAGMA data_version` on a connection changes whenever another connection commits to the
 * file, and reading it costs microseconds and takes no lock. While anyone listens, the
 * watcher reads it every `intervalMs`; after a change it asks whether a run is due now (a
 * read on the claim's index, also lock-free in WAL mode) and only then wakes the listeners.
 * So an idle worker starts a run enqueued by another process within about one interval,
 * and commits that bring nothing due (claims, completions, runs for later) cost no claim.
 *
 * Only a hint, like PostgreSQL's NOTIFY: the worker's poll stays the truth.
 */
export interface ChangeWatcherOptions {
  /** The connection's `PRAGMA data_version`. */
  readVersion: () => number
  /** Whether any run is due now. */
  anyDue: () => boolean
  intervalMs: number
  onError: (error: unknown) => void
}

export class SqliteChangeWatcher {
  private readonly listeners = new Set<() => void>()
  private timer: NodeJS.Timeout | null = null
  private lastVersion = -1
  private closed = false

  constructor(private readonly options: ChangeWatcherOptions) {}

  subscribe(listener: () => void): () => void {
    if (this.closed) return () => {}
    this.listeners.add(listener)
    if (!this.timer) this.start()
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0) this.stop()
    }
  }

  close(): void {
    this.closed = true
    this.listeners.clear()
    this.stop()
  }

  private start(): void {
    this.lastVersion = this.options.readVersion()
    this.timer = setInterval(() => this.check(), this.options.intervalMs)
    this.timer.unref()
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  private check(): void {
    try {
      const version = this.options.readVersion()
      if (version === this.lastVersion) return
      this.lastVersion = version
      if (this.options.anyDue()) for (const listener of [...this.listeners]) listener()
    } catch (error) {
      this.options.onError(error)
    }
  }
}
