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
}

export interface Summary {
  system: string
  scenario: string
  label: string
  reps: number
  capped: boolean
  perSec?: { median: number; min: number; max: number }
  latency?: { p50: number; p95: number; p99: number; p99Max: number }
  perJob?: Record<string, number>
}

export const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
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
    }
  })
}
