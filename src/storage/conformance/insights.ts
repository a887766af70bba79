import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { RunCountRow, StoreDriver } from '../driver.js'
import { at, claimAll, idAt, insert, newRun, T0, type SuiteContext } from './fixtures.js'

/** Counts as a map "task|queue|status" -> n, for readable comparisons. */
async function countsOf(driver: StoreDriver): Promise<Record<string, number>> {
  const rows: RunCountRow[] = await driver.runCountByStatus()
  return Object.fromEntries(rows.map((row) => [`${row.task}|${row.queue ?? ''}|${row.status}`, row.count]))
}

/** What the counters must say: the same counts computed from the runs themselves. */
async function countedFromRuns(driver: StoreDriver): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (let cursor: string | undefined; ; ) {
    const page = await driver.runList({ limit: 1000, cursor })
    for (const run of page.runs) {
      const key = `${run.task}|${run.queue ?? ''}|${run.status}`
      out[key] = (out[key] ?? 0) + 1
    }
    if (!page.nextCursor) return out
    cursor = page.nextCursor
  }
}

/** Run counters, creation-time ranges, the activity buckets and the change feed. */
export function insightsSuite({ driver, another }: SuiteContext): void {
  describe('counts, ranges, activity and changes', () => {
    it('counts follow inserts, claims, completions, retries, cancels and prunes, across drivers', async () => {
      const ids = await insert(driver(), [newRun(), newRun(), newRun({ task: 'task-b' }), newRun({ status: 'scheduled', runAt: at(1e9) })])
      expect(await countsOf(driver())).toEqual({ 'task-a||queued': 2, 'task-a||scheduled': 1, 'task-b||queued': 1 })
      const claimed = await claimAll(another(), T0, 2)
      expect(await countsOf(driver())).toMatchObject({ 'task-a||running': 2 })
      const [first, second] = claimed
      await driver().runFinishMany({
        now: at(10),
        results: [
          { id: first!.id, attempt: 1, workerId: 'w1', outcome: 'completed', outputJson: '1' },
          { id: second!.id, attempt: 1, workerId: 'w1', outcome: 'retry', error: { name: 'E', message: 'x' }, delayMs: 5 },
        ],
      })
      await driver().runCancel({ id: ids[3] as string, reason: null, now: at(20) })
      await driver().runPrune({ finishedBefore: at(15), limit: 10 })
      expect(await countsOf(driver())).toEqual(await countedFromRuns(driver()))
      expect(Object.values(await countsOf(driver())).reduce((a, b) => a + b, 0)).toBe(3)
    })

    it('counters equal the runs after any sequence of operations (property)', async () => {
      const op = fc.constantFrom('insert', 'insert-later', 'claim', 'complete', 'retry', 'dead', 'cancel', 'promote', 'prune')
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
          const d = driver()
          let now = T0.getTime() + 1e7 * Math.random()
          for (const kind of ops) {
            now += 100
            const time = new Date(now)
            if (kind === 'insert' || kind === 'insert-later') {
              const later = kind === 'insert-later'
              await insert(d, [newRun({ task: Math.random() < 0.5 ? 'task-a' : 'task-b', status: later ? 'scheduled' : 'queued', runAt: new Date(now + (later ? 50 : 0)), id: idAt(now) })], time)
            } else if (kind === 'claim') await claimAll(d, time, 2)
            else if (kind === 'promote') await d.runPromoteDue({ now: time, limit: 10 })
            else if (kind === 'prune') await d.runPrune({ finishedBefore: time, limit: 10 })
            else if (kind === 'cancel') {
              const [run] = (await d.runList({ limit: 1, status: ['queued', 'scheduled', 'running'] })).runs
              if (run) await d.runCancel({ id: run.id, reason: null, now: time })
            } else {
              const [run] = (await d.runList({ limit: 1, status: ['running'] })).runs
              if (!run) continue
              const lease = { id: run.id, attempt: run.attempt, workerId: 'w1' }
              const error = { name: 'E', message: 'x' }
              const result =
                kind === 'complete' ? { ...lease, outcome: 'completed' as const, outputJson: '1' }
                : kind === 'retry' ? { ...lease, outcome: 'retry' as const, error, delayMs: 10 }
                : { ...lease, outcome: 'dead_lettered' as const, error }
              await d.runFinishMany({ now: time, results: [result] })
            }
          }
          expect(await countsOf(d)).toEqual(await countedFromRuns(d))
        }),
        { numRuns: 15 },
      )
    })

    it('lists a creation-time range, newest first, with filters and paging', async () => {
      const runs = [0, 1_000, 2_000, 3_000, 4_000].map((offset) => newRun({ id: idAt(T0.getTime() + offset), task: offset === 2_000 ? 'task-b' : 'task-a' }))
      for (const [index, run] of runs.entries()) await insert(driver(), [run], at(index * 1_000))
      const range = await driver().runList({ limit: 10, createdFrom: at(1_000), createdBefore: at(4_000) })
      expect(range.runs.map((run) => run.id)).toEqual([runs[3]!.id, runs[2]!.id, runs[1]!.id])
      const filtered = await driver().runList({ limit: 10, task: 'task-a', createdFrom: at(1_000) })
      expect(filtered.runs.map((run) => run.id)).toEqual([runs[4]!.id, runs[3]!.id, runs[1]!.id])
      const first = await driver().runList({ limit: 2, createdBefore: at(4_000) })
      expect(first.runs.map((run) => run.id)).toEqual([runs[3]!.id, runs[2]!.id])
      const next = await driver().runList({ limit: 2, createdBefore: at(4_000), cursor: first.nextCursor ?? undefined })
      expect(next.runs.map((run) => run.id)).toEqual([runs[1]!.id, runs[0]!.id])
      expect(next.nextCursor).toBeNull()
      expect((await driver().runList({ limit: 10, createdFrom: at(5_000) })).runs).toEqual([])
    })

    it('pages through several statuses in id order, merged from one range per status', async () => {
      const runs = Array.from({ length: 9 }, (_, i) =>
        newRun({ id: idAt(T0.getTime() + i), task: i % 2 ? 'task-a' : 'task-b', status: i % 3 === 0 ? 'scheduled' : 'queued', runAt: i % 3 === 0 ? at(1e9) : T0 }),
      )
      await insert(driver(), runs)
      await driver().runCancel({ id: runs[4]!.id, reason: null, now: T0 })
      const expected = runs.filter((_, i) => i !== 4).map((run) => run.id).reverse()
      const seen: string[] = []
      for (let cursor: string | undefined; ; ) {
        const page = await driver().runList({ limit: 3, status: ['queued', 'scheduled', 'queued'], cursor })
        seen.push(...page.runs.map((run) => run.id))
        if (!page.nextCursor) break
        cursor = page.nextCursor
      }
      expect(seen).toEqual(expected)
      const filtered = await driver().runList({ limit: 10, task: 'task-b', status: ['cancelled', 'scheduled'] })
      expect(filtered.runs.map((run) => run.id)).toEqual([runs[6]!.id, runs[4]!.id, runs[0]!.id])
    })

    it('buckets finished runs by time and status from a point on', async () => {
      await insert(driver(), [newRun(), newRun(), newRun(), newRun()])
      const claimed = await claimAll(driver())
      const finish = (index: number, now: Date, outcome: 'completed' | 'dead_lettered') =>
        driver().runFinishMany({
          now,
          results: [
            outcome === 'completed'
              ? { id: claimed[index]!.id, attempt: 1, workerId: 'w1', outcome, outputJson: '1' }
              : { id: claimed[index]!.id, attempt: 1, workerId: 'w1', outcome, error: { name: 'E', message: 'x' } },
          ],
        })
      await finish(0, at(5_000), 'completed')
      await finish(1, at(65_000), 'completed')
      await finish(2, at(70_000), 'dead_lettered')
      await finish(3, at(130_000), 'completed')
      const buckets = await driver().runActivity({ since: at(60_000), bucketMs: 60_000 })
      expect(buckets.map((b) => [b.at.getTime() - T0.getTime(), b.status, b.count])).toEqual([
        [60_000, 'completed', 1],
        [60_000, 'dead_lettered', 1],
        [120_000, 'completed', 1],
      ])
    })

    it('follows changes in (updatedAt, id) order from a position', async () => {
      const [a, b] = await insert(driver(), [newRun(), newRun()], T0)
      await insert(driver(), [newRun({ task: 'task-b' })], at(10))
      await driver().runCancel({ id: a as string, reason: null, now: at(20) })
      const all = await driver().runListChanged({ after: { updatedAt: new Date(0), id: '' }, limit: 10 })
      expect(all.map((change) => change.updatedAt.getTime() - T0.getTime())).toEqual([0, 10, 20])
      expect(all[0]).toMatchObject({ id: b, task: 'task-a', status: 'queued', attempt: 0, queue: null })
      expect(all[2]).toMatchObject({ id: a, status: 'cancelled' })
      expect(all[2]!.completedAt?.getTime()).toBe(at(20).getTime())
      const after = await driver().runListChanged({ after: { updatedAt: all[0]!.updatedAt, id: all[0]!.id }, limit: 1 })
      expect(after.map((change) => change.id)).toEqual([all[1]!.id])
    })
  })
}
