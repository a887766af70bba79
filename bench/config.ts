/**
 * What one `npm run bench` does, from flags and environment variables. Flags win over
 * the environment so a one-off run can override a shell's defaults.
 *
 *   --reps=N        BENCH_REPS      repetitions per scenario (default 3; median reported)
 *   --quick         BENCH_QUICK=1   small counts, one repetition (under a minute): a regression guard, recorded in
 *                                   its own section of docs/benchmarks.md
 *   --only=a,b      BENCH_ONLY      scenario groups: enqueue, process, latency, raw
 *   --targets=a,b   BENCH_TARGETS   stores to measure (default sqlite,postgres). postgres uses DATABASE_URL,
 *                                   else starts a throwaway server with the test harness, else is skipped
 *   --profile       BENCH_PROFILE=1 also count and time every SQL statement (adds ~1% overhead)
 *   --no-docs       BENCH_NO_DOCS=1 do not rewrite docs/benchmarks.md
 *   --dir=PATH      BENCH_DIR       where the fresh database files go (default the OS temp dir)
 */
import { tmpdir } from 'node:os'

export const SCENARIO_GROUPS = ['enqueue', 'process', 'latency', 'raw'] as const
export type ScenarioGroup = (typeof SCENARIO_GROUPS)[number]

export interface BenchConfig {
  reps: number
  quick: boolean
  groups: ScenarioGroup[]
  targets: string[]
  profile: boolean
  writeDocs: boolean
  dir: string
  /** Runs per throughput scenario (enqueue, process, raw). */
  runs: number
  /** Batch size of enqueueMany and of the raw batched insert. */
  enqueueBatch: number
  /** Worker concurrencies of the processing scenario. */
  concurrencies: number[]
  /** Claim sizes of the raw claim-and-complete loop: the same as the concurrencies, plus a large one. */
  rawClaimSizes: number[]
  /** Runs and spacing of the pickup-latency scenario. */
  latencyRuns: number
  latencyGapMs: number
}

export function readConfig(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const flags = new Map<string, string>()
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg)
    if (!match) throw new Error(`Unknown argument ${arg}; see bench/config.ts`)
    flags.set(match[1] as string, match[2] ?? 'true')
  }
  const pick = (flag: string, name: string): string | undefined => flags.get(flag) ?? env[name]
  const quick = truthy(pick('quick', 'BENCH_QUICK'))
  const reps = wholeNumber(pick('reps', 'BENCH_REPS') ?? (quick ? '1' : '3'), 'reps')
  const groups = list(pick('only', 'BENCH_ONLY')) ?? [...SCENARIO_GROUPS]
  for (const group of groups) {
    if (!(SCENARIO_GROUPS as readonly string[]).includes(group)) throw new Error(`Unknown scenario group ${group}; one of ${SCENARIO_GROUPS.join(', ')}`)
  }
  return {
    reps,
    quick,
    groups: groups as ScenarioGroup[],
    targets: list(pick('targets', 'BENCH_TARGETS')) ?? ['sqlite', 'postgres'],
    profile: truthy(pick('profile', 'BENCH_PROFILE')),
    // A quick run writes its own section (a regression guard), never the full run's figures.
    writeDocs: !truthy(pick('no-docs', 'BENCH_NO_DOCS')),
    dir: pick('dir', 'BENCH_DIR') ?? tmpdir(),
    runs: quick ? 2_000 : 20_000,
    enqueueBatch: 1_000,
    concurrencies: [1, 10, 50],
    rawClaimSizes: [1, 10, 50, 500],
    latencyRuns: quick ? 40 : 300,
    latencyGapMs: 20,
  }
}

function truthy(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value !== 'false'
}

function list(value: string | undefined): string[] | undefined {
  if (value === undefined || value === '') return undefined
  return value.split(',').map((item) => item.trim()).filter(Boolean)
}

function wholeNumber(value: string, name: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number of at least 1, got ${value}`)
  return n
}
