import { describe, expect, it } from 'vitest'
import type { NewRun, StoreDriver } from '../driver.js'
import { at, claimAll, finishOne, insert, newRun, T0, type SuiteContext } from './fixtures.js'

/** A run under job key `key` (replace mode unless told otherwise). */
function keyed(overrides: Partial<NewRun> = {}): NewRun {
  return newRun({ jobKey: 'key', jobKeyMode: 'replace', ...overrides })
}

async function insertOne(driver: StoreDriver, run: NewRun, now = T0) {
  const [result] = await driver.runInsertMany({ runs: [run], now })
  if (!result) throw new Error('no result')
  return result
}

/** Runs of the task holding a job key, any status. */
async function runsWithKey(driver: StoreDriver, jobKey = 'key') {
  return (await driver.runList({ limit: 100 })).runs.filter((run) => run.jobKey === jobKey)
}

/** Job keys: one run per key that has not started, updated in place; modes; removal by key. */
export function jobKeySuite({ driver, another }: SuiteContext): void {
  describe('job keys', () => {
    it('replace updates the run that has not started: payload, time, priority, attempts, every option', async () => {
      const first = await insertOne(driver(), keyed({ status: 'scheduled', runAt: at(60_000), payloadJson: '{"v":1}', priority: 5 }))
      expect(first).toMatchObject({ created: true })
      expect(first.reason).toBeUndefined()
      const second = await insertOne(
        driver(),
        keyed({ payloadJson: '{"v":2}', priority: -1, maxAttempts: 9, flags: ['slow'], queue: 'q', metadataJson: '{"m":2}', timeoutMs: 5 }),
        at(1_000),
      )
      expect(second).toMatchObject({ created: false, reason: 'replaced' })
      expect(second.run).toMatchObject({
        id: first.run.id,
        status: 'queued',
        payload: { v: 2 },
        priority: -1,
        maxAttempts: 9,
        flags: ['slow'],
        queue: 'q',
        metadata: { m: 2 },
        timeoutMs: 5,
        attempt: 0,
        jobKey: 'key',
      })
      expect(second.run.runAt.toISOString()).toBe(T0.toISOString())
      expect(await runsWithKey(driver())).toHaveLength(1)
    })

    it('preserve_run_at updates the run but keeps its time', async () => {
      const first = await insertOne(driver(), keyed({ status: 'scheduled', runAt: at(60_000), payloadJson: '{"v":1}' }))
      const second = await insertOne(driver(), keyed({ jobKeyMode: 'preserve_run_at', payloadJson: '{"v":2}', priority: 3 }))
      expect(second).toMatchObject({ created: false, reason: 'replaced', run: { id: first.run.id, status: 'scheduled', payload: { v: 2 }, priority: 3 } })
      expect(second.run.runAt.toISOString()).toBe(at(60_000).toISOString())
    })

    it('appends array payloads (batch jobs); anything else is replaced', async () => {
      await insertOne(driver(), keyed({ payloadJson: '[1,{"a":2}]' }))
      const merged = await insertOne(driver(), keyed({ payloadJson: '[3]' }))
      expect(merged.run.payload).toEqual([1, { a: 2 }, 3])
      const preserved = await insertOne(driver(), keyed({ jobKeyMode: 'preserve_run_at', payloadJson: '["four"]' }))
      expect(preserved.run.payload).toEqual([1, { a: 2 }, 3, 'four'])
      expect((await insertOne(driver(), keyed({ payloadJson: '[]' }))).run.payload).toEqual([1, { a: 2 }, 3, 'four'])
      expect((await insertOne(driver(), keyed({ payloadJson: '{"not":"array"}' }))).run.payload).toEqual({ not: 'array' })
      expect((await insertOne(driver(), keyed({ payloadJson: '[5]' }))).run.payload).toEqual([5])
      // Items PostgreSQL's jsonb cannot hold as they are still merge item by item.
      const odd = await insertOne(driver(), keyed({ payloadJson: JSON.stringify(['nul\u0000', '\ud800']) }))
      expect(odd.run.payload).toEqual([5, 'nul\u0000', '\ud800'])
      expect((await driver().runGet({ id: odd.run.id }))?.payload).toEqual([5, 'nul\u0000', '\ud800'])
    })

    it('a key run that has started keeps going, with its retries; new work under the key makes a new run', async () => {
      const first = await insertOne(driver(), keyed({ payloadJson: '[1]' }))
      const [running] = await claimAll(driver())
      expect(running?.id).toBe(first.run.id)
      const second = await insertOne(driver(), keyed({ payloadJson: '[2]' }))
      expect(second).toMatchObject({ created: true, run: { status: 'queued', payload: [2], jobKey: 'key' } })
      // The started run fails and waits for its retry next to the new one: both keep their work.
      await finishOne(driver(), running!, { outcome: 'retry', error: { name: 'Error', message: 'boom' }, delayMs: 1_000 }, at(10))
      const third = await insertOne(driver(), keyed({ payloadJson: '[3]' }), at(20))
      expect(third).toMatchObject({ created: false, reason: 'replaced', run: { id: second.run.id, payload: [2, 3] } })
      expect(await driver().runGet({ id: first.run.id })).toMatchObject({ status: 'scheduled', attempt: 1, payload: [1], jobKey: 'key' })
    })

    it('completed, dead-lettered and cancelled runs leave the key to a new run', async () => {
      for (const end of ['completed', 'dead_lettered', 'cancelled'] as const) {
        const jobKey = `key-${end}`
        const first = await insertOne(driver(), keyed({ jobKey }))
        if (end === 'cancelled') await driver().runCancel({ id: first.run.id, reason: null, now: T0 })
        else {
          const run = (await claimAll(driver())).find((claimed) => claimed.id === first.run.id)
          const error = { name: 'Error', message: 'x' }
          await finishOne(driver(), run!, end === 'completed' ? { outcome: 'completed', outputJson: '1' } : { outcome: 'dead_lettered', error })
        }
        const next = await insertOne(driver(), keyed({ jobKey }))
        expect(next, end).toMatchObject({ created: true })
        expect(next.run.id).not.toBe(first.run.id)
        expect((await driver().runGet({ id: first.run.id }))?.status).toBe(end)
      }
    })

    it('unsafe_dedupe returns the key run whatever its status, unchanged', async () => {
      const dedupe = (payloadJson: string, now = T0) => insertOne(driver(), keyed({ jobKeyMode: 'unsafe_dedupe', payloadJson }), now)
      const first = await dedupe('{"v":1}')
      expect(first.created).toBe(true)
      expect(await dedupe('{"v":2}')).toMatchObject({ created: false, reason: 'deduped', run: { id: first.run.id, payload: { v: 1 } } })
      const [running] = await claimAll(driver())
      expect(await dedupe('{"v":3}')).toMatchObject({ created: false, reason: 'deduped', run: { id: first.run.id, status: 'running' } })
      await finishOne(driver(), running!, { outcome: 'dead_lettered', error: { name: 'Error', message: 'x' } })
      expect(await dedupe('{"v":4}')).toMatchObject({ created: false, reason: 'deduped', run: { id: first.run.id, status: 'dead_lettered' } })
      // A run made by another mode counts too: the key's latest run is what dedupe returns.
      const replaced = await insertOne(driver(), keyed({ payloadJson: '{"v":5}' }))
      expect(replaced.created).toBe(true)
      expect(await dedupe('{"v":6}')).toMatchObject({ reason: 'deduped', run: { id: replaced.run.id, payload: { v: 5 } } })
    })

    it('keys are scoped to the task, and a batch applies its items in order', async () => {
      const results = await driver().runInsertMany({
        now: T0,
        runs: [keyed({ payloadJson: '[1]' }), keyed({ payloadJson: '[2]' }), keyed({ task: 'task-b', payloadJson: '[3]' }), newRun()],
      })
      expect(results.map((r) => [r.created, r.reason])).toEqual([
        [true, undefined],
        [false, 'replaced'],
        [true, undefined],
        [true, undefined],
      ])
      expect(results[1]?.run).toMatchObject({ id: results[0]?.run.id, payload: [1, 2] })
      expect(results[2]?.run.id).not.toBe(results[0]?.run.id)
    })

    it('50 concurrent enqueuers on one key over several connections leave exactly one run', async () => {
      const drivers = [driver(), another(), another(), another(), another()]
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          insertOne(drivers[i % drivers.length] as StoreDriver, keyed({ payloadJson: JSON.stringify([i]), jobKeyMode: i % 3 === 2 ? 'preserve_run_at' : 'replace' })),
        ),
      )
      expect(results.filter((r) => r.created)).toHaveLength(1)
      expect(results.filter((r) => !r.created).every((r) => r.reason === 'replaced')).toBe(true)
      const [only, ...others] = await runsWithKey(driver())
      expect(others).toEqual([])
      // Every enqueuer's item made it into the one run: none was silently dropped.
      expect([...(only?.payload as number[])].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    })

    it('concurrent unsafe_dedupe enqueuers agree on one run', async () => {
      const drivers = [driver(), another(), another(), another()]
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => insertOne(drivers[i % drivers.length] as StoreDriver, keyed({ jobKeyMode: 'unsafe_dedupe' }))),
      )
      expect(results.filter((r) => r.created)).toHaveLength(1)
      expect(new Set(results.map((r) => r.run.id)).size).toBe(1)
    })

    it('cancelling by job key removes the pending run and frees the key; a started run is left alone', async () => {
      expect(await driver().runCancelByJobKey({ task: 'task-a', jobKey: 'key', reason: null, now: T0 })).toBeNull()
      const first = await insertOne(driver(), keyed({ jobKeyMode: 'unsafe_dedupe' }))
      const cancelled = await driver().runCancelByJobKey({ task: 'task-a', jobKey: 'key', reason: 'not needed', now: at(5) })
      expect(cancelled).toMatchObject({ cancelled: true, run: { id: first.run.id, status: 'cancelled', cancelReason: 'not needed' } })
      // Freed: even unsafe_dedupe creates a new run now.
      const second = await insertOne(driver(), keyed({ jobKeyMode: 'unsafe_dedupe' }))
      expect(second.created).toBe(true)
      await claimAll(driver())
      const left = await driver().runCancelByJobKey({ task: 'task-a', jobKey: 'key', reason: null, now: at(10) })
      expect(left).toMatchObject({ cancelled: false, run: { id: second.run.id, status: 'running' } })
      expect(await driver().runCancelByJobKey({ task: 'task-b', jobKey: 'key', reason: null, now: T0 })).toBeNull()
    })
  })
}
