import type pg from 'pg'
import { quoteIdent } from './schema-name.js'

/** The channel every errand store notifies on. */
export const RUNS_AVAILABLE_CHANNEL = 'errand_runs_available'

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
 * Turns NOTIFYs about new runs into wake-ups, on one dedicated LISTEN connection taken from
 * the pool while anyone listens. A notification is only a hint: the worker's poll stays the
 * truth, so a hint lost while the connection is down costs latency, never a run.
 *
 * Coalescing: the first notification wakes listeners at once; any that arrive within the
 * next `throttleMs` produce a single further wake-up at the window's end. A burst of
 * thousands of single inserts thus wakes a worker a few times, not thousands.
 *
 * The connection is re-established with jittered exponential backoff (100 ms up to 10 s)
 * after it drops, and listeners are woken once it is back, since notifications sent while
 * it was down are lost.
 */
export class RunsAvailableNotifier {
  private readonly listeners = new Set<() => void>()
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

  subscribe(listener: () => void): () => void {
    if (this.closed) return () => {}
    this.listeners.add(listener)
    if (this.listeners.size === 1) void this.connect()
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0) this.disconnect(true)
    }
  }

  /** Stops listening for good. */
  async close(): Promise<void> {
    this.closed = true
    this.listeners.clear()
    // Destroyed rather than UNLISTENed and returned: the pool may be ending right after.
    this.disconnect(false)
  }

  private readonly onNotification = (message: pg.Notification) => {
    if (message.channel !== RUNS_AVAILABLE_CHANNEL || !message.payload) return
    let schema: unknown
    let sender: unknown
    try {
      ;[schema, sender] = JSON.parse(message.payload) as unknown[]
    } catch {
      return // not ours: someone else notifying on the same channel
    }
    if (schema === this.options.schema && sender !== this.options.sender) this.hint()
  }

  private async connect(): Promise<void> {
    if (this.connecting || this.client || this.closed || this.listeners.size === 0) return
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
      await client.query(`LISTEN ${quoteIdent(RUNS_AVAILABLE_CHANNEL)}`)
      this.connecting = false
      if (this.closed || this.listeners.size === 0) return void this.releaseClient(client, true)
      this.client = client
      // Reconnected (or first connected): anything sent meanwhile was missed, so wake once.
      if (this.failures > 0) this.hint()
      this.failures = 0
    } catch (error) {
      this.connecting = false
      if (client) this.releaseClient(client, false)
      this.options.onError(error)
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
    if (this.closed || this.listeners.size === 0 || this.reconnectTimer) return
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
    client.query(`UNLISTEN ${quoteIdent(RUNS_AVAILABLE_CHANNEL)}`).then(
      () => release(),
      (error: Error) => release(error),
    )
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
    for (const listener of [...this.listeners]) {
      try {
        listener()
      } catch (error) {
        this.options.onError(error)
      }
    }
  }
}

function safeRelease(client: pg.PoolClient, error?: Error): void {
  try {
    client.release(error)
  } catch {
    // Released twice (the pool already removed a broken client): nothing left to give back.
  }
}
