import { describe, expect, it } from 'vitest'
import type { RunRecord, StoreDriver } from '../driver.js'
import { at, claimAll, finishOne, insert, newRun, T0, type SuiteContext } from './fixtures.js'

const boom = { name: 'Error', message: 'boom' }

async function running(driver: StoreDriver): Promise<RunRecord[]> {
  return (await driver.runList({ limit: 1000, status: ['running'] })).runs
}

/** Most runs sharing a value of `field` among the running ones. */
async function mostRunningPer(driver: StoreDriver, field: 'queue' | 'concurrencyKey'): Promise<number> {
  const counts = new Map<string, number>()
  for (const run of await running(driver)) {
    const value = run[field]
    if (value !== null) counts.set(value, (counts.get(value) ?? 0) + 1)
  }
  return Math.max(0, ...counts.values())
}

/** Serial queues and concurrency keys, as the claim enforces them. */
export function queueSuite({ driver, another }: SuiteContext): void {
  describe('serial queues', () => {
    it('gives one run of a queue at a time, in priority then time order; other queues and plain runs go on', async () => {
      const [late, high, , otherQueue, plain] = await insert(driver(), [
        newRun({ queue: 'q', runAt: at(-1_000) }),
        newRun({ queue: 'q', priority: -1 }),
        newRun({ queue: 'q', runAt: at(-2_000) }),
        newRun({ queue: 'other' }),
        newRun(),
      ])
      const first = await claimAll(driver())
      expect(new Set(first.map((r) => r.id))).toEqual(new Set([high, otherQueue, plain]))
      expect(await claimAll(driver(), at(1))).toEqual([])
      await finishOne(driver(), first.find((r) => r.id === high)!, { outcome: 'completed', outputJson: '1' })
      const [second] = await claimAll(driver(), at(2))
      expect(second?.runAt.toISOString()).toBe(at(-2_000).toISOString())
      await finishOne(driver(), second!, { outcome: 'completed', outputJson: '1' })
      expect((await claimAll(driver(), at(3))).map((r) => r.id)).toEqual([late])
    })

    it('a claim limited to some queues takes runs of those queues only, in queue order', async () => {
      const [a1, a2, b1, plain] = await insert(driver(), [newRun({ queue: 'a' }), newRun({ queue: 'a' }), newRun({ queue: 'b' }), newRun()])
      const claim = (queues: string[] | null, workerId: string, now = T0) =>
        driver().runClaim({ workerId, tasks: ['task-a'], limit: 10, leaseMs: 30_000, now, queues })
      expect((await claim(['a', 'missing'], 'w1')).map((r) => r.id)).toEqual([a1])
      expect((await claim(['a'], 'w2')).map((r) => r.id)).toEqual([]) // the queue is held by a1
      expect((await claim(null, 'w3')).map((r) => r.id).sort()).toEqual([b1, plain].sort())
      const [held] = await driver().runList({ limit: 10, status: ['running'], queue: 'a' }).then((page) => page.runs)
      await finishOne(driver(), held!, { outcome: 'completed', outputJson: '1' })
      expect((await claim(['a'], 'w4', at(1))).map((r) => r.id)).toEqual([a2])
    })

    it('a run waiting for its retry keeps the queue: later runs do not overtake it', async () => {
      const [failing, next] = await insert(driver(), [newRun({ queue: 'q' }), newRun({ queue: 'q', priority: -5, runAt: at(10) })])
      const [run] = await claimAll(driver())
      expect(run?.id).toBe(failing)
      await finishOne(driver(), run!, { outcome: 'retry', error: boom, delayMs: 5_000 }, at(100))
      expect(await claimAll(driver(), at(1_000))).toEqual([])
      const [again] = await claimAll(driver(), at(5_100))
      expect(again).toMatchObject({ id: failing, attempt: 2 })
      await finishOne(driver(), again!, { outcome: 'completed', outputJson: '1' }, at(5_200))
      expect((await claimAll(driver(), at(5_300))).map((r) => r.id)).toEqual([next])
    })

    it('a released or rescued run keeps the queue and goes first; a final one lets it go', async () => {
      const [a, b, c] = await insert(driver(), [newRun({ queue: 'q' }), newRun({ queue: 'q' }), newRun({ queue: 'q' })])
      const [first] = await claimAll(driver())
      await finishOne(driver(), first!, { outcome: 'released', error: boom })
      const [again] = await claimAll(driver(), at(1))
      expect(again).toMatchObject({ id: a, attempt: 2 })
      // Its worker vanishes: rescued to queued, it still holds the queue.
      await driver().runRescueExpired({ now: at(60_000), limit: 10 })
      const [rescued] = await claimAll(driver(), at(60_001))
      expect(rescued).toMatchObject({ id: a, attempt: 3 })
      await finishOne(driver(), rescued!, { outcome: 'dead_lettered', error: boom }, at(60_002))
      const [second] = await claimAll(driver(), at(60_003))
      expect(second?.id).toBe(b)
      await driver().runCancel({ id: b as string, reason: null, now: at(60_004) })
      expect((await claimAll(driver(), at(60_005))).map((r) => r.id)).toEqual([c])
    })

    it('waits for a worker that can take the queue head rather than run out of order', async () => {
      const [head, next] = await insert(driver(), [newRun({ queue: 'q', task: 'other' }), newRun({ queue: 'q' })])
      expect(await claimAll(driver())).toEqual([])
      const [taken] = await driver().runClaim({ workerId: 'w2', tasks: ['other'], limit: 5, leaseMs: 30_000, now: T0 })
      expect(taken?.id).toBe(head)
      await finishOne(driver(), taken!, { outcome: 'completed', outputJson: '1' })
      expect((await claimAll(driver(), at(1))).map((r) => r.id)).toEqual([next])
    })

    it('a pending run that is cancelled does not hold its queue', async () => {
      const [a, b] = await insert(driver(), [newRun({ queue: 'q' }), newRun({ queue: 'q' })])
      await driver().runCancel({ id: a as string, reason: null, now: T0 })
      expect((await claimAll(driver())).map((r) => r.id)).toEqual([b])
    })

    it('never runs two of a queue at once under concurrent claimers, and keeps each queue in order', async () => {
      const queues = ['q0', 'q1', 'q2', 'q3', 'q4', 'q5']
      const ids = await insert(
        driver(),
        Array.from({ length: 72 }, (_, i) => newRun({ queue: queues[i % queues.length] as string, runAt: at(i) })),
        at(0),
      )
      const started = new Map<string, string[]>()
      const claimers = [driver(), another(), another(), another()]
      let now = 1_000
      for (let round = 0; round < 40; round++) {
        const batches = await Promise.all(claimers.map((d, i) => claimAll(d, at(now), 5, `w${i}`)))
        for (const run of batches.flat()) started.set(run.queue as string, [...(started.get(run.queue as string) ?? []), run.id])
        expect(await mostRunningPer(driver(), 'queue')).toBeLessThanOrEqual(1)
        for (const run of batches.flat()) await finishOne(driver(), run, { outcome: 'completed', outputJson: '1' }, at(now))
        now += 10
      }
      for (const [index, queue] of queues.entries()) {
        expect(started.get(queue)).toEqual(ids.filter((_, i) => i % queues.length === index))
      }
    })
  })

  describe('concurrency keys', () => {
    const keyedRun = (limit: number, overrides = {}) => newRun({ concurrencyKey: 'k', concurrencyLimit: limit, ...overrides })

    it('runs at most the limit of a key at once; the others wait and none is lost', async () => {
      await insert(driver(), [...Array.from({ length: 5 }, () => keyedRun(2)), newRun()])
      const first = await claimAll(driver())
      expect(first.filter((r) => r.concurrencyKey === 'k')).toHaveLength(2)
      expect(first).toHaveLength(3)
      expect(await claimAll(driver(), at(1))).toEqual([])
      await finishOne(driver(), first.find((r) => r.concurrencyKey === 'k')!, { outcome: 'completed', outputJson: '1' })
      expect(await claimAll(driver(), at(2))).toHaveLength(1)
    })

    it('a run leaving running by any path frees its place: retry, release, cancel, rescue, dead letter', async () => {
      await insert(driver(), Array.from({ length: 6 }, () => keyedRun(1)))
      const endings = [
        async (run: RunRecord, now: Date) => finishOne(driver(), run, { outcome: 'retry', error: boom, delayMs: 1e9 }, now),
        async (run: RunRecord, now: Date) => finishOne(driver(), run, { outcome: 'released', error: boom }, now),
        async (run: RunRecord, now: Date) => driver().runCancel({ id: run.id, reason: null, now }),
        async (_run: RunRecord, now: Date) => driver().runRescueExpired({ now: new Date(now.getTime() + 60_000), limit: 10 }),
        async (run: RunRecord, now: Date) => finishOne(driver(), run, { outcome: 'dead_lettered', error: boom }, now),
      ]
      let now = 0
      for (const end of endings) {
        const claimed = await claimAll(driver(), at(now))
        expect(claimed).toHaveLength(1)
        expect(await claimAll(driver(), at(now + 1))).toEqual([])
        await end(claimed[0]!, at(now + 2))
        now += 100_000
      }
      expect(await claimAll(driver(), at(now))).toHaveLength(1)
    })

    it('each run starts only while fewer than its own limit run', async () => {
      await insert(driver(), [keyedRun(3, { priority: 1 }), keyedRun(1, { priority: 2 }), keyedRun(3, { priority: 3 })])
      const first = await claimAll(driver())
      expect(first.map((r) => r.priority)).toEqual([1])
      const second = await claimAll(driver(), at(1))
      expect(second.map((r) => r.priority)).toEqual([3])
    })

    it('a run with a queue and a key needs both', async () => {
      const [a] = await insert(driver(), [newRun({ queue: 'q', concurrencyKey: 'k', concurrencyLimit: 5 }), keyedRun(1)])
      expect((await claimAll(driver())).map((r) => r.id)).toEqual([a])
      // The key is full for the second run (limit 1), and the queue is taken for the third.
      expect(await claimAll(driver(), at(1))).toEqual([])
      await insert(driver(), [newRun({ queue: 'q' })], at(2))
      expect(await claimAll(driver(), at(3))).toEqual([])
    })

    it('never exceeds the limit under concurrent claimers', async () => {
      await insert(driver(), Array.from({ length: 60 }, (_, i) => keyedRun(3, { concurrencyKey: `k${i % 2}` })))
      const claimers = [driver(), another(), another(), another()]
      let done = 0
      for (let round = 0; round < 40 && done < 60; round++) {
        const batches = await Promise.all(claimers.map((d, i) => claimAll(d, at(round * 10), 10, `w${i}`)))
        expect(await mostRunningPer(driver(), 'concurrencyKey')).toBeLessThanOrEqual(3)
        for (const run of batches.flat()) await finishOne(driver(), run, { outcome: 'completed', outputJson: '1' }, at(round * 10 + 1))
        done += batches.flat().length
      }
      expect(done).toBe(60)
    })
  })
}
