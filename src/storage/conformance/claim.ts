import { describe, expect, it } from 'vitest'
import { at, claimAll, insert, newRun, T0, type SuiteContext } from './fixtures.js'

/** Claiming due runs: order, filters, leases, and no double claims under concurrency. */
export function claimSuite({ driver, another }: SuiteContext): void {
  describe('claim', () => {
    it('claims due runs only, by priority then time, and leases them', async () => {
      const [late, low, high, future] = await insert(driver(), [
        newRun({ runAt: at(-1_000) }),
        newRun({ priority: 5, runAt: at(-5_000) }),
        newRun({ priority: -1 }),
        newRun({ status: 'scheduled', runAt: at(60_000) }),
      ])
      const claimed = await driver().runClaim({ workerId: 'w1', tasks: ['task-a'], limit: 10, leaseMs: 30_000, now: T0 })
      expect(claimed.map((r) => r.id)).toEqual([high, late, low])
      for (const run of claimed) {
        expect(run).toMatchObject({ status: 'running', attempt: 1, lockedBy: 'w1' })
        expect(run.leaseExpiresAt?.toISOString()).toBe(at(30_000).toISOString())
        expect(run.startedAt?.toISOString()).toBe(T0.toISOString())
      }
      expect((await driver().runGet({ id: future as string }))?.status).toBe('scheduled')
    })

    it('claims a scheduled run once its time has come', async () => {
      const [id] = await insert(driver(), [newRun({ status: 'scheduled', runAt: at(5_000) })])
      expect(await claimAll(driver(), at(4_999))).toEqual([])
      const [run] = await claimAll(driver(), at(5_000))
      expect(run?.id).toBe(id)
    })

    it('respects the limit and the task filter', async () => {
      await insert(driver(), [...Array.from({ length: 5 }, () => newRun()), newRun({ task: 'task-b' }), newRun({ task: 'other' })])
      expect(await driver().runClaim({ workerId: 'w', tasks: ['task-a'], limit: 2, leaseMs: 1_000, now: T0 })).toHaveLength(2)
      const onlyB = await driver().runClaim({ workerId: 'w', tasks: ['task-b'], limit: 10, leaseMs: 1_000, now: T0 })
      expect(onlyB.map((r) => r.task)).toEqual(['task-b'])
      expect(await driver().runClaim({ workerId: 'w', tasks: [], limit: 10, leaseMs: 1_000, now: T0 })).toEqual([])
      expect(await driver().runClaim({ workerId: 'w', tasks: ['task-a'], limit: 0, leaseMs: 1_000, now: T0 })).toEqual([])
    })

    it('never hands one run to two claimers at once', async () => {
      const ids = await insert(driver(), Array.from({ length: 200 }, () => newRun()))
      const claimers = [driver(), another(), another(), another()]
      const batches = await Promise.all(
        Array.from({ length: 24 }, (_, i) => claimAll(claimers[i % claimers.length] as never, T0, 10, `w${i}`)),
      )
      const claimed = batches.flat().map((r) => r.id)
      expect(new Set(claimed).size).toBe(claimed.length)
      expect(claimed.length).toBe(Math.min(200, 240))
      expect(new Set(claimed)).toEqual(new Set(ids))
    })

    it('does not claim running or final runs again', async () => {
      await insert(driver(), [newRun()])
      const [first] = await claimAll(driver())
      expect(first).toBeDefined()
      expect(await claimAll(driver(), at(1_000))).toEqual([])
    })
  })
}
