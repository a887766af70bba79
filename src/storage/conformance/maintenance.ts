import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isFinalStatus } from '../../core/run-state.js'
import { at, claimAll, insert, newRun, T0, type SuiteContext } from './fixtures.js'

/** Promotion of due runs, rescue of expired leases, pruning, and the rescue/finish race. */
export function maintenanceSuite({ driver }: SuiteContext): void {
  describe('maintenance', () => {
    it('promotes due scheduled runs to queued, and only those', async () => {
      const [due, later] = await insert(driver(), [
        newRun({ status: 'scheduled', runAt: at(1_000) }),
        newRun({ status: 'scheduled', runAt: at(9_000) }),
      ])
      expect(await driver().runPromoteDue({ now: at(5_000), limit: 100 })).toBe(1)
      expect((await driver().runGet({ id: due as string }))?.status).toBe('queued')
      expect((await driver().runGet({ id: later as string }))?.status).toBe('scheduled')
    })

    it('rescues runs whose lease expired: queued again, or dead-lettered on the last attempt', async () => {
      const [retryable, lastTry] = await insert(driver(), [newRun({ maxAttempts: 3 }), newRun({ maxAttempts: 1 })])
      await driver().runClaim({ workerId: 'dead', tasks: ['task-a'], limit: 10, leaseMs: 10_000, now: T0 })
      expect(await driver().runRescueExpired({ now: at(9_999), limit: 10 })).toEqual([])
      const rescued = await driver().runRescueExpired({ now: at(10_001), limit: 10 })
      expect(new Map(rescued.map((r) => [r.id, r.status]))).toEqual(
        new Map([
          [retryable, 'queued'],
          [lastTry, 'dead_lettered'],
        ]),
      )
      expect(await driver().runGet({ id: retryable as string })).toMatchObject({ status: 'queued', lockedBy: null, error: { code: 'lease_lost' } })
      expect((await driver().attemptList({ runId: retryable as string })).map((a) => [a.outcome, a.workerId])).toEqual([['lease_expired', 'dead']])
      const [again] = await claimAll(driver(), at(10_002))
      expect(again).toMatchObject({ id: retryable, attempt: 2 })
    })

    it('prunes final runs that finished before the horizon, with their attempts', async () => {
      const [old, recent, pending] = await insert(driver(), [newRun(), newRun(), newRun({ status: 'scheduled', runAt: at(1e9) })])
      const claimed = await claimAll(driver())
      await driver().runFinishMany({
        now: at(1_000),
        results: claimed.filter((r) => r.id === old).map((r) => ({ id: r.id, attempt: 1, workerId: 'w1', outcome: 'completed' as const, outputJson: '1' })),
      })
      await driver().runFinishMany({
        now: at(50_000),
        results: claimed.filter((r) => r.id === recent).map((r) => ({ id: r.id, attempt: 1, workerId: 'w1', outcome: 'completed' as const, outputJson: '1' })),
      })
      expect(await driver().runPrune({ finishedBefore: at(10_000), limit: 100 })).toBe(1)
      expect(await driver().runGet({ id: old as string })).toBeNull()
      expect(await driver().attemptList({ runId: old as string })).toEqual([])
      expect(await driver().runGet({ id: recent as string })).not.toBeNull()
      expect(await driver().runGet({ id: pending as string })).not.toBeNull()
    })

    it('a rescue never overwrites a completion, nor a newer attempt (property over interleavings)', async () => {
      type Step = { kind: 'claim' | 'heartbeat' | 'finish-current' | 'finish-stale' | 'rescue' | 'cancel'; advance: number }
      const step = fc.record({
        kind: fc.constantFrom('claim', 'heartbeat', 'finish-current', 'finish-stale', 'rescue', 'cancel') as fc.Arbitrary<Step['kind']>,
        advance: fc.integer({ min: 0, max: 3_000 }),
      })
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
          const [id] = (await insert(driver(), [newRun({ maxAttempts: 100 })])) as [string]
          let now = T0.getTime()
          let lastAttempt = 0
          let finalSeen: string | null = null
          for (const { kind, advance } of steps) {
            now += advance
            const current = await driver().runGet({ id })
            if (!current) throw new Error('run vanished')
            const nowDate = new Date(now)
            if (kind === 'claim') await driver().runClaim({ workerId: 'w', tasks: ['task-a'], limit: 1, leaseMs: 2_000, now: nowDate })
            if (kind === 'heartbeat') await driver().runHeartbeat({ leases: [{ id, attempt: current.attempt }], leaseMs: 2_000, now: nowDate })
            if (kind === 'rescue') await driver().runRescueExpired({ now: nowDate, limit: 10 })
            if (kind === 'cancel') await driver().runCancel({ id, reason: null, now: nowDate })
            if (kind === 'finish-current' || kind === 'finish-stale') {
              const attempt = kind === 'finish-current' ? current.attempt : current.attempt - 1
              const [applied] = await driver().runFinishMany({ now: nowDate, results: [{ id, attempt, workerId: 'w', outcome: 'completed', outputJson: '1' }] })
              if (applied) expect(current.status === 'running' && kind === 'finish-current').toBe(true)
            }
            const after = await driver().runGet({ id })
            if (!after) throw new Error('run vanished')
            expect(after.attempt).toBeGreaterThanOrEqual(lastAttempt)
            lastAttempt = after.attempt
            if (finalSeen) expect(after.status).toBe(finalSeen)
            if (isFinalStatus(after.status)) finalSeen = after.status
          }
        }),
        { numRuns: 60 },
      )
    })
  })
}
