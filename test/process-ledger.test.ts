/**
 * The ledger checker on hand-made histories: it must find what the process tests rely on it
 * to find (a checker that never reports anything would make them pass vacuously).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Attempt, Run } from '../src/core/run.js'
import { checkLedger, LedgerTail, LedgerWriter, percentile, readLedgers, RunWatcher, type Death, type FinalState } from './process/ledger.js'
import type { LedgerEntry } from './process/protocol.js'

const T0 = 1_700_000_000_000

function run(id: string, status: Run['status'], attempt: number, completedAt: number | null = status === 'running' ? null : T0 + 10_000): Run {
  return {
    id,
    task: 'ledger-task',
    status,
    payload: {},
    output: null,
    error: null,
    attempt,
    maxAttempts: 5,
    priority: 0,
    scheduleKey: null,
    scheduledFor: null,
    concurrencyLimit: null,
    queue: null,
    concurrencyKey: null,
    idempotencyKey: null,
    jobKey: null,
    flags: [],
    metadata: {},
    progress: null,
    runAt: new Date(T0),
    createdAt: new Date(T0),
    startedAt: new Date(T0),
    completedAt: completedAt === null ? null : new Date(completedAt),
    updatedAt: new Date(T0),
    replayOf: null,
    replayReason: null,
    cancelReason: null,
    timeoutMs: null,
    lockedBy: null,
    leaseExpiresAt: null,
  }
}

function attempt(runId: string, n: number, workerId: string, outcome: Attempt['outcome'], startedAt: number): Attempt {
  return { runId, attempt: n, workerId, startedAt: new Date(startedAt), finishedAt: new Date(startedAt + 100), outcome, error: null }
}

function entry(runId: string, n: number, worker: string, event: LedgerEntry['event'], at: number, outcome = 'ok'): LedgerEntry {
  return { runId, attempt: n, pid: Number(worker.slice(1)), worker, event, at, outcome }
}

function state(runs: Run[], attempts: Attempt[] = []): FinalState {
  const byRun = new Map<string, Attempt[]>()
  for (const a of attempts) byRun.set(a.runId, [...(byRun.get(a.runId) ?? []), a])
  return { runs: new Map(runs.map((r) => [r.id, r])), attempts: byRun }
}

const killed = (worker: string, at: number): Death => ({ pid: Number(worker.slice(1)), workerId: worker, at, how: 'SIGKILL' })

describe('ledger checker', () => {
  it('reports nothing for a clean history', () => {
    const report = checkLedger({
      acknowledged: ['a', 'b'],
      ledger: [entry('a', 1, 'w1', 'start', T0), entry('a', 1, 'w1', 'finish', T0 + 50), entry('b', 1, 'w2', 'start', T0), entry('b', 1, 'w2', 'finish', T0 + 60)],
      final: state([run('a', 'completed', 1), run('b', 'completed', 1)]),
    })
    expect(report).toMatchObject({ acknowledged: 2, completed: 2, lost: [], regressions: [], falseRescues: [], heldByDead: 0, starts: 2 })
    expect(report.duplicates).toEqual({ explained: [], stalled: [], unexplained: [] })
  })

  it('counts acknowledged runs that vanished or did not complete as lost', () => {
    const report = checkLedger({
      acknowledged: ['a', 'b', 'c', 'd'],
      ledger: [entry('a', 1, 'w1', 'start', T0), entry('a', 1, 'w1', 'finish', T0 + 1)],
      final: state([run('a', 'completed', 1), run('b', 'queued', 0), run('d', 'dead_lettered', 3)]),
      mustComplete: (id) => id !== 'd',
    })
    expect(report.lost).toEqual([
      { runId: 'b', status: 'queued' },
      { runId: 'c', status: 'missing' },
    ])
  })

  it('explains a duplicate whose earlier start died with its process, and measures recovery', () => {
    const report = checkLedger({
      acknowledged: ['a'],
      ledger: [entry('a', 1, 'w1', 'start', T0), entry('a', 2, 'w2', 'start', T0 + 2_500), entry('a', 2, 'w2', 'finish', T0 + 2_600)],
      final: state([run('a', 'completed', 2)], [attempt('a', 1, 'w1', 'lease_expired', T0), attempt('a', 2, 'w2', 'completed', T0 + 2_500)]),
      deaths: [killed('w1', T0 + 100)],
    })
    expect(report.duplicates.unexplained).toEqual([])
    expect(report.duplicates.explained).toHaveLength(1)
    expect(report.duplicates.explained[0]?.earlier).toMatchObject({ attempt: 1, worker: 'w1', finishedInHandler: false })
    expect(report).toMatchObject({ heldByDead: 1, inHandlerAtDeath: 1, recoveryMs: [2_400], falseRescues: [] })
  })

  it('explains a run that finished in its handler but died before the completion was stored', () => {
    const report = checkLedger({
      acknowledged: ['a'],
      ledger: [entry('a', 1, 'w1', 'start', T0), entry('a', 1, 'w1', 'finish', T0 + 20), entry('a', 2, 'w2', 'start', T0 + 2_500), entry('a', 2, 'w2', 'finish', T0 + 2_600)],
      final: state([run('a', 'completed', 2)], [attempt('a', 1, 'w1', 'lease_expired', T0), attempt('a', 2, 'w2', 'completed', T0 + 2_500)]),
      deaths: [killed('w1', T0 + 30)],
    })
    expect(report.duplicates.explained[0]?.earlier.finishedInHandler).toBe(true)
    expect(report).toMatchObject({ heldByDead: 1, inHandlerAtDeath: 0 })
  })

  it('does not explain a lease lost by a worker that stayed alive', () => {
    const report = checkLedger({
      acknowledged: ['a'],
      ledger: [entry('a', 1, 'w1', 'start', T0), entry('a', 2, 'w2', 'start', T0 + 2_500), entry('a', 2, 'w2', 'finish', T0 + 2_600)],
      final: state([run('a', 'completed', 2)], [attempt('a', 1, 'w1', 'lease_expired', T0), attempt('a', 2, 'w2', 'completed', T0 + 2_500)]),
      deaths: [killed('w3', T0)],
    })
    expect(report.duplicates.unexplained).toHaveLength(1)
    expect(report.falseRescues).toEqual([{ runId: 'a', attempt: 1, workerId: 'w1' }])
  })

  it('puts apart a lease lost by a live worker whose event loop was stalled about as long as the lease', () => {
    const input = {
      acknowledged: ['a'],
      ledger: [entry('a', 1, 'w1', 'start', T0), entry('a', 2, 'w2', 'start', T0 + 2_500), entry('a', 2, 'w2', 'finish', T0 + 2_600)],
      final: state([run('a', 'completed', 2)], [attempt('a', 1, 'w1', 'lease_expired', T0 + 2_300), attempt('a', 2, 'w2', 'completed', T0 + 2_500)]),
      timing: { leaseMs: 2_000, heartbeatMs: 500, maintenanceMs: 500 },
    }
    // The rescue ended attempt 1 at T0 + 2400; w1's loop was blocked 1.8 s just before.
    const stalled = checkLedger({ ...input, stalls: [{ workerId: 'w1', at: T0 + 2_200, ms: 1_800 }] })
    expect(stalled.duplicates.stalled).toHaveLength(1)
    expect(stalled.duplicates.unexplained).toEqual([])
    expect(stalled.falseRescues).toEqual([])
    expect(stalled.stalledRescues).toEqual([{ runId: 'a', attempt: 1, workerId: 'w1', stalledMs: 1_800 }])
    // A short stall, or one on another worker, or long before, explains nothing.
    for (const stalls of [[{ workerId: 'w1', at: T0 + 2_200, ms: 600 }], [{ workerId: 'w2', at: T0 + 2_200, ms: 1_800 }], [{ workerId: 'w1', at: T0 - 5_000, ms: 1_800 }]]) {
      const report = checkLedger({ ...input, stalls })
      expect(report.duplicates.unexplained).toHaveLength(1)
      expect(report.falseRescues).toHaveLength(1)
    }
  })

  it('flags the same attempt started twice, whatever died', () => {
    const report = checkLedger({
      acknowledged: ['a'],
      ledger: [entry('a', 1, 'w1', 'start', T0), entry('a', 1, 'w2', 'start', T0 + 5), entry('a', 1, 'w2', 'finish', T0 + 50)],
      final: state([run('a', 'completed', 1)]),
      deaths: [killed('w1', T0 + 10)],
    })
    expect(report.duplicates.unexplained.map((d) => d.reason)).toEqual([expect.stringContaining('same attempt')])
  })

  it('treats a start after a failed or released attempt as a retry, not a duplicate', () => {
    const report = checkLedger({
      acknowledged: ['a', 'b'],
      ledger: [
        entry('a', 1, 'w1', 'start', T0),
        entry('a', 1, 'w1', 'finish', T0 + 10, 'throw'),
        entry('a', 2, 'w1', 'start', T0 + 500),
        entry('a', 2, 'w1', 'finish', T0 + 510),
        entry('b', 1, 'w1', 'start', T0),
        entry('b', 1, 'w1', 'finish', T0 + 10, 'aborted'),
        entry('b', 2, 'w2', 'start', T0 + 500),
        entry('b', 2, 'w2', 'finish', T0 + 510),
      ],
      final: state(
        [run('a', 'completed', 2), run('b', 'completed', 2)],
        [attempt('a', 1, 'w1', 'failed', T0), attempt('a', 2, 'w1', 'completed', T0 + 500), attempt('b', 1, 'w1', 'released', T0), attempt('b', 2, 'w2', 'completed', T0 + 500)],
      ),
    })
    expect(report.duplicates).toEqual({ explained: [], stalled: [], unexplained: [] })
    expect(report.regressions).toEqual([])
  })

  it('finds state regressions: a start after completion, a completion no handler made, a final status that changed', () => {
    const report = checkLedger({
      acknowledged: ['a', 'b', 'c'],
      ledger: [
        entry('a', 1, 'w1', 'start', T0),
        entry('a', 1, 'w1', 'finish', T0 + 10),
        entry('a', 2, 'w2', 'start', T0 + 500),
        entry('a', 2, 'w2', 'finish', T0 + 510),
        entry('b', 1, 'w1', 'start', T0),
        entry('b', 1, 'w1', 'finish', T0 + 10, 'throw'),
      ],
      final: state(
        [run('a', 'completed', 2, T0 + 20), run('b', 'completed', 1), run('c', 'completed', 1)],
        [attempt('a', 1, 'w1', 'completed', T0), attempt('a', 2, 'w2', 'completed', T0 + 500)],
      ),
      observed: [{ runId: 'c', kind: 'final-changed', detail: 'seen completed, then queued' }],
    })
    const kinds = report.regressions.map((r) => `${r.runId}:${r.kind}`).sort()
    expect(kinds).toEqual(['a:attempt-after-completed', 'a:start-after-final', 'b:completion-without-handler', 'c:completion-without-handler', 'c:final-changed'])
    expect(report.duplicates.unexplained.map((d) => d.runId)).toEqual(['a'])
  })

  it('RunWatcher reports a final status that changes', () => {
    const watcher = new RunWatcher(undefined as never)
    watcher.observe('a', 'running', 1)
    watcher.observe('a', 'completed', 2)
    watcher.observe('a', 'completed', 3)
    watcher.observe('b', 'dead_lettered', 2)
    watcher.observe('b', 'queued', 3)
    expect(watcher.regressions.map((r) => r.runId)).toEqual(['b'])
  })

  it('writes, tails and reads ledgers; a torn last line is reported, not parsed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'errand-ledger-'))
    try {
      const writer = new LedgerWriter(join(dir, 'worker-1.jsonl'))
      const tail = new LedgerTail(dir)
      writer.append(entry('a', 1, 'w1', 'start', T0))
      tail.poll()
      expect(tail.inFlight('w1')).toBe(1)
      writer.append(entry('a', 1, 'w1', 'finish', T0 + 1))
      writer.close()
      tail.poll()
      expect(tail.inFlight('w1')).toBe(0)
      expect([tail.starts, tail.finishes, tail.startedRuns.size]).toEqual([1, 1, 1])
      writeFileSync(join(dir, 'worker-2.jsonl'), `${JSON.stringify(entry('b', 1, 'w2', 'start', T0))}\n{"runId":"b","att`)
      const { entries, torn } = readLedgers(dir)
      expect(entries).toHaveLength(3)
      expect(torn).toEqual([{ file: 'worker-2.jsonl', line: '{"runId":"b","att', last: true }])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('percentile', () => {
    expect(percentile([], 50)).toBeNull()
    expect(percentile([1, 2, 3, 4], 50)).toBe(2)
    expect(percentile([1, 2, 3, 4], 99)).toBe(4)
  })
})
