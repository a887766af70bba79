/**
 * The shape of what every scenario measures, one record per repetition, and how
 * repetitions are folded into the figure we quote (the median, with min and max beside it:
 * the machines are shared and noisy, so a mean would be dragged by one slow repetition).
 */

/** Calls to one store-driver method during a measurement. */
export interface CallStat {
  calls: number
  /** Rows the calls carried: runs inserted, claimed or finished. */
  rows: number
  /** Time spent inside the call before it returned its promise: for SQLite, all of the SQL and the commit's fsync. */
  syncMs: number
}

/** One SQL statement's executions (only with --profile). */
export interface StatementStat {
  count: number
  ms: number
}

/** One repetition of one scenario. */
export interface Measurement {
  /** Stable key, e.g. `process.c50`, `raw.claim.lean.500`. */
  scenario: string
  /** What was measured: `sqlite`, `postgres`, `raw-sqlite`. */
  target: string
  /** Human wording for the table. */
  label: string
  rep: number
  runs: number
  elapsedMs: number
  /** runs / elapsed, for throughput scenarios. */
  perSec?: number
  /** Pickup latencies in ms, for latency scenarios. */
  latency?: { p50: number; p95: number; p99: number; max: number }
  /** Commits (write transactions) per run. */
  commitsPerRun?: number
  /** Store-driver calls per run, all methods together (a round trip each on a networked store). */
  callsPerRun?: number
  /** Queries sent to the server per run (PostgreSQL only: each is a network round trip). */
  roundTripsPerRun?: number
  calls?: Record<string, CallStat>
  statements?: Record<string, StatementStat>
  /** CPU time (user + system) of the measuring process per run, in microseconds. */
  cpuUsPerRun?: number
  /** Resident memory of the measuring process at the end of the measurement, and at its peak, in MB. */
  rssMb?: number
  maxRssMb?: number
  /** Resident memory before the measured work started (runtime, modules, open store). */
  baseRssMb?: number
  errors?: number
  /** Longest stretch the event loop could not run timers or I/O during the measurement, in ms. */
  eventLoopMaxMs?: number
  /** From the start of the measurement to the first `run.completed` event, in ms. */
  firstEventMs?: number
  /** The machine's 1-minute load average when the measurement started: others share it. */
  loadAvg?: number
}

/** The repetitions of one scenario, folded. */
export interface Summary {
  scenario: string
  target: string
  label: string
  reps: number
  runs: number
  perSec?: Spread
  p50?: Spread
  p95?: Spread
  p99?: Spread
  commitsPerRun?: number
  callsPerRun?: number
  roundTripsPerRun?: number
  cpuUsPerRun?: number
  rssMb?: number
  maxRssMb?: number
  baseRssMb?: number
  elapsedMs?: number
  eventLoopMaxMs?: number
  firstEventMs?: number
}

export interface Spread {
  median: number
  min: number
  max: number
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** Nearest-rank percentile: with 300 samples p99 is the 297th, a real observation, not an interpolation. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[Math.min(rank, sorted.length) - 1] as number
}

function spread(values: number[]): Spread | undefined {
  if (values.length === 0) return undefined
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) }
}

function medianOf(values: Array<number | undefined>): number | undefined {
  const present = values.filter((value): value is number => value !== undefined)
  return present.length ? median(present) : undefined
}

/** Folds repetitions by scenario and target, keeping first-seen order. */
export function summarize(measurements: Measurement[]): Summary[] {
  const groups = new Map<string, Measurement[]>()
  for (const m of measurements) {
    const key = `${m.target}\u0000${m.scenario}`
    groups.set(key, [...(groups.get(key) ?? []), m])
  }
  return [...groups.values()].map((reps) => {
    const first = reps[0] as Measurement
    const pick = (f: (m: Measurement) => number | undefined) => reps.map(f).filter((v): v is number => v !== undefined)
    return {
      scenario: first.scenario,
      target: first.target,
      label: first.label,
      reps: reps.length,
      runs: first.runs,
      perSec: spread(pick((m) => m.perSec)),
      p50: spread(pick((m) => m.latency?.p50)),
      p95: spread(pick((m) => m.latency?.p95)),
      p99: spread(pick((m) => m.latency?.p99)),
      commitsPerRun: medianOf(reps.map((m) => m.commitsPerRun)),
      callsPerRun: medianOf(reps.map((m) => m.callsPerRun)),
      roundTripsPerRun: medianOf(reps.map((m) => m.roundTripsPerRun)),
      cpuUsPerRun: medianOf(reps.map((m) => m.cpuUsPerRun)),
      rssMb: medianOf(reps.map((m) => m.rssMb)),
      maxRssMb: medianOf(reps.map((m) => m.maxRssMb)),
      baseRssMb: medianOf(reps.map((m) => m.baseRssMb)),
      elapsedMs: medianOf(reps.map((m) => m.elapsedMs)),
      eventLoopMaxMs: medianOf(reps.map((m) => m.eventLoopMaxMs)),
      firstEventMs: medianOf(reps.map((m) => m.firstEventMs)),
    }
  })
}
