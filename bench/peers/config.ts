/**
 * Settings of `npm run bench:peers`, from the environment:
 * - `PEERS_QUICK=1`: 2,000 jobs, one repetition, 60 latency samples, 20,000 retained runs and
 *   a 5 s mixed load (a smoke run; figures not for quoting).
 * - `PEERS_RUNS`, `PEERS_REPS`: jobs per scenario (default 20,000) and repetitions (default 3).
 * - `PEERS_SYSTEMS`: comma-separated names to keep (substring match), e.g. `errand,graphile`.
 * - `PEERS_SCENARIOS`: any of `enqueue,process,latency,raw,scale4,retained,mixed` (default all).
 * - `PEERS_RETAINED`: finished runs seeded for the retained scenario (default 1,000,000).
 * - `PEERS_MIXED_RATE`, `PEERS_MIXED_S`: the mixed load's producer rate in jobs/s (default
 *   1,000) and how long it produces (default 20 s).
 * - `PEERS_MIXED_MODE`: `bulk` (default: every 10 ms the jobs due go in one bulk enqueue call)
 *   or `single` (one enqueue call per job when it is due, up to 100 calls in flight).
 * - `PEERS_CAP_S`: seconds after which a processing measurement reports what it did (default 30).
 * - `PEERS_PG_STATS=1`: also read PostgreSQL's counters per processing job (see pg-stats.ts).
 * - `PEERS_WRITE_DOCS=1`: rewrite the Peers section of docs/benchmarks.md and its chart.
 */
export interface PeersConfig {
  /** The errand commit measured, recorded with the run so that a re-render reports it rather than the current one. */
  errandCommit?: string
  quick: boolean
  runs: number
  reps: number
  batch: number
  latencyRuns: number
  latencyGapMs: number
  /** A processing measurement that has not finished by then reports what it did. */
  processTimeoutMs: number
  /** Shorter cap for settings that are known to poll slowly (pg-boss defaults: 1 job per 2 s). */
  slowTimeoutMs: number
  systems: string[] | null
  scenarios: string[]
  writeDocs: boolean
  /** Worker processes of the scale4 scenario, each with the system's tuned setting. */
  processes: number
  /** Finished runs in the table for the retained scenario. */
  retained: number
  /** Mixed load: the producer's steady rate (jobs/s), for how long, and the backlog sampling period. */
  mixedRate: number
  mixedSeconds: number
  mixedSampleMs: number
  /** Mixed load: enqueue calls the producer lets be in flight at once before it falls behind its schedule. */
  mixedMaxInFlight: number
  /** Mixed load: the jobs due every this many ms go in one bulk call; null: one call per job. */
  mixedTickMs: number | null
}

export const SCENARIOS = ['enqueue', 'process', 'latency', 'raw', 'scale4', 'retained', 'mixed'] as const

export function readConfig(env: NodeJS.ProcessEnv = process.env): PeersConfig {
  const quick = env.PEERS_QUICK === '1'
  const list = (value: string | undefined) => (value ? value.split(',').map((s) => s.trim()).filter(Boolean) : null)
  if (env.PEERS_MIXED_MODE && !['bulk', 'single'].includes(env.PEERS_MIXED_MODE)) throw new Error('PEERS_MIXED_MODE: bulk or single')
  const unknown = (list(env.PEERS_SCENARIOS) ?? []).filter((s) => !(SCENARIOS as readonly string[]).includes(s))
  if (unknown.length) throw new Error(`PEERS_SCENARIOS: unknown ${unknown.join(', ')} (known: ${SCENARIOS.join(', ')})`)
  return {
    quick,
    runs: Number(env.PEERS_RUNS ?? (quick ? 2_000 : 20_000)),
    reps: Number(env.PEERS_REPS ?? (quick ? 1 : 3)),
    batch: 1_000,
    latencyRuns: quick ? 60 : 300,
    latencyGapMs: 20,
    processTimeoutMs: Number(env.PEERS_CAP_S ?? (quick ? 20 : 30)) * 1000,
    slowTimeoutMs: 10_000,
    systems: list(env.PEERS_SYSTEMS),
    scenarios: list(env.PEERS_SCENARIOS) ?? [...SCENARIOS],
    writeDocs: env.PEERS_WRITE_DOCS === '1',
    processes: 4,
    retained: Number(env.PEERS_RETAINED ?? (quick ? 20_000 : 1_000_000)),
    mixedRate: Number(env.PEERS_MIXED_RATE ?? 1_000),
    mixedSeconds: Number(env.PEERS_MIXED_S ?? (quick ? 5 : 20)),
    mixedSampleMs: 500,
    mixedMaxInFlight: 100,
    mixedTickMs: env.PEERS_MIXED_MODE === 'single' ? null : 10,
  }
}
