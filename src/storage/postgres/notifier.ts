import type pg from 'pg'
import { StoreClosedError } from '../../core/errors.js'
import { quoteIdent } from './schema-name.js'

/** The channel every errand store notifies on when runs may have become available. */
export const RUNS_AVAILABLE_CHANNEL = 'errand_runs_available'
/**
 * The channel the runs table's trigger (migration 6) notifies on when a run marked `waited`
 * reaches a final status. Payload: `[schema, runId]`.
 */
export const RUNS_FINISHED_CHANNEL = 'errand_runs_finished'

/**
 * The payload: the schema, so stores sharing a database tell themselves apart, and the
 * sending driver, or null. A driver ignores its own notifications: the runtime already woke
 * the workers of its errand instance when the insert returned, and one more wake-up would
 * cost each run an empty claim. Inserts inside a caller's transaction send null instead,
 * because the local wake-up came before the commit, when the run was not yet visible.
 */
export function notificationPayload(schema: string, sender: string | null): string {
  return JSON.stringify([schema, sender])
}

const MIN_BACKOFF_MS = 100
const MAX_BACKOFF_MS = 10_000

export interface NotifierOptions {
  pool: pg.Pool
  schema: string
  /** This driver's sender id: its own notifications are not hints for it. */
  sender: string
  /** Window within which notifications are coalesced into one wake-up, in ms. */
  throttleMs: number
  onError: (error: unknown) => void
}

/**
 * Turns NOTIFYs into wake-ups, on one dedicated LISTEN connection taken from the pool while
 * anyone listens. It listens on both channels:
 *
 * - runs available: a hint for workers, whose poll stays the truth, so a hint lost while
 *   the connection is down costs latency, never a run. Coalesced: the first notification
 *   wakes listeners at once; any that arrive within the next `throttleMs` produce a single
 *   further wake-up at the window's end. A burst of thousands of single inserts thus wakes a
 *   worker a few times, not thousands.
 * - runs finished: wakes the watches of that run only, at once.
 *
 * The connection is re-established with jittered exponential backoff (100 ms up to 10 s)
 * after it drops, and every listener and watch is woken once it is back, since
 * notifications sent while it was down are lost.
 */
export class PostgresNotifier {
  private readonly available = new Set<() => void>()
  /** Watches of finished runs, by run id. */
  private readonly finished = new Map<string, Set<() => void>>()
  /** Watches waiting for the LISTEN to be in place: settled by the next connection attempt. */
  private readonly arming = new Set<{ resolve: () => void; reject: (error: unknown) => void }>()
  private client: pg.PoolClient | null = null
  /** Our 'error' listener on each client we hold, removed when the client goes back to the pool. */
  private readonly errorHandlers = new WeakMap<pg.PoolClient, (error: Error) => void>()
  private connecting = false
  private failures = 0
  private reconnectTimer: NodeJS.Timeout | null = null
  private windowTimer: NodeJS.Timeout | null = null
  private pendingInWindow = false
  private closed = false

  constructor(private readonly options: NotifierOptions) {}

  subscribeRunsAvailable(listener: () => void): () => void {
    if (this.closed) return () => {}
    this.available.add(listener)
    this.listenersChanged()
    return () => {
      if (this.available.delete(listener)) this.listenersChanged()
    }
  }

  /**
   * Calls `onFinished` when run `runId` is notified as finished, and when the connection
   * comes back after a drop. Resolves, with the function that stops watching, once the
   * LISTEN is in place; rejects if the connection attempt fails.
   */
  async watchRunFinished(runId: string, onFinished: () => void): Promise<() => void> {
    if (this.closed) throw new StoreClosedError()
    const stop = this.addWatch(runId, () => onFinished())
    try {
      await this.listening()
      return stop
    } catch (error) {
      stop()
      throw error
    }
  }

  /** Stops listening for good. */
  async close(): Promise<void> {
    this.closed = true
    this.available.clear()
    this.finished.clear()
    this.settleArming(new StoreClosedError())
    // Destroyed rather than UNLISTENed and returned: the pool may be ending right after.
    this.disconnect(false)
  }

  /** Each watch is its own entry, so one callback watched twice is two watches. */
  private addWatch(runId: string, entry: () => void): () => void {
    let watches = this.finished.get(runId)
    if (!watches) this.finished.set(runId, (watches = new Set()))
    watches.add(entry)
    this.listenersChanged()
    return () => {
      if (!watches.delete(entry)) return
      if (watches.size === 0 && this.finished.get(runId) === watches) this.finished.delete(runId)
      this.listenersChanged()
    }
  }

  private hasListeners(): boolean {
    return this.available.size > 0 || this.finished.size > 0
  }

  /** Holds the connection while anyone listens, and gives it back once nobody does. */
  private listenersChanged(): void {
    if (this.hasListeners()) void this.connect()
    else this.disconnect(true)
  }

  /** Resolves once the LISTEN is in place. */
  private listening(): Promise<void> {
    if (this.client) return Promise.resolve()
    return new Promise((resolve, reject) => this.arming.add({ resolve, reject }))
  }

  private settleArming(error?: unknown): void {
    const waiting = [...this.arming]
    this.arming.clear()
    for (const armed of waiting) {
      if (error === undefined) armed.resolve()
      else armed.reject(error)
    }
  }

  private readonly onNotification = (message: pg.Notification) => {
    const [schema, detail] = parsePayload(message.payload)
    if (schema !== this.options.schema) return
    if (message.channel === RUNS_AVAILABLE_CHANNEL && detail !== this.options.sender) this.hint()
    if (message.channel === RUNS_FINISHED_CHANNEL && typeof detail === 'string') this.call(this.finished.get(detail) ?? [])
  }

  private async connect(): Promise<void> {
    if (this.connecting || this.client || this.closed || !this.hasListeners()) return
    this.connecting = true
    let client: pg.PoolClient | null = null
    try {
      client = await this.options.pool.connect()
      // Without an error listener a dropped connection would crash the process.
      const taken = client
      const onError = (error: Error) => this.dropped(taken, error)
      this.errorHandlers.set(client, onError)
      client.on('error', onError)
      client.on('notification', this.onNotification)
      await client.query(`LISTEN ${quoteIdent(RUNS_AVAILABLE_CHANNEL)}; LISTEN ${quoteIdent(RUNS_FINISHED_CHANNEL)}`)
      this.connecting = false
      if (this.closed || !this.hasListeners()) return void this.releaseClient(client, true)
      this.client = client
      this.settleArming()
      // Reconnected: anything sent meanwhile was missed, so wake everyone once.
      if (this.failures > 0) this.wakeAll()
      this.failures = 0
    } catch (error) {
      this.connecting = false
      if (client) this.releaseClient(client, false)
      this.options.onError(error)
      this.settleArming(error)
      this.scheduleReconnect()
    }
  }

  private dropped(client: pg.PoolClient, error: Error): void {
    if (this.client !== client) return
    this.client = null
    this.releaseClient(client, false)
    this.options.onError(error)
    this.scheduleReconnect()
  }

  private scheduleReconnect(): void {
    if (this.closed || !this.hasListeners() || this.reconnectTimer) return
    this.failures++
    const ceiling = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** (this.failures - 1))
    const delay = ceiling * (0.5 + Math.random() / 2)
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null
      void this.connect()
    }, delay)
    this.reconnectTimer.unref()
  }

  private disconnect(healthy: boolean): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    if (this.windowTimer) clearTimeout(this.windowTimer)
    this.reconnectTimer = null
    this.windowTimer = null
    this.pendingInWindow = false
    const client = this.client
    this.client = null
    if (client) this.releaseClient(client, healthy)
  }

  /** Gives the connection back: healthy after UNLISTEN, or destroyed when it failed. */
  private releaseClient(client: pg.PoolClient, healthy: boolean): void {
    client.off('notification', this.onNotification)
    const onError = this.errorHandlers.get(client)
    // Our error listener stays until the release: an error with no listener would crash the process.
    const release = (error?: Error) => {
      if (onError) client.off('error', onError)
      safeRelease(client, error)
    }
    if (!healthy) return release(new Error('LISTEN connection dropped'))
    client.query('UNLISTEN *').then(
      () => release(),
      (error: Error) => release(error),
    )
  }

  private wakeAll(): void {
    this.hint()
    this.call([...this.finished.values()].flatMap((watches) => [...watches]))
  }

  private hint(): void {
    if (this.windowTimer) {
      this.pendingInWindow = true
      return
    }
    this.fire()
    this.openWindow()
  }

  private openWindow(): void {
    this.windowTimer = setTimeout(() => {
      this.windowTimer = null
      if (!this.pendingInWindow) return
      this.pendingInWindow = false
      this.fire()
      this.openWindow()
    }, this.options.throttleMs)
    this.windowTimer.unref()
  }

  private fire(): void {
    this.call(this.available)
  }

  private call(listeners: Iterable<() => void>): void {
    for (const listener of [...listeners]) {
      try {
        listener()
      } catch (error) {
        this.options.onError(error)
      }
    }
  }
}

/** `[schema, detail]` of one of our payloads; anything else (someone else on the channel) gives nothing. */
function parsePayload(payload: string | undefined): unknown[] {
  try {
    const parsed: unknown = JSON.parse(payload ?? '')
    return Array.isArray(parsed) ? parsed : []
  } catch {
    return []
  }
}

function safeRelease(client: pg.PoolClient, error?: Error): void {
  try {
    client.release(error)
  } catch {
    // Released twice (the pool already removed a broken client): nothing left to give back.
  }
}
