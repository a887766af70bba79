/**
 * Settings of `npm run bench:peers`, from the environment:
 * - `PEERS_QUICK=1`: 2,000 jobs, one repetition, 60 latency samples (a smoke run; figures not for quoting).
 * - `PEERS_RUNS`, `PEERS_REPS`: jobs per scenario (default 20,000) and repetitions (default 3).
 * - `PEERS_SYSTEMS`: comma-separated names to keep (substring match), e.g. `errand,graphile`.
 * - `PEERS_SCENARIOS`: any of `enqueue,process,latency,raw` (default all).
 * - `PEERS_CAP_S`: seconds after which a processing measurement reports what it did (default 30).
 * - `PEERS_PG_STATS=1`: also read PostgreSQL's counters per processing job (see pg-stats.ts).
 * - `PEERS_WRITE_DOCS=1`: rewrite the Peers section of docs/benchmarks.md and its chart.
 */
export interface PeersConfig {
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
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): PeersConfig {
  const quick = env.PEERS_QUICK === '1'
  const list = (value: string | undefined) => (value ? value.split(',').map((s) => s.trim()).filter(Boolean) : null)
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
    scenarios: list(env.PEERS_SCENARIOS) ?? ['enqueue', 'process', 'latency', 'raw'],
    writeDocs: env.PEERS_WRITE_DOCS === '1',
  }
}
