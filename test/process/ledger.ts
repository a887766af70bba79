/**
 * The ledger: every handler invocation of every worker process, appended (and fsynced) to
 * one JSON-lines file per process, then checked against what the producer was told
 * (acknowledged enqueues) and what the store says at the end.
 *
 * The checker reports, after RELIABILITY.md section 5:
 * - lost: acknowledged runs that should have completed and did not (or vanished);
 * - duplicates: a run started again although its earlier attempt was neither failed nor
 *   released (the store shows it `lease_expired`), or the same attempt started twice.
 *   Explained when the earlier start's process died (SIGKILL, crash); unexplained otherwise;
 * - state regressions: a run seen final that later showed another status, an attempt after a
 *   completed one, a start after the run completed, or a completion no handler produced.
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, readSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { Errand } from '../../src/runtime/errand.js'
import type { Attempt, Run } from '../../src/core/run.js'
import type { LedgerEntry } from './protocol.js'

const FINAL = new Set(['completed', 'cancelled', 'dead_lettered'])

/** Appends ledger lines to one file, each write followed by fsync (unless turned off). */
export class LedgerWriter {
  private readonly fd: number

  constructor(
    readonly path: string,
    private readonly fsync = true,
  ) {
    this.fd = openSync(path, 'a')
  }

  append(entry: LedgerEntry): void {
    writeSync(this.fd, `${JSON.stringify(entry)}\n`)
    if (this.fsync) fsyncSync(this.fd)
  }

  close(): void {
    closeSync(this.fd)
  }
}

export interface LedgerRead {
  entries: LedgerEntry[]
  /** Lines that did not parse: only a process killed mid-write may leave one, as its file's last line. */
  torn: Array<{ file: string; line: string; last: boolean }>
}

/** Reads every `*.jsonl` ledger in a folder. */
export function readLedgers(dir: string): LedgerRead {
  const entries: LedgerEntry[] = []
  const torn: LedgerRead['torn'] = []
  if (!existsSync(dir)) return { entries, torn }
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.jsonl')).sort()) {
    const lines = readFileSync(join(dir, file), 'utf8').split('\n')
    if (lines[lines.length - 1] === '') lines.pop()
    lines.forEach((line, index) => {
      try {
        entries.push(JSON.parse(line) as LedgerEntry)
      } catch {
        torn.push({ file, line, last: index === lines.length - 1 })
      }
    })
  }
  return { entries, torn }
}

/**
 * Follows the ledger folder while a test runs: reads only what was appended since the last
 * call. Gives live counts (starts, finishes, runs in a handler per pid) for fault schedules.
 */
export class LedgerTail {
  private readonly offsets = new Map<string, number>()
  private readonly partial = new Map<string, string>()
  readonly entries: LedgerEntry[] = []
  private readonly open = new Map<string, Map<string, LedgerEntry>>()
  starts = 0
  finishes = 0
  /** Distinct runs with at least one start. */
  readonly startedRuns = new Set<string>()

  constructor(private readonly dir: string) {}

  poll(): void {
    if (!existsSync(this.dir)) return
    for (const file of readdirSync(this.dir).filter((name) => name.endsWith('.jsonl'))) {
      const path = join(this.dir, file)
      const from = this.offsets.get(path) ?? 0
      const size = statSync(path).size
      if (size <= from) continue
      const chunk = Buffer.alloc(size - from)
      const fd = openSync(path, 'r')
      let read = 0
      try {
        read = readSync(fd, chunk, 0, chunk.length, from)
      } finally {
        closeSync(fd)
      }
      this.offsets.set(path, from + read)
      const text = (this.partial.get(path) ?? '') + chunk.subarray(0, read).toString('utf8')
      const lines = text.split('\n')
      this.partial.set(path, lines.pop() ?? '')
      for (const line of lines) {
        if (!line) continue
        let entry: LedgerEntry
        try {
          entry = JSON.parse(line) as LedgerEntry
        } catch {
          continue
        }
        this.add(entry)
      }
    }
  }

  private add(entry: LedgerEntry): void {
    this.entries.push(entry)
    const key = `${entry.runId}#${entry.attempt}`
    let open = this.open.get(entry.worker)
    if (!open) this.open.set(entry.worker, (open = new Map()))
    if (entry.event === 'start') {
      this.starts++
      this.startedRuns.add(entry.runId)
      open.set(key, entry)
    } else {
      this.finishes++
      open.delete(key)
    }
  }

  /** Runs in a handler on this worker right now, as far as its ledger shows. */
  inFlight(worker: string): number {
    return this.open.get(worker)?.size ?? 0
  }
}

/** A process that died without stopping cleanly. */
export interface Death {
  pid: number
  workerId: string
  /** When it was killed or seen to exit, ms since the epoch. */
  at: number
  how: 'SIGKILL' | 'exit'
}

/** Watches statuses while a test runs, to catch a final run that later changes (a state regression). */
export class RunWatcher {
  private readonly firstFinal = new Map<string, { status: string; at: number }>()
  readonly regressions: Regression[] = []
  private timer: NodeJS.Timeout | null = null
  private ticking: Promise<void> | null = null
  samples = 0

  constructor(
    private readonly errand: Errand,
    private readonly intervalMs = 1_000,
  ) {}

  start(): void {
    const loop = () => {
      this.timer = setTimeout(() => {
        this.ticking = this.sample()
          .catch(() => undefined)
          .finally(() => {
            this.ticking = null
            if (this.timer) loop()
          })
      }, this.intervalMs)
    }
    loop()
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.ticking
  }

  /** Takes one look at every run. */
  async sample(): Promise<void> {
    const runs = await listAllRuns(this.errand)
    const now = Date.now()
    this.samples++
    for (const run of runs) this.observe(run.id, run.status, now)
  }

  observe(runId: string, status: string, at: number): void {
    const first = this.firstFinal.get(runId)
    if (first) {
      if (first.status !== status) {
        this.regressions.push({ runId, kind: 'final-changed', detail: `seen ${first.status} at ${first.at}, then ${status} at ${at}` })
      }
    } else if (FINAL.has(status)) {
      this.firstFinal.set(runId, { status, at })
    }
  }
}

/** Every run in the store (pages of 1000, newest first). */
export async function listAllRuns(errand: Errand, status?: Run['status'][]): Promise<Run[]> {
  const out: Run[] = []
  let cursor: string | undefined
  for (;;) {
    const page = await errand.runs.list({ limit: 1000, ...(cursor ? { cursor } : {}), ...(status ? { status } : {}) })
    out.push(...page.runs)
    if (!page.nextCursor) return out
    cursor = page.nextCursor
  }
}

/** Whether any run is not final yet (one cheap query). */
export async function anyRunPending(errand: Errand): Promise<boolean> {
  const page = await errand.runs.list({ status: ['scheduled', 'queued', 'running'], limit: 1 })
  return page.runs.length > 0
}

export interface FinalState {
  runs: Map<string, Run>
  /** Stored attempts of every run that was claimed more than once or started more than once. */
  attempts: Map<string, Attempt[]>
}

/** Reads the store's final state: every run, and the attempts the checker needs. */
export async function readFinalState(errand: Errand, ledger: LedgerEntry[]): Promise<FinalState> {
  const runs = new Map((await listAllRuns(errand)).map((run) => [run.id, run]))
  const startsPerRun = new Map<string, number>()
  for (const entry of ledger) if (entry.event === 'start') startsPerRun.set(entry.runId, (startsPerRun.get(entry.runId) ?? 0) + 1)
  const needed = new Set<string>()
  for (const run of runs.values()) if (run.attempt > 1) needed.add(run.id)
  for (const [runId, starts] of startsPerRun) if (starts > 1) needed.add(runId)
  const attempts = new Map<string, Attempt[]>()
  for (const runId of needed) attempts.set(runId, await errand.runs.attempts(runId))
  return { runs, attempts }
}

export interface Duplicate {
  runId: string
  /** The attempt whose start came second. */
  attempt: number
  /** The earlier start it duplicates. */
  earlier: { attempt: number; pid: number; worker: string; finishedInHandler: boolean; storedOutcome: string | null }
  /** When the earlier attempt was claimed, entered and left its handler, and ended in the store (ms since the epoch). */
  timeline?: { claimed: number | null; started: number | null; finished: number | null; ended: number | null; next: number }
  reason: string
}

export interface Regression {
  runId: string
  kind: 'final-changed' | 'attempt-after-completed' | 'start-after-final' | 'completion-without-handler' | 'attempt-beyond-counter'
  detail: string
}

export interface CheckInput {
  acknowledged: Iterable<string>
  ledger: LedgerEntry[]
  final: FinalState
  /** Processes that died without a clean stop. */
  deaths?: Death[]
  /** Runs that must end `completed`. Default: every acknowledged run. */
  mustComplete?: (runId: string) => boolean
  /** Regressions seen while the test ran (a {@link RunWatcher}'s). */
  observed?: Regression[]
  /**
   * Event-loop stalls the worker processes reported, and their lease settings. A live
   * worker whose loop was blocked (or not scheduled) for about as long as its lease cannot
   * renew it: such a lapse is put apart as `stalled`, not as unexplained.
   */
  stalls?: Stall[]
  timing?: { leaseMs: number; heartbeatMs: number; maintenanceMs: number }
}

/** A worker process's event loop did not turn for `ms` up to `at`. */
export interface Stall {
  workerId: string
  at: number
  ms: number
}

export interface LedgerReport {
  acknowledged: number
  completed: number
  /** Acknowledged runs that had to complete and did not: `missing` when not in the store at all. */
  lost: Array<{ runId: string; status: string | 'missing' }>
  /**
   * explained: the earlier start's process died. stalled: its process lived but its event
   * loop was stalled for about a lease when the lease ran out. unexplained: anything else.
   */
  duplicates: { explained: Duplicate[]; stalled: Duplicate[]; unexplained: Duplicate[] }
  /** Attempts whose lease ran out on a worker that did not die and was not stalled (a live worker lost its lease). */
  falseRescues: Array<{ runId: string; attempt: number; workerId: string | null }>
  /** Attempts whose lease ran out on a live worker whose event loop was stalled at the time. */
  stalledRescues: Array<{ runId: string; attempt: number; workerId: string | null; stalledMs: number }>
  /** Runs the dead processes held (claimed, not finished in the store) when they died. */
  heldByDead: number
  /** Of those, runs that were inside a handler per the ledger (a start without a finish). */
  inHandlerAtDeath: number
  regressions: Regression[]
  /** ms from a death to the next start of each run the dead process held. */
  recoveryMs: number[]
  starts: number
}

/** Compares ledger, acknowledgements and final state. Pure: every input is data. */
export function checkLedger(input: CheckInput): LedgerReport {
  const { final, ledger } = input
  const deaths = input.deaths ?? []
  const deadWorkers = new Map(deaths.map((death) => [death.workerId, death]))
  const mustComplete = input.mustComplete ?? (() => true)
  const acknowledged = [...new Set(input.acknowledged)]
  const acknowledgedSet = new Set(acknowledged)

  const byRun = new Map<string, LedgerEntry[]>()
  for (const entry of ledger) {
    let list = byRun.get(entry.runId)
    if (!list) byRun.set(entry.runId, (list = []))
    list.push(entry)
  }

  const lost: LedgerReport['lost'] = []
  let completed = 0
  for (const id of acknowledged) {
    const run = final.runs.get(id)
    if (run?.status === 'completed') completed++
    if (!mustComplete(id)) {
      if (!run) lost.push({ runId: id, status: 'missing' })
      continue
    }
    if (!run) lost.push({ runId: id, status: 'missing' })
    else if (run.status !== 'completed') lost.push({ runId: id, status: run.status })
  }

  const explained: Duplicate[] = []
  const stalled: Duplicate[] = []
  const unexplained: Duplicate[] = []
  /** ms the worker's loop was stalled in the window in which a lease that ran out by `ended` had to be renewed (0 without stall data). */
  const stalledBefore = (workerId: string | null, ended: number | null): number => {
    if (!input.timing || !input.stalls || !workerId || ended === null) return 0
    const from = ended - input.timing.leaseMs - input.timing.maintenanceMs * 1.2 - 1_000
    let total = 0
    for (const stall of input.stalls) {
      if (stall.workerId !== workerId) continue
      total += Math.max(0, Math.min(stall.at, ended) - Math.max(stall.at - stall.ms, from))
    }
    return total
  }
  const stallCovers = (ms: number) => input.timing !== undefined && ms >= input.timing.leaseMs - input.timing.heartbeatMs - 500
  const regressions: Regression[] = [...(input.observed ?? [])]
  let starts = 0

  for (const [runId, entries] of byRun) {
    const run = final.runs.get(runId)
    const stored = new Map((final.attempts.get(runId) ?? []).map((attempt) => [attempt.attempt, attempt]))
    const runStarts = entries.filter((entry) => entry.event === 'start').sort((a, b) => a.attempt - b.attempt || a.at - b.at)
    const finishes = entries.filter((entry) => entry.event === 'finish')
    starts += runStarts.length
    const seenAttempt = new Map<number, LedgerEntry>()
    for (let i = 0; i < runStarts.length; i++) {
      const start = runStarts[i] as LedgerEntry
      if (run && start.attempt > run.attempt) {
        regressions.push({ runId, kind: 'attempt-beyond-counter', detail: `start of attempt ${start.attempt} but the run's counter is ${run.attempt}` })
      }
      if (run?.completedAt && FINAL.has(run.status) && start.at > run.completedAt.getTime() + 50) {
        regressions.push({ runId, kind: 'start-after-final', detail: `attempt ${start.attempt} started at ${start.at}, run ${run.status} at ${run.completedAt.getTime()}` })
      }
      const twin = seenAttempt.get(start.attempt)
      if (twin) {
        unexplained.push({
          runId,
          attempt: start.attempt,
          earlier: { attempt: twin.attempt, pid: twin.pid, worker: twin.worker, finishedInHandler: hasFinish(finishes, twin), storedOutcome: stored.get(twin.attempt)?.outcome ?? null },
          reason: 'the same attempt started twice (two claims got the same fencing token)',
        })
        continue
      }
      seenAttempt.set(start.attempt, start)
      const previous = i > 0 ? (runStarts[i - 1] as LedgerEntry) : null
      if (!previous || previous.attempt === start.attempt) continue
      // Between the previous start and this one, every attempt must have ended in the store.
      // A failed or released attempt makes the next start a retry; one whose lease ran out
      // makes it a duplicate; a completed one makes it a regression.
      for (let attempt = previous.attempt; attempt < start.attempt; attempt++) {
        const record = stored.get(attempt)
        const earlierStart = seenAttempt.get(attempt) ?? previous
        const earlier = {
          attempt,
          pid: earlierStart.pid,
          worker: record?.workerId ?? earlierStart.worker,
          finishedInHandler: earlierStart.attempt === attempt && hasFinish(finishes, earlierStart),
          storedOutcome: record?.outcome ?? null,
        }
        if (!record) {
          unexplained.push({ runId, attempt: start.attempt, earlier, reason: `attempt ${attempt} has no stored end` })
          continue
        }
        if (record.outcome === 'failed' || record.outcome === 'released') continue
        if (record.outcome === 'completed') {
          regressions.push({ runId, kind: 'attempt-after-completed', detail: `attempt ${attempt} completed, yet attempt ${start.attempt} started` })
          unexplained.push({ runId, attempt: start.attempt, earlier, reason: 'started again after a completed attempt' })
          continue
        }
        if (record.outcome === 'lease_expired') {
          // Only a start the ledger saw counts as a duplicate: an attempt claimed but never
          // started (killed between claim and handler) ran nothing.
          if (earlierStart.attempt !== attempt) continue
          const death = deadWorkers.get(earlier.worker)
          const finish = finishes.find((entry) => entry.attempt === attempt && entry.worker === earlierStart.worker)
          const timeline = {
            claimed: record.startedAt.getTime(),
            started: earlierStart.at,
            finished: finish?.at ?? null,
            ended: record.finishedAt?.getTime() ?? null,
            next: start.at,
          }
          const duplicate: Duplicate = { runId, attempt: start.attempt, earlier, timeline, reason: '' }
          if (death && death.at >= earlierStart.at - 50) {
            duplicate.reason = `attempt ${attempt}'s process ${death.pid} died (${death.how}) ${earlier.finishedInHandler ? 'after its handler returned, before the completion was stored' : 'while its handler ran'}`
            explained.push(duplicate)
          } else {
            const stalledMs = stalledBefore(record.workerId, timeline.ended)
            if (stallCovers(stalledMs)) {
              duplicate.reason = `attempt ${attempt}'s lease ran out while its worker ${earlier.worker} was alive but stalled for ${stalledMs} ms`
              stalled.push(duplicate)
            } else {
              duplicate.reason = `attempt ${attempt}'s lease ran out while its worker ${earlier.worker} was alive${stalledMs ? ` (stalled ${stalledMs} ms)` : ''}`
              unexplained.push(duplicate)
            }
          }
          continue
        }
        unexplained.push({ runId, attempt: start.attempt, earlier, reason: `started again after an attempt that ended ${record.outcome}` })
      }
    }
    if (run?.status === 'completed') {
      const ok = finishes.some((entry) => entry.attempt === run.attempt && entry.outcome === 'ok')
      if (!ok && byRun.has(runId)) {
        regressions.push({ runId, kind: 'completion-without-handler', detail: `completed on attempt ${run.attempt} with no handler success in the ledger` })
      }
    }
  }

  for (const [runId, attempts] of final.attempts) {
    const completedIndex = attempts.findIndex((attempt) => attempt.outcome === 'completed')
    if (completedIndex >= 0 && completedIndex < attempts.length - 1) {
      const already = regressions.some((regression) => regression.runId === runId && regression.kind === 'attempt-after-completed')
      if (!already) regressions.push({ runId, kind: 'attempt-after-completed', detail: `attempt ${attempts[completedIndex]?.attempt} completed but later attempts exist` })
    }
  }
  for (const run of final.runs.values()) {
    if (run.status === 'completed' && !byRun.has(run.id) && acknowledgedSet.has(run.id)) {
      regressions.push({ runId: run.id, kind: 'completion-without-handler', detail: 'completed, but no handler of any worker ever started it' })
    }
  }

  // Runs held by dead processes, recovery times, and leases lost by live workers.
  const falseRescues: LedgerReport['falseRescues'] = []
  const stalledRescues: LedgerReport['stalledRescues'] = []
  const recoveryMs: number[] = []
  let heldByDead = 0
  let inHandlerAtDeath = 0
  for (const [runId, attempts] of final.attempts) {
    const entries = byRun.get(runId) ?? []
    for (const attempt of attempts) {
      if (attempt.outcome !== 'lease_expired') continue
      const death = attempt.workerId ? deadWorkers.get(attempt.workerId) : undefined
      if (!death) {
        const stalledMs = stalledBefore(attempt.workerId, attempt.finishedAt?.getTime() ?? null)
        if (stallCovers(stalledMs)) stalledRescues.push({ runId, attempt: attempt.attempt, workerId: attempt.workerId, stalledMs })
        else falseRescues.push({ runId, attempt: attempt.attempt, workerId: attempt.workerId })
        continue
      }
      heldByDead++
      const started = entries.find((entry) => entry.event === 'start' && entry.attempt === attempt.attempt && entry.worker === attempt.workerId)
      if (started && !hasFinish(entries, started)) inHandlerAtDeath++
      const next = attempts.find((later) => later.attempt > attempt.attempt)
      const nextStart = entries.find((entry) => entry.event === 'start' && entry.attempt > attempt.attempt)
      const at = nextStart?.at ?? next?.startedAt.getTime()
      if (at !== undefined) recoveryMs.push(at - death.at)
    }
  }
  recoveryMs.sort((a, b) => a - b)

  return {
    acknowledged: acknowledged.length,
    completed,
    lost,
    duplicates: { explained, stalled, unexplained },
    falseRescues,
    stalledRescues,
    heldByDead,
    inHandlerAtDeath,
    regressions,
    recoveryMs,
    starts,
  }
}

function hasFinish(entries: LedgerEntry[], start: LedgerEntry): boolean {
  return entries.some((entry) => entry.event === 'finish' && entry.attempt === start.attempt && entry.worker === start.worker)
}

/** The p-th percentile (0-100) of sorted numbers, or null when there are none. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index] as number
}

/** One line per figure, for the test log. */
export function formatReport(title: string, report: LedgerReport, extra: Record<string, unknown> = {}): string {
  const lines = [
    `[${title}]`,
    `  acknowledged=${report.acknowledged} completed=${report.completed} starts=${report.starts}`,
    `  lost=${report.lost.length} duplicates: explained=${report.duplicates.explained.length} stalled=${report.duplicates.stalled.length} unexplained=${report.duplicates.unexplained.length}`,
    `  held by dead processes=${report.heldByDead} (in a handler at death: ${report.inHandlerAtDeath}) false rescues=${report.falseRescues.length} (+${report.stalledRescues.length} under a stall) regressions=${report.regressions.length}`,
  ]
  if (report.recoveryMs.length) {
    lines.push(
      `  recovery (death -> next start) ms: n=${report.recoveryMs.length} p50=${percentile(report.recoveryMs, 50)} p99=${percentile(report.recoveryMs, 99)} max=${report.recoveryMs[report.recoveryMs.length - 1]}`,
    )
  }
  for (const [key, value] of Object.entries(extra)) lines.push(`  ${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
  const sample = <T>(items: T[]) => JSON.stringify(items.slice(0, 5))
  if (report.lost.length) lines.push(`  lost sample: ${sample(report.lost)}`)
  if (report.duplicates.unexplained.length) lines.push(`  unexplained sample: ${sample(report.duplicates.unexplained)}`)
  if (report.falseRescues.length) lines.push(`  false rescue sample: ${sample(report.falseRescues)}`)
  if (report.duplicates.stalled.length) lines.push(`  stalled-worker duplicate sample: ${sample(report.duplicates.stalled)}`)
  if (report.regressions.length) lines.push(`  regression sample: ${sample(report.regressions)}`)
  return lines.join('\n')
}
