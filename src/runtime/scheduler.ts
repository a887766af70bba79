import type { ErrandInternals } from './internals.js'
import { tickSchedules } from './schedule-ticker.js'

/** Spread, in ms, added to each wake-up so processes due at the same tick do not all contend at once. */
const JITTER_MS = 25
/**
 * Wait, in ms, when a schedule is still due after a pass: another process holds it (it will
 * advance it), or it became due during the pass. Short, but never a busy loop.
 */
const STILL_DUE_MS = 100

/**
 * A worker's scheduler: runs a tick pass, then sleeps until the earliest next tick, at most
 * `maxSleepMs` (so schedules made by other processes are noticed), and wakes early when a
 * schedule changes in this process or one of its runs finishes (a held run may be due).
 * Every worker may run one: the tick pass is safe under any number of them.
 */
export class Scheduler {
  private timer: NodeJS.Timeout | null = null
  private pass: Promise<void> | null = null
  private again = false
  private stopped = true
  private readonly onChange = () => this.poke()

  constructor(
    private readonly internals: ErrandInternals,
    private readonly maxSleepMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(): void {
    this.stopped = false
    this.internals.signals.on('schedules', this.onChange)
    this.poke()
  }

  /** Stops ticking; resolves when a pass in progress has ended. */
  async stop(): Promise<void> {
    this.stopped = true
    this.internals.signals.off('schedules', this.onChange)
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.pass
  }

  /** Runs a pass as soon as possible (after the one in progress, if any). */
  poke(): void {
    if (this.stopped) return
    if (this.pass) {
      this.again = true
      return
    }
    this.arm(0)
  }

  private arm(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = null
      this.pass = this.run().finally(() => (this.pass = null))
    }, delayMs)
    this.timer.unref()
  }

  private async run(): Promise<void> {
    if (this.stopped) return
    let delay = this.maxSleepMs
    try {
      const summary = await tickSchedules(this.internals)
      for (const error of summary.errors) this.onError(error)
      // A schedule that cannot be planned stays due: look again at the usual pace, not at once.
      if (summary.nextTickAt && summary.errors.length === 0) {
        const until = summary.nextTickAt.getTime() - this.internals.clock.now().getTime()
        delay = until > 0 ? until : STILL_DUE_MS
      }
    } catch (error) {
      this.onError(error)
    }
    if (this.stopped) return
    if (this.again) delay = 0
    this.again = false
    this.arm(Math.min(this.maxSleepMs, Math.max(0, delay)) + Math.random() * JITTER_MS)
  }
}
