import { describe, expect, it } from 'vitest'
import type { SerializedError } from '../../core/run.js'
import { at, claimAll, insert, newRun, T0, type SuiteContext } from './fixtures.js'

const boom: SerializedError = { name: 'Error', message: 'boom' }

/** Finishing attempts, heartbeats and cancellation, all fenced on (id, running, attempt). */
export function finishSuite({ driver }: SuiteContext): void {
  async function claimedRun() {
    await insert(driver(), [newRun()])
    const [run] = await claimAll(driver())
    if (!run) throw new Error('nothing claimed')
    return run
  }

  describe('finish', () => {
    it('completes a run with its output and an attempt record', async () => {
      const run = await claimedRun()
      const applied = await driver().runFinishMany({
        now: at(2_000),
        results: [{ id: run.id, attempt: 1, workerId: 'w1', outcome: 'completed', outputJson: '{"ok":true}' }],
      })
      expect(applied).toEqual([true])
      const done = await driver().runGet({ id: run.id })
      expect(done).toMatchObject({ status: 'completed', output: { ok: true }, error: null, lockedBy: null, leaseExpiresAt: null })
      expect(done?.completedAt?.toISOString()).toBe(at(2_000).toISOString())
      const attempts = await driver().attemptList({ runId: run.id })
      expect(attempts).toHaveLength(1)
      expect(attempts[0]).toMatchObject({ attempt: 1, workerId: 'w1', outcome: 'completed', error: null })
      expect(attempts[0]?.startedAt.toISOString()).toBe(T0.toISOString())
      expect(attempts[0]?.finishedAt?.toISOString()).toBe(at(2_000).toISOString())
    })

    it('schedules a retry after the delay, then claims it again as attempt 2', async () => {
      const run = await claimedRun()
      await driver().runFinishMany({ now: at(1_000), results: [{ id: run.id, attempt: 1, workerId: 'w1', outcome: 'retry', error: boom, delayMs: 5_000 }] })
      const waiting = await driver().runGet({ id: run.id })
      expect(waiting).toMatchObject({ status: 'scheduled', error: boom, attempt: 1 })
      expect(waiting?.runAt.toISOString()).toBe(at(6_000).toISOString())
      expect(await claimAll(driver(), at(5_999))).toEqual([])
      const [again] = await claimAll(driver(), at(6_000))
      expect(again).toMatchObject({ id: run.id, attempt: 2 })
      const attempts = await driver().attemptList({ runId: run.id })
      expect(attempts.map((a) => a.outcome)).toEqual(['failed', 'running'])
      await driver().runFinishMany({ now: at(7_000), results: [{ id: run.id, attempt: 2, workerId: 'w1', outcome: 'completed', outputJson: '1' }] })
      expect(await driver().runGet({ id: run.id })).toMatchObject({ status: 'completed', attempt: 2, lockedBy: null })
      const finished = await driver().attemptList({ runId: run.id })
      expect(finished.map((a) => [a.attempt, a.outcome, a.workerId, a.startedAt.getTime(), a.finishedAt?.getTime()])).toEqual([
        [1, 'failed', 'w1', T0.getTime(), at(1_000).getTime()],
        [2, 'completed', 'w1', at(6_000).getTime(), at(7_000).getTime()],
      ])
    })

    it('dead-letters a run', async () => {
      const run = await claimedRun()
      await driver().runFinishMany({ now: at(1_000), results: [{ id: run.id, attempt: 1, workerId: 'w1', outcome: 'dead_lettered', error: boom }] })
      expect(await driver().runGet({ id: run.id })).toMatchObject({ status: 'dead_lettered', error: boom })
    })

    it('a released run goes back to the queue without using up an attempt', async () => {
      const run = await claimedRun()
      await driver().runFinishMany({ now: at(1_000), results: [{ id: run.id, attempt: 1, workerId: 'w1', outcome: 'released', error: boom }] })
      const back = await driver().runGet({ id: run.id })
      expect(back).toMatchObject({ status: 'queued', attempt: 1, maxAttempts: 4, lockedBy: null })
      expect((await driver().attemptList({ runId: run.id }))[0]?.outcome).toBe('released')
    })

    it('fences every write on the attempt: a stale result changes nothing', async () => {
      const run = await claimedRun()
      await driver().runFinishMany({ now: at(1_000), results: [{ id: run.id, attempt: 1, workerId: 'w1', outcome: 'retry', error: boom, delayMs: 0 }] })
      await claimAll(driver(), at(1_000), 10, 'w2')
      const applied = await driver().runFinishMany({
        now: at(2_000),
        results: [
          { id: run.id, attempt: 1, workerId: 'w1', outcome: 'completed', outputJson: '"stale"' },
          { id: run.id, attempt: 2, workerId: 'w2', outcome: 'completed', outputJson: '"fresh"' },
          { id: run.id, attempt: 2, workerId: 'w2', outcome: 'completed', outputJson: '"twice"' },
        ],
      })
      expect(applied).toEqual([false, true, false])
      expect(await driver().runGet({ id: run.id })).toMatchObject({ status: 'completed', output: 'fresh', attempt: 2 })
    })

    it('renews leases and reports the ones no longer held', async () => {
      const run = await claimedRun()
      const lost = await driver().runHeartbeat({ now: at(20_000), leaseMs: 30_000, leases: [{ id: run.id, attempt: 1 }, { id: run.id, attempt: 9 }] })
      expect(lost).toEqual([run.id])
      expect((await driver().runGet({ id: run.id }))?.leaseExpiresAt?.toISOString()).toBe(at(50_000).toISOString())
      expect(await driver().runRescueExpired({ now: at(40_000), limit: 10 })).toEqual([])
    })
  })

  describe('cancel', () => {
    it('cancels scheduled and queued runs at once', async () => {
      const [queued, scheduled] = await insert(driver(), [newRun(), newRun({ status: 'scheduled', runAt: at(60_000) })])
      for (const id of [queued, scheduled] as string[]) {
        const result = await driver().runCancel({ id, reason: 'not needed', now: at(1_000) })
        expect(result).toMatchObject({ cancelled: true, run: { status: 'cancelled', cancelReason: 'not needed' } })
      }
      expect(await claimAll(driver(), at(120_000))).toEqual([])
    })

    it('cancelling a running run records the attempt and fences out its worker', async () => {
      const run = await claimedRun()
      expect((await driver().runCancel({ id: run.id, reason: null, now: at(1_000) }))?.cancelled).toBe(true)
      expect(await driver().runHeartbeat({ now: at(2_000), leaseMs: 30_000, leases: [{ id: run.id, attempt: 1 }] })).toEqual([run.id])
      const applied = await driver().runFinishMany({ now: at(2_000), results: [{ id: run.id, attempt: 1, workerId: 'w1', outcome: 'completed', outputJson: '1' }] })
      expect(applied).toEqual([false])
      expect((await driver().runGet({ id: run.id }))?.status).toBe('cancelled')
      expect((await driver().attemptList({ runId: run.id })).map((a) => a.outcome)).toEqual(['cancelled'])
    })

    it('leaves final runs alone and reports unknown ones', async () => {
      const run = await claimedRun()
      await driver().runFinishMany({ now: at(1_000), results: [{ id: run.id, attempt: 1, workerId: 'w1', outcome: 'completed', outputJson: '1' }] })
      expect(await driver().runCancel({ id: run.id, reason: null, now: at(2_000) })).toMatchObject({ cancelled: false, run: { status: 'completed' } })
      expect(await driver().runCancel({ id: '00000000-0000-7000-8000-000000000000', reason: null, now: T0 })).toBeNull()
    })
  })
}
