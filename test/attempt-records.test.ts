/**
 * A completed run's last attempt is not stored as a record: it is read off the run, which
 * keeps the worker that ran it. Runs completed by earlier versions have the record stored
 * and the worker cleared on the run; they must list that attempt once, as it was stored.
 */
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { at, claimAll, insert, newRun } from '../src/storage/conformance/fixtures.js'
import type { StoreDriver } from '../src/storage/driver.js'
import { storeKinds, type StoreSpec, type TestStore } from './support/stores.js'

/** Writes what an earlier version's completion wrote: the record, and no worker on the run. */
async function storeRecordAsBefore(spec: StoreSpec, runId: string, finishedAt: Date): Promise<void> {
  if (spec.kind === 'sqlite') {
    const db = new Database(spec.path)
    try {
      db.prepare(`UPDATE errand_runs SET locked_by = NULL WHERE id = ?`).run(runId)
      db.prepare(`INSERT INTO errand_attempts VALUES (?, 1, 'earlier-worker', ?, ?, 'completed', NULL)`).run(runId, 0, finishedAt.getTime())
    } finally {
      db.close()
    }
    return
  }
  const client = new pg.Client({ connectionString: spec.connectionString })
  await client.connect()
  try {
    await client.query(`UPDATE "${spec.schema}".runs SET locked_by = NULL WHERE id = $1`, [runId])
    await client.query(`INSERT INTO "${spec.schema}".attempts VALUES ($1, 1, 'earlier-worker', to_timestamp(0), $2, 'completed', NULL)`, [
      runId,
      finishedAt,
    ])
  } finally {
    await client.end()
  }
}

describe.each(storeKinds())('$name: the record of a completed attempt', (kind) => {
  let store: TestStore
  let driver: StoreDriver
  beforeEach(async () => {
    store = await kind.create()
    driver = store.open()
  })
  afterEach(async () => {
    await driver.close()
    await store.cleanup()
  })

  async function completedRun(): Promise<string> {
    await insert(driver, [newRun()])
    const [run] = await claimAll(driver, at(0), 1, 'worker-7')
    await driver.runFinishMany({ now: at(500), results: [{ id: run!.id, attempt: 1, workerId: 'worker-7', outcome: 'completed', outputJson: '1' }] })
    return run!.id
  }

  it('is read off the run, with the worker that ran it, which the run itself no longer shows', async () => {
    const id = await completedRun()
    expect(await driver.runGet({ id })).toMatchObject({ status: 'completed', lockedBy: null })
    const attempts = await driver.attemptList({ runId: id })
    expect(attempts.map((a) => [a.attempt, a.outcome, a.workerId, a.startedAt.getTime(), a.finishedAt?.getTime()])).toEqual([
      [1, 'completed', 'worker-7', at(0).getTime(), at(500).getTime()],
    ])
  })

  it('is listed once, as stored, for a run completed by an earlier version', async () => {
    const id = await completedRun()
    await storeRecordAsBefore(store.spec, id, at(500))
    const attempts = await driver.attemptList({ runId: id })
    expect(attempts.map((a) => [a.attempt, a.outcome, a.workerId, a.startedAt.getTime()])).toEqual([[1, 'completed', 'earlier-worker', 0]])
  })
})
