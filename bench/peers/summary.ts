/** Measurements and their per-scenario summaries (median, min, max over repetitions). */
export interface Measurement {
  system: string
  scenario: string
  label: string
  rep: number
  runs: number
  /** Jobs done; below `runs` when a slow setting hit its time cap. */
  done: number
  elapsedMs: number
  perSec?: number
  latency?: { p50: number; p95: number; p99: number }
  /** Round trips or commits per job, where the scenario can count them (raw SQL). */
  perJob?: Record<string, number>
  /** Worker process memory when the measured work ended, and its peak (MiB); the largest over the processes of scale4. */
  rssMb?: number
  peakRssMb?: number
  /** RSS of the worker process once the system's module was loaded, before it opened anything (MiB). */
  loadedRssMb?: number
  /** scale4: each worker process's share. */
  processes?: Array<{ done: number; rssMb: number; peakRssMb: number }>
  /** retained: finished runs in the table during the measurement, and how long seeding them took. */
  retained?: number
  seedMs?: number
  /** A scenario that does not apply to the system, and why (no figures). */
  na?: string
  mixed?: MixedResult
}

/** The mixed load: a producer at a steady rate, one worker draining, the backlog sampled. */
export interface MixedResult {
  /** Offered rate (jobs/s) and production window (s). */
  rate: number
  seconds: number
  /** The producer's jobs due every this many ms went in one bulk call; null: one call per job. */
  tickMs?: number | null
  /** Jobs the producer enqueued, and the rate it achieved over its own run. */
  enqueued: number
  enqueueRate: number
  /** Jobs enqueued but not yet started: the largest sample, and the value when production ended. */
  maxBacklog: number
  endBacklog: number
  /** From the end of production to the start of the last job; null when the worker did not catch up before its cap. */
  catchUpMs: number | null
  /** Enqueue-to-start latency under this load (ms). */
  pickup: { p50: number; p95: number; p99: number }
  /** [seconds since the producer's first enqueue, backlog], one per sampling period. */
  series: Array<[number, number]>
}

const stat = (values: number[]) => (values.length ? { median: median(values), min: Math.min(...values), max: Math.max(...values) } : undefined)
type Stat = NonNullable<ReturnType<typeof stat>>

export interface Summary {
  system: string
  scenario: string
  label: string
  reps: number
  capped: boolean
  perSec?: { median: number; min: number; max: number }
  latency?: { p50: number; p95: number; p99: number; p99Max: number }
  perJob?: Record<string, number>
  rssMb?: Stat
  peakRssMb?: Stat
  loadedRssMb?: Stat
  /** scale4: the smallest and largest share of the jobs one process took, over repetitions. */
  share?: { min: number; max: number }
  retained?: number
  seedMs?: Stat
  na?: string
  mixed?: {
    rate: number
    seconds: number
    tickMs: number | null
    enqueueRate: Stat
    maxBacklog: Stat
    endBacklog: Stat
    /** Median over repetitions that caught up; `notCaughtUp` counts the others. */
    catchUpMs?: Stat
    notCaughtUp: number
    pickup: { p50: number; p99: number }
    /** The series of the repetition whose largest backlog is the median one. */
    series: Array<[number, number]>
  }
}

export const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN
}

export const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

function summarizeMixed(results: MixedResult[]): Summary['mixed'] {
  const first = results[0]
  if (!first) return undefined
  const caught = results.map((r) => r.catchUpMs).filter((v): v is number => v !== null)
  const byMax = [...results].sort((a, b) => a.maxBacklog - b.maxBacklog)
  return {
    rate: first.rate,
    seconds: first.seconds,
    tickMs: first.tickMs ?? null,
    enqueueRate: stat(results.map((r) => r.enqueueRate))!,
    maxBacklog: stat(results.map((r) => r.maxBacklog))!,
    endBacklog: stat(results.map((r) => r.endBacklog))!,
    ...(caught.length ? { catchUpMs: stat(caught)! } : {}),
    notCaughtUp: results.length - caught.length,
    pickup: { p50: median(results.map((r) => r.pickup.p50)), p99: median(results.map((r) => r.pickup.p99)) },
    series: byMax[Math.floor((byMax.length - 1) / 2)]!.series,
  }
}

export function summarize(measurements: Measurement[]): Summary[] {
  const groups = new Map<string, Measurement[]>()
  for (const m of measurements) {
    const key = `${m.system}\u0000${m.scenario}`
    groups.set(key, [...(groups.get(key) ?? []), m])
  }
  return [...groups.values()].map((ms) => {
    const first = ms[0]!
    const rates = ms.map((m) => m.perSec).filter((v): v is number => v !== undefined)
    const lat = ms.map((m) => m.latency).filter((v): v is NonNullable<Measurement['latency']> => v !== undefined)
    const numbers = (pick: (m: Measurement) => number | undefined) => ms.map(pick).filter((v): v is number => v !== undefined)
    const shares = ms.flatMap((m) => (m.processes && m.done ? m.processes.map((p) => p.done / m.done) : []))
    const mixed = summarizeMixed(ms.flatMap((m) => (m.mixed ? [m.mixed] : [])))
    const rss = stat(numbers((m) => m.rssMb))
    const peak = stat(numbers((m) => m.peakRssMb))
    const loaded = stat(numbers((m) => m.loadedRssMb))
    const seed = stat(numbers((m) => m.seedMs))
    return {
      system: first.system,
      scenario: first.scenario,
      label: first.label,
      reps: ms.length,
      capped: ms.some((m) => m.done < m.runs),
      ...(rates.length ? { perSec: { median: median(rates), min: Math.min(...rates), max: Math.max(...rates) } } : {}),
      ...(lat.length
        ? { latency: { p50: median(lat.map((l) => l.p50)), p95: median(lat.map((l) => l.p95)), p99: median(lat.map((l) => l.p99)), p99Max: Math.max(...lat.map((l) => l.p99)) } }
        : {}),
      ...(first.perJob ? { perJob: first.perJob } : {}),
      ...(rss ? { rssMb: rss } : {}),
      ...(peak ? { peakRssMb: peak } : {}),
      ...(loaded ? { loadedRssMb: loaded } : {}),
      ...(shares.length ? { share: { min: Math.min(...shares), max: Math.max(...shares) } } : {}),
      ...(first.retained !== undefined ? { retained: first.retained } : {}),
      ...(seed ? { seedMs: seed } : {}),
      ...(first.na ? { na: first.na } : {}),
      ...(mixed ? { mixed } : {}),
    }
  })
}
