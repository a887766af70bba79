/**
 * RELIABILITY.md scenario 4, misbehaving handlers, in real worker processes: handlers that
 * ignore their abort signal past a timeout, never settle, throw non-Errors (`undefined`, a
 * string), let a promise they never awaited reject (Node's default then ends the process),
 * or call `process.exit` mid-run. Every bad run must end `dead_lettered` after its retry
 * with an error recorded on the run and on each attempt; the healthy runs enqueued
 * alongside must all complete (no slot is lost to a bad handler, no pool wedges); a crashed
 * process's runs are rescued after the lease by the restarted worker.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Errand } from '../src/runtime/errand.js'
import type { EnqueueOptions } from '../src/core/run-options.js'
import type { Attempt, Run } from '../src/core/run.js'
import { storeKinds, type TestStore } from './support/stores.js'
import { parentErrand, ProcessGroup, tearDownProcessTest, tempDir, waitUntil, WorkerPool } from './process/cluster.js'
import { anyRunPending, checkLedger, formatReport, readFinalState, readLedgers } from './process/ledger.js'
import { LEDGER_TASK, type JobPayload, type Outcome, type WorkerProcessConfig } from './process/protocol.js'

const WORKERS = 2
const CONCURRENCY = 3
const HEALTHY = 120
/** Crashed processes' runs come back after a short lease; in-process misbehaviour needs no rescue, so its lease leaves room for a loaded machine. */
const CRASH_TIMING = { leaseMs: 2_000, heartbeatMs: 500, maintenanceMs: 500 }
const CALM_TIMING = { leaseMs: 5_000, heartbeatMs: 500, maintenanceMs: 500 }

interface BadCase {
  outcome: Outcome
  count: number
  payload: JobPayload
  options: EnqueueOptions
  /** What the run's final error must look like. */
  error: { name: string; code?: string; message?: RegExp }
  /** How each of its attempts ends in the store. */
  attemptOutcome: 'failed' | 'lease_expired'
}

const retry = { backoff: 'fixed', initialDelay: '200ms', jitter: false } as const
const timeoutError = { name: 'AttemptTimeoutError', code: 'attempt_timeout' }
const leaseError = { name: 'LeaseExpiredError', code: 'lease_lost' }

/**
 * Handlers that misbehave inside a healthy process. More of them hold a slot for a whole
 * timeout (7) than the two workers have slots (6): if a timed-out handler kept its slot,
 * nothing else would run.
 */
const IN_PROCESS: BadCase[] = [
  { outcome: 'hang', count: 4, payload: { ms: 0, outcome: 'hang' }, options: { maxAttempts: 2, retry, timeout: '1s' }, error: timeoutError, attemptOutcome: 'failed' },
  {
    outcome: 'ignore-abort',
    count: 3,
    payload: { ms: 4_000, outcome: 'ignore-abort' },
    options: { maxAttempts: 2, retry, timeout: '1s' },
    error: timeoutError,
    attemptOutcome: 'failed',
  },
  { outcome: 'throw', count: 1, payload: { ms: 30, outcome: 'throw' }, options: { maxAttempts: 2, retry }, error: { name: 'Error', message: /planned failure/ }, attemptOutcome: 'failed' },
  {
    outcome: 'throw-string',
    count: 1,
    payload: { ms: 30, outcome: 'throw-string' },
    options: { maxAttempts: 2, retry },
    error: { name: 'NonErrorThrown', message: /planned string failure/ },
    attemptOutcome: 'failed',
  },
  {
    outcome: 'throw-undefined',
    count: 1,
    payload: { ms: 30, outcome: 'throw-undefined' },
    options: { maxAttempts: 2, retry },
    error: { name: 'NonErrorThrown', message: /undefined/ },
    attemptOutcome: 'failed',
  },
]

/** Handlers that take their process down: each attempt ends when the lease runs out and a restarted worker rescues it. */
const CRASHING: BadCase[] = [
  { outcome: 'exit', count: 1, payload: { ms: 200, outcome: 'exit' }, options: { maxAttempts: 2, retry }, error: leaseError, attemptOutcome: 'lease_expired' },
  {
    outcome: 'reject-unhandled',
    count: 1,
    payload: { ms: 200, outcome: 'reject-unhandled' },
    options: { maxAttempts: 2, retry },
    error: leaseError,
    attemptOutcome: 'lease_expired',
  },
]

describe.each(storeKinds())('process: misbehaving handlers ($name)', (kind) => {
  let group: ProcessGroup | undefined
  let store: TestStore | undefined
  let errand: Errand | undefined
  let dir: ReturnType<typeof tempDir> | undefined

  afterEach(async () => {
    await tearDownProcessTest({ group, errand, store, dir })
    group = errand = store = dir = undefined
  })

  /** Runs `cases` beside HEALTHY healthy runs on a pool of worker processes; returns what happened. */
  async function scenario(title: string, cases: BadCase[], timing: typeof CALM_TIMING) {
    store = await kind.create()
    const parent = (errand = await parentErrand(store.spec))
    dir = tempDir('errand-misbehaving-')
    const processes = (group = new ProcessGroup())
    const spec = store.spec
    const ledgerDir = dir.path
    const pool = new WorkerPool(
      processes,
      (slot) =>
        ({
          store: spec,
          ledgerDir,
          name: `w${slot}`,
          worker: { concurrency: CONCURRENCY, lease: timing.leaseMs, heartbeatInterval: timing.heartbeatMs, pollInterval: '100ms', maintenanceInterval: timing.maintenanceMs },
          grace: '2s',
        }) satisfies WorkerProcessConfig,
      WORKERS,
    )
    await pool.ready()

    const healthy = (count: number, from: number) =>
      Array.from({ length: count }, (_, i) => ({
        payload: { ms: 20 + ((from + i) % 5) * 10, outcome: 'ok' } satisfies JobPayload,
        // A crash takes the healthy runs in flight on that process with it; they get retried.
        options: { maxAttempts: 20 },
      }))
    const startedAt = Date.now()
    const first = await parent.enqueueMany(LEDGER_TASK, healthy(20, 0))
    const bad = new Map<string, BadCase>()
    for (const badCase of cases) {
      for (let i = 0; i < badCase.count; i++) bad.set((await parent.enqueue(LEDGER_TASK, badCase.payload, badCase.options)).id, badCase)
    }
    const rest = await parent.enqueueMany(LEDGER_TASK, healthy(HEALTHY - 20, 20))
    const healthyIds = [...first, ...rest].map((handle) => handle.id)
    const healthySet = new Set(healthyIds)

    let healthyDoneAt = 0
    await waitUntil(
      'every run to be final',
      async () => {
        if (!healthyDoneAt) {
          const runs = await parent.runs.list({ status: 'completed', limit: 1000 })
          if (runs.runs.filter((run) => healthySet.has(run.id)).length === HEALTHY) healthyDoneAt = Date.now()
        }
        return !(await anyRunPending(parent))
      },
      { timeoutMs: 90_000, describe: () => processes.diagnostics() },
    )
    const doneAt = Date.now()
    const crashes = [...pool.crashes]
    const exits = await pool.stop()

    const { entries } = readLedgers(ledgerDir)
    const final = await readFinalState(parent, entries)
    const acknowledged = [...healthyIds, ...bad.keys()]
    const report = checkLedger({
      acknowledged,
      ledger: entries,
      final,
      deaths: pool.deaths,
      mustComplete: (id) => healthySet.has(id),
      stalls: processes.stalls(),
      timing,
    })
    const badResults = await Promise.all(
      [...bad].map(async ([id, badCase]) => ({ id, badCase, run: final.runs.get(id), attempts: await parent.runs.attempts(id) })),
    )
    console.log(
      formatReport(`${title} ${kind.name}`, report, {
        'bad runs': badResults.map(({ badCase, run, attempts }) => `${badCase.outcome}: ${run?.status} ${run?.error?.name} [${attempts.map((a) => a.outcome).join(',')}]`),
        'process crashes (exit codes)': crashes.map((child) => child.exit?.code),
        'healthy runs done after s': ((healthyDoneAt - startedAt) / 1000).toFixed(1),
        'all runs final after s': ((doneAt - startedAt) / 1000).toFixed(1),
        'worker errors': processes.children.flatMap((child) => child.messagesOf('worker.error')).length,
      }),
    )
    return { report, badResults, crashes, exits, deaths: pool.deaths }
  }

  function expectBadRun(result: { id: string; badCase: BadCase; run: Run | undefined; attempts: Attempt[] }, dead: Set<string>) {
    const { id, badCase, run, attempts } = result
    const label = `${badCase.outcome} run ${id}`
    expect(run?.status, label).toBe('dead_lettered')
    expect(run?.error?.name, label).toBe(badCase.error.name)
    if (badCase.error.code) expect(run?.error?.code, label).toBe(badCase.error.code)
    if (badCase.error.message) expect(run?.error?.message, label).toMatch(badCase.error.message)
    // Retried once, then dead-lettered: both attempts ended, each with its error.
    expect(attempts.map((attempt) => attempt.outcome), label).toEqual([badCase.attemptOutcome, badCase.attemptOutcome])
    for (const attempt of attempts) {
      expect(attempt.error?.name, label).toBe(badCase.error.name)
      if (badCase.attemptOutcome === 'lease_expired') expect(dead.has(attempt.workerId ?? ''), `${label}: its process died`).toBe(true)
    }
  }

  it('times out, retries and dead-letters bad handlers without losing a slot; healthy runs all complete', { timeout: 120_000 }, async () => {
    const { report, badResults, crashes, exits } = await scenario('misbehaving handlers in a healthy process', IN_PROCESS, CALM_TIMING)
    for (const result of badResults) expectBadRun(result, new Set())
    expect(crashes).toEqual([])
    expect(report.lost).toEqual([])
    expect(report.completed).toBe(HEALTHY)
    expect(report.duplicates.explained).toEqual([])
    expect(report.duplicates.unexplained).toEqual([])
    expect(report.falseRescues).toEqual([])
    expect(report.regressions).toEqual([])
    // No slot stayed wedged by a handler that never settled: both workers stop cleanly.
    expect(exits.map((exit) => exit.code)).toEqual([0, 0])
  })

  it('rescues the runs of a process a handler brought down (process.exit, unhandled rejection)', { timeout: 120_000 }, async () => {
    const { report, badResults, crashes, exits, deaths } = await scenario('handlers that end their process', CRASHING, CRASH_TIMING)
    const dead = new Set(deaths.map((death) => death.workerId))
    for (const result of badResults) expectBadRun(result, dead)
    // Each attempt of a crashing run ends its process (unless another crash got there first).
    expect(crashes.length).toBeGreaterThanOrEqual(2)
    expect(crashes.length).toBeLessThanOrEqual(4)
    // 70: the handler's process.exit(70); 1: Node's end of a process on an unhandled rejection.
    expect(crashes.map((child) => child.exit?.code).filter((code) => code !== 70 && code !== 1)).toEqual([])
    expect(report.lost).toEqual([])
    expect(report.completed).toBe(HEALTHY)
    expect(report.duplicates.unexplained).toEqual([])
    expect(report.falseRescues).toEqual([])
    expect(report.regressions).toEqual([])
    expect(exits.every((exit) => exit.code === 0)).toBe(true)
  })
})
