/**
 * Due runs of other tasks a walking claim may pass whatever its own backlog: about 1 ms
 * of walking, the planning it saves (a walk passes a run in about 0.4 µs, measured).
 */
const WALK_PAST_ANY = 2_000
/** ...and past more only while they are at most this many per due run of its own tasks. */
const WALK_PAST_PER_OWN = 3
/** How long a choice stands before the counts are read again (in the background). */
const FRESH_MS = 10_000

/** Runs waiting to be claimed (scheduled or queued) of a claim's tasks, and of the others. */
export interface DueRunCounts {
  own: number
  others: number
}

interface Choice {
  walk: boolean
  at: number
  refreshing: boolean
}

/**
 * Chooses, per set of tasks, which claim function a claim calls (claimFunctions). The
 * walking one never plans, but walks the due index in claim order, passing every due run
 * of other tasks ahead of its own. That is what the planner does too unless the claim's
 * tasks are rare among the due runs: then only the planned one may read their own index.
 * So a claim walks unless the run counters show many more due runs of other tasks than of
 * its own. A worker dedicated to some serial queues always plans: its runs may be rare
 * whatever their tasks. The counts are read once per set of tasks, then again in the
 * background when the choice is older than FRESH_MS; a backlog of other tasks that builds
 * up meanwhile slows the walking claims until then.
 */
export class ClaimPlans {
  private readonly choices = new Map<string, Choice>()

  constructor(
    private readonly countDue: (tasks: string[]) => Promise<DueRunCounts>,
    private readonly now: () => number = Date.now,
  ) {}

  async walks(tasks: string[], queues: string[] | null | undefined): Promise<boolean> {
    if (queues) return false
    const key = tasks.join('\u0000')
    const known = this.choices.get(key)
    if (!known) return this.choose(key, tasks)
    if (this.now() - known.at >= FRESH_MS && !known.refreshing) {
      known.refreshing = true
      // A failed read keeps the old choice and is tried again at the next claim.
      this.choose(key, tasks).catch(() => (known.refreshing = false))
    }
    return known.walk
  }

  private async choose(key: string, tasks: string[]): Promise<boolean> {
    const due = await this.countDue(tasks)
    const walk = due.others <= Math.max(WALK_PAST_ANY, WALK_PAST_PER_OWN * due.own)
    this.choices.set(key, { walk, at: this.now(), refreshing: false })
    return walk
  }
}
