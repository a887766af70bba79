/**
 * Cross-process wake-ups for the SQLite store. SQLite has no LISTEN/NOTIFY, but
 * `PRAGMA data_version` on a connection changes whenever another connection commits to the
 * file, and reading it costs microseconds and takes no lock. While anyone listens, the
 * watcher reads it every `intervalMs`; after a change it looks, with reads that take no
 * lock in WAL mode, at what the listeners care about:
 *
 * - runs available (workers): whether a run is due now; only then are they woken. So an
 *   idle worker starts a run enqueued by another process within about one interval, and
 *   commits that bring nothing due (claims, completions, runs for later) cost no claim.
 * - runs finished (waits): which watched runs are final (or gone); each watch of those is
 *   called once, then forgotten.
 *
 * Only hints, like PostgreSQL's NOTIFY: workers keep polling and waits keep reading now
 * and then.
 */
export interface ChangeWatcherOptions {
  /** The connection's `PRAGMA data_version`. */
  readVersion: () => number
  /** Whether any run is due now. */
  anyDue: () => boolean
  /** Which of these runs are final, or no longer exist. */
  finishedAmong: (ids: string[]) => string[]
  intervalMs: number
  onError: (error: unknown) => void
}

export class SqliteChangeWatcher {
  private readonly available = new Set<() => void>()
  /** Watches of finished runs, by run id. */
  private readonly finished = new Map<string, Set<() => void>>()
  private timer: NodeJS.Timeout | null = null
  private lastVersion = -1
  private closed = false

  constructor(private readonly options: ChangeWatcherOptions) {}

  subscribe(listener: () => void): () => void {
    if (this.closed) return () => {}
    this.available.add(listener)
    this.listenersChanged()
    return () => {
      if (this.available.delete(listener)) this.listenersChanged()
    }
  }

  /** Calls `onFinished` once, after another connection's commit leaves run `id` final or gone. */
  watchFinished(id: string, onFinished: () => void): () => void {
    if (this.closed) return () => {}
    const entry = () => onFinished()
    let watches = this.finished.get(id)
    if (!watches) this.finished.set(id, (watches = new Set()))
    watches.add(entry)
    this.listenersChanged()
    return () => {
      const current = this.finished.get(id)
      if (!current?.delete(entry)) return
      if (current.size === 0) this.finished.delete(id)
      this.listenersChanged()
    }
  }

  close(): void {
    this.closed = true
    this.available.clear()
    this.finished.clear()
    this.listenersChanged()
  }

  /** Reads while anyone listens; stops once nobody does. */
  private listenersChanged(): void {
    const wanted = this.available.size > 0 || this.finished.size > 0
    if (wanted && !this.timer) {
      this.lastVersion = this.options.readVersion()
      this.timer = setInterval(() => this.check(), this.options.intervalMs)
      this.timer.unref()
    } else if (!wanted && this.timer) {
      clearInterval(this.timer)
      this.timer = null
    }
  }

  private check(): void {
    try {
      const version = this.options.readVersion()
      if (version === this.lastVersion) return
      this.lastVersion = version
      if (this.available.size > 0 && this.options.anyDue()) call([...this.available], this.options.onError)
      if (this.finished.size > 0) this.finishWatches()
    } catch (error) {
      this.options.onError(error)
    }
  }

  private finishWatches(): void {
    for (const id of this.options.finishedAmong([...this.finished.keys()])) {
      const watches = this.finished.get(id)
      this.finished.delete(id)
      if (watches) call([...watches], this.options.onError)
    }
    this.listenersChanged()
  }
}

function call(listeners: Array<() => void>, onError: (error: unknown) => void): void {
  for (const listener of listeners) {
    try {
      listener()
    } catch (error) {
      onError(error)
    }
  }
}
