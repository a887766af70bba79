import type { StoreDriver } from '../storage/driver.js'
import type { ErrandInternals } from './internals.js'
import type { ResolvedWorkerOptions } from './worker-options.js'

const BATCH = 1_000
const PRUNE_EVERY_MS = 60_000

/**
 * The worker's housekeeping: takes back runs whose lease expired (their worker crashed or
 * hung), promotes due scheduled runs to queued, and prunes old finished runs. Every worker
 * runs it; each step is a guarded update, so several running at once is safe.
 */
export class Maintenance {
  private timer: NodeJS.Timeout | null = null
  private running = false
  private lastPrune = 0
  /** The scheduled round in progress, if any. */
  private current: Promise<void> | null = null

  constructor(
    private readonly internals: ErrandInternals,
    private readonly options: ResolvedWorkerOptions,
    private readonly onError: (error: unknown) => void,
    private readonly onRunsAvailable: () => void,
  ) {}

  start(): void {
    this.schedule()
  }

  /** Stops scheduling rounds; resolves when the round in progress (if any) is over. */
  stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    return this.current ?? Promise.resolve()
  }

  private schedule(): void {
    const delay = this.options.maintenanceMs * (0.8 + 0.4 * Math.random())
    this.timer = setTimeout(() => {
      this.current = this.tick().finally(() => {
        this.current = null
        if (this.timer) this.schedule()
      })
    }, delay)
    this.timer.unref()
  }

  /** One round of housekeeping. */
  async tick(): Promise<void> {
    if (this.running) return
    this.running = true
    try {
      const { driver, clock, events } = this.internals
      const rescued = await driver.runRescueExpired({ now: clock.now(), limit: BATCH })
      for (const run of rescued) {
        events.emit('run.rescued', { runId: run.id, attempt: run.attempt, status: run.status })
        if (run.status === 'dead_lettered') this.internals.signals.emit('finished', run.id)
      }
      const promoted = await driver.runPromoteDue({ now: clock.now(), limit: BATCH })
      if (rescued.length > 0 || promoted > 0) this.onRunsAvailable()
      await this.prune()
      if (await driver.runUpkeep?.({ now: clock.now() })) this.onRunsAvailable()
    } catch (error) {
      this.onError(error)
    } finally {
      this.running = false
    }
  }

  private async prune(): Promise<void> {
    if (this.options.retentionMs === null) return
    const now = this.internals.clock.now()
    if (now.getTime() - this.lastPrune < PRUNE_EVERY_MS) return
    this.lastPrune = now.getTime()
    await pruneFinished(this.internals.driver, new Date(now.getTime() - this.options.retentionMs))
  }
}

/**
 * Deletes the finished runs that finished before `finishedBefore`, with their attempts, steps
 * and logs, in batches so that no single transaction grows large. Returns how many went.
 */
export async function pruneFinished(driver: StoreDriver, finishedBefore: Date): Promise<number> {
  let deleted = 0
  for (;;) {
    const batch = await driver.runPrune({ finishedBefore, limit: BATCH })
    deleted += batch
    if (batch < BATCH) return deleted
  }
}
