import type { RunChange, RunChangeCursor } from '../storage/driver.js'
import type { ErrandInternals } from './internals.js'

/** Called with runs that changed, oldest change first. */
export type RunChangeListener = (changes: RunChange[]) => void

const PAGE = 500
/**
 * How far behind its position the feed re-reads. Writers stamp `updated_at` with their own
 * clock before they commit, so a change can become visible after a later-stamped one was
 * read: batched completions wait a few ms, and PostgreSQL commits out of order.
 */
const LOOKBACK_MS = 2_000

/**
 * Follows the store's runs table by (updatedAt, id) and tells listeners what changed, in any
 * process: a run finished by a worker elsewhere shows up within one interval. One feed polls
 * for all its listeners, and only while it has some.
 */
export class RunChangeFeed {
  private readonly listeners = new Set<RunChangeListener>()
  private readonly seen = new Map<string, string>()
  private cursor: RunChangeCursor | null = null
  private timer: NodeJS.Timeout | null = null
  private polling = false

  constructor(
    private readonly internals: ErrandInternals,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  subscribe(listener: RunChangeListener): () => void {
    this.listeners.add(listener)
    if (this.listeners.size === 1) this.start()
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0) this.stop()
    }
  }

  private start(): void {
    this.cursor = null
    this.seen.clear()
    this.schedule(0)
  }

  private stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => void this.poll(), ms)
    this.timer.unref()
  }

  private async poll(): Promise<void> {
    if (this.polling || this.listeners.size === 0) return
    this.polling = true
    let more = false
    try {
      more = await this.pollOnce()
    } catch (error) {
      this.onError(error)
    } finally {
      this.polling = false
      if (this.listeners.size > 0) this.schedule(more ? 0 : this.intervalMs)
    }
  }

  /** Reads one page; returns whether more changes are waiting. */
  private async pollOnce(): Promise<boolean> {
    await this.internals.ready()
    const priming = this.cursor === null
    const after = this.cursor ?? { updatedAt: new Date(this.internals.clock.now().getTime() - LOOKBACK_MS), id: '' }
    const changes = await this.internals.driver.runListChanged({ after, limit: PAGE })
    const fresh = changes.filter((change) => this.remember(change))
    const last = changes[changes.length - 1]
    const full = changes.length === PAGE
    // A full page: go on from its end. Otherwise step back over the window that may still fill in.
    if (full && last) this.cursor = { updatedAt: last.updatedAt, id: last.id }
    else this.cursor = { updatedAt: new Date(Math.max(after.updatedAt.getTime(), this.newest() - LOOKBACK_MS)), id: '' }
    this.forget(this.cursor.updatedAt.getTime() - LOOKBACK_MS)
    // The first read only learns what is already there: listeners hear about changes after they subscribed.
    if (!priming && fresh.length > 0) for (const listener of [...this.listeners]) this.deliver(listener, fresh)
    return full
  }

  private remember(change: RunChange): boolean {
    const signature = `${change.updatedAt.getTime()}|${change.status}|${change.attempt}`
    if (this.seen.get(change.id) === signature) return false
    this.seen.set(change.id, signature)
    return true
  }

  private newest(): number {
    let newest = 0
    for (const signature of this.seen.values()) newest = Math.max(newest, Number(signature.split('|')[0]))
    return newest
  }

  private forget(before: number): void {
    for (const [id, signature] of this.seen) if (Number(signature.split('|')[0]) < before) this.seen.delete(id)
  }

  private deliver(listener: RunChangeListener, changes: RunChange[]): void {
    try {
      listener(changes)
    } catch (error) {
      this.onError(error)
    }
  }
}
