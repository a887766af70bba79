/**
 * Queued runs of other tasks a walking claim may pass whatever its own backlog: about 1 ms
 * of walking, the planning it saves (a walk passes a run in 0.4 to 0.8 µs, measured).
 */
const WALK_PAST_ANY = 2_000
/** ...and past more only while they are at most this many per queued run of its own tasks. */
const WALK_PAST_PER_OWN = 3
/** How long a choice stands before the counts are read again; also the wait after a failed read. */
const FRESH_MS = 10_000

/** Queued runs of a claim's tasks, and of the other tasks. */
export interface QueuedRunCounts {
  own: number
  others: number
}

interface Choice {
  walk: boolean
  at: number
  reading: boolean
}

/**
 * Chooses, per set of tasks, which claim function a claim calls (claimFunctions). The
 * walking one never plans, but walks the due index in claim order, passing every due run of
 * other tasks ahead of its own. That is what the planner does too unless the claim's tasks
 * are rare among the due runs: then only the planned one may read their own index. So a
 * claim walks unless the run counters show many more queued runs of other tasks than of its
 * own. Queued, not scheduled: runs waiting for a retry, a durable sleep or a later time sit
 * after the due ones in claim order and never lengthen a walk (due scheduled runs are
 * promoted to queued by maintenance). A worker dedicated to some serial queues always plans:
 * its runs may be rare whatever their tasks.
 *
 * The choice never holds a claim up: the counts are read in the background, and until they
 * are known (or when reading them fails) claims plan, as they did before there was a choice.
 * They are read again when the choice is FRESH_MS old: a backlog of other tasks that builds
 * up meanwhile slows the walking claims until then.
 */
export class ClaimPlans {
  private readonly choices = new Map<string, Choice>()

  constructor(
    private readonly countQueued: (tasks: string[]) => Promise<QueuedRunCounts>,
    private readonly onError: (error: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  walks(tasks: string[], queues: string[] | null | undefined): boolean {
    if (queues) return false
    const key = tasks.join('\u0000')
    let choice = this.choices.get(key)
    if (!choice) this.choices.set(key, (choice = { walk: false, at: -Infinity, reading: false }))
    if (!choice.reading && this.now() - choice.at >= FRESH_MS) this.read(choice, tasks)
    return choice.walk
  }

  private read(choice: Choice, tasks: string[]): void {
    choice.reading = true
    this.countQueued(tasks).then(
      (queued) => {
        choice.walk = queued.others <= Math.max(WALK_PAST_ANY, WALK_PAST_PER_OWN * queued.own)
        choice.at = this.now()
        choice.reading = false
      },
      (error: unknown) => {
        // Keep the last choice, and wait as long as a fresh one before reading again.
        choice.at = this.now()
        choice.reading = false
        this.onError(error)
      },
    )
  }
}
