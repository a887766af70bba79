import { describe, expect, it } from 'vitest'
import { at, claimAll, insert, newRun, T0, type SuiteContext } from './fixtures.js'

/** Durable steps, progress and logs, fenced on the attempt like every other write. */
export function stepsSuite({ driver }: SuiteContext): void {
  async function claimedRun() {
    await insert(driver(), [newRun()])
    const [run] = await claimAll(driver())
    if (!run) throw new Error('nothing claimed')
    return run
  }

  describe('steps, progress and logs', () => {
    it('saves steps in order, fenced on the attempt, first result standing', async () => {
      const run = await claimedRun()
      const base = { runId: run.id, attempt: 1, kind: 'run' as const, wakeAt: null }
      expect(await driver().stepSave({ ...base, name: 'fetch', outputJson: '[1,2]', now: at(10) })).toBe(true)
      expect(await driver().stepSave({ ...base, name: 'fetch', outputJson: '"again"', now: at(20) })).toBe(false)
      expect(await driver().stepSave({ ...base, name: 'stale', attempt: 2, outputJson: '1', now: at(20) })).toBe(false)
      expect(await driver().stepSave({ ...base, kind: 'sleep', name: 'nap', outputJson: 'null', wakeAt: at(60_000), now: at(30) })).toBe(true)
      const steps = await driver().stepList({ runId: run.id })
      expect(steps.map((s) => [s.name, s.kind, s.attempt, s.output])).toEqual([
        ['fetch', 'run', 1, [1, 2]],
        ['nap', 'sleep', 1, null],
      ])
      expect(steps[1]?.wakeAt?.toISOString()).toBe(at(60_000).toISOString())
      expect(steps[0]?.completedAt.toISOString()).toBe(at(10).toISOString())
    })

    it('a durable sleep schedules the run without using up an attempt', async () => {
      const run = await claimedRun()
      const [applied] = await driver().runFinishMany({ now: at(100), results: [{ id: run.id, attempt: 1, workerId: 'w1', outcome: 'sleep', runAt: at(5_000) }] })
      expect(applied).toBe(true)
      expect(await driver().runGet({ id: run.id })).toMatchObject({ status: 'scheduled', attempt: 1, maxAttempts: 4, lockedBy: null })
      expect((await driver().attemptList({ runId: run.id })).map((a) => a.outcome)).toEqual(['slept'])
      expect(await claimAll(driver(), at(4_999))).toEqual([])
      expect((await claimAll(driver(), at(5_000)))[0]).toMatchObject({ id: run.id, attempt: 2 })
    })

    it('sets progress only while the attempt holds the run', async () => {
      const run = await claimedRun()
      expect(await driver().runProgressSet({ id: run.id, attempt: 1, progressJson: '{"done":3,"of":10}', now: at(5) })).toBe(true)
      expect((await driver().runGet({ id: run.id }))?.progress).toEqual({ done: 3, of: 10 })
      expect(await driver().runProgressSet({ id: run.id, attempt: 2, progressJson: '99', now: at(6) })).toBe(false)
      expect((await driver().runGet({ id: run.id }))?.progress).toEqual({ done: 3, of: 10 })
    })

    it('appends logs and lists the newest, oldest first', async () => {
      const run = await claimedRun()
      const entries = Array.from({ length: 5 }, (_, i) => ({
        runId: run.id,
        attempt: 1,
        at: at(i),
        level: i === 4 ? ('error' as const) : ('info' as const),
        message: `line ${i}`,
        dataJson: JSON.stringify({ i }),
      }))
      await driver().logAppend({ entries })
      expect((await driver().logList({ runId: run.id, limit: 100 })).map((l) => l.message)).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4'])
      const newest = await driver().logList({ runId: run.id, limit: 2 })
      expect(newest.map((l) => [l.message, l.level, l.data])).toEqual([
        ['line 3', 'info', { i: 3 }],
        ['line 4', 'error', { i: 4 }],
      ])
    })

    it('pruning a run removes its steps and logs', async () => {
      const run = await claimedRun()
      await driver().stepSave({ runId: run.id, attempt: 1, name: 's', kind: 'run', outputJson: '1', wakeAt: null, now: T0 })
      await driver().logAppend({ entries: [{ runId: run.id, attempt: 1, at: T0, level: 'info', message: 'm', dataJson: 'null' }] })
      await driver().runFinishMany({ now: at(1), results: [{ id: run.id, attempt: 1, workerId: 'w1', outcome: 'completed', outputJson: '1' }] })
      expect(await driver().runPrune({ finishedBefore: at(10), limit: 10 })).toBe(1)
      expect(await driver().stepList({ runId: run.id })).toEqual([])
      expect(await driver().logList({ runId: run.id, limit: 10 })).toEqual([])
    })
  })
}
