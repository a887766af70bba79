import { describe, expect, it } from 'vitest'
import type { StoreDriver } from '../driver.js'
import { at, claimAll, insert, newRun, T0, type SuiteContext } from './fixtures.js'

/** Inserting runs, idempotency keys, reading and listing. */
export function insertAndReadSuite({ driver, another }: SuiteContext): void {
  describe('insert and read', () => {
    it('stores every field of a new run and reads it back', async () => {
      const run = newRun({
        task: 'task-b',
        status: 'scheduled',
        payloadJson: JSON.stringify({ nested: { list: [1, 'two', null, true] }, unicode: 'é ✓ 🚀' }),
        priority: -5,
        maxAttempts: 7,
        metadataJson: JSON.stringify({ tenant: 't1' }),
        flags: ['a', 'b'],
        timeoutMs: null,
        runAt: at(60_000),
        replayOf: null,
      })
      const [result] = await driver().runInsertMany({ runs: [run], now: T0 })
      expect(result?.created).toBe(true)
      const read = await driver().runGet({ id: run.id })
      expect(read).toMatchObject({
        id: run.id,
        task: 'task-b',
        status: 'scheduled',
        payload: { nested: { list: [1, 'two', null, true] }, unicode: 'é ✓ 🚀' },
        output: null,
        error: null,
        attempt: 0,
        maxAttempts: 7,
        priority: -5,
        metadata: { tenant: 't1' },
        flags: ['a', 'b'],
        timeoutMs: null,
        startedAt: null,
        completedAt: null,
        lockedBy: null,
        leaseExpiresAt: null,
        retryPolicy: run.retryPolicy,
      })
      expect(read?.runAt.toISOString()).toBe(at(60_000).toISOString())
      expect(read?.createdAt.toISOString()).toBe(T0.toISOString())
    })

    it('returns from an insert exactly the record a read of the new run returns', async () => {
      const runs = [
        newRun({ payloadJson: JSON.stringify({ b: 1, a: [{ z: null, y: 'é' }], n: 1.5 }), flags: ['x'], metadataJson: '{"k":"v"}' }),
        newRun({ status: 'scheduled', runAt: at(5_000), priority: 3, timeoutMs: 250, idempotencyKey: 'exact' }),
        newRun({ queue: 'q-exact', concurrencyKey: 'ck-exact', concurrencyLimit: 2, replayOf: null, replayReason: 'why' }),
        newRun({ scheduleKey: 'sched-exact', scheduledFor: at(1_000) }),
      ]
      const results = await driver().runInsertMany({ runs, now: T0 })
      for (const result of results) {
        expect(result.created).toBe(true)
        expect(result.run).toEqual(await driver().runGet({ id: result.run.id }))
      }
    })

    it('returns null for an unknown id', async () => {
      expect(await driver().runGet({ id: '00000000-0000-7000-8000-000000000000' })).toBeNull()
    })

    it('an idempotency key returns the existing run of the same task, in any status', async () => {
      const first = newRun({ idempotencyKey: 'k1' })
      await insert(driver(), [first])
      await claimAll(driver())
      const [again] = await driver().runInsertMany({ runs: [newRun({ idempotencyKey: 'k1' })], now: T0 })
      expect(again).toMatchObject({ created: false, reason: 'idempotent' })
      expect(again?.run.id).toBe(first.id)
      expect(again?.run.status).toBe('running')
      const [otherTask] = await driver().runInsertMany({ runs: [newRun({ task: 'task-b', idempotencyKey: 'k1' })], now: T0 })
      expect(otherTask?.created).toBe(true)
    })

    it('a repeated idempotency key inside one batch returns the first run', async () => {
      const a = newRun({ idempotencyKey: 'same' })
      const results = await driver().runInsertMany({ runs: [a, newRun({ idempotencyKey: 'same' }), newRun()], now: T0 })
      expect(results.map((r) => r.created)).toEqual([true, false, true])
      expect(results[1]?.run.id).toBe(a.id)
    })

    it('concurrent inserts with one idempotency key create exactly one run', async () => {
      const drivers = [driver(), another(), another(), another()]
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (drivers[i % drivers.length] as StoreDriver).runInsertMany({ runs: [newRun({ idempotencyKey: 'race' })], now: T0 })),
      )
      const created = results.flat().filter((r) => r.created)
      expect(created).toHaveLength(1)
      expect(new Set(results.flat().map((r) => r.run.id)).size).toBe(1)
    })

    it('lists newest first, filters, and pages without gaps or repeats', async () => {
      const ids = await insert(driver(), [
        ...Array.from({ length: 7 }, () => newRun({ task: 'task-a' })),
        ...Array.from({ length: 3 }, () => newRun({ task: 'task-b', status: 'scheduled', runAt: at(10_000) })),
      ])
      const seen: string[] = []
      let cursor: string | undefined
      do {
        const page = await driver().runList({ limit: 3, cursor })
        expect(page.runs.length).toBeLessThanOrEqual(3)
        seen.push(...page.runs.map((r) => r.id))
        cursor = page.nextCursor ?? undefined
      } while (cursor)
      expect(seen).toEqual([...ids].reverse())
      const onlyB = await driver().runList({ limit: 50, task: 'task-b' })
      expect(onlyB.runs.map((r) => r.id)).toEqual(ids.slice(7).reverse())
      expect(onlyB.nextCursor).toBeNull()
      const scheduled = await driver().runList({ limit: 50, status: ['scheduled'] })
      expect(scheduled.runs).toHaveLength(3)
      const none = await driver().runList({ limit: 50, status: ['completed'] })
      expect(none.runs).toEqual([])
    })

    it('rejects a forged cursor with a clear error', async () => {
      await expect(driver().runList({ limit: 10, cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'invalid_option' })
    })

    it('migrating again is harmless', async () => {
      await driver().migrate()
      await driver().migrate()
      const [id] = await insert(driver(), [newRun()])
      expect(await driver().runGet({ id: id as string })).not.toBeNull()
    })
  })
}
