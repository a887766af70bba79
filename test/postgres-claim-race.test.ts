/**
 * A run updated by another transaction after the claim's snapshot was taken, but before the
 * claim locked it (a wait marking it, a promotion), is locked at its newest version. The
 * claim's final UPDATE must still find and write that version: a version the statement's
 * snapshot cannot see is invisible to a scan by tuple id, so a claim that located rows by
 * ctid left such a run locked and returned, yet never marked running (and, for a run with a
 * concurrency key, a holder entry that never went away). The window is opened here by a
 * concurrency key check made slow on purpose.
 */
import { describe, expect, it } from 'vitest'
import { usePostgresErrand } from './support/postgres-errand.js'
import { postgresUrl } from './support/stores.js'

const url = postgresUrl()

describe.skipIf(!url)('postgres: a claim and a concurrent update of a due run', () => {
  const t = usePostgresErrand(url as string)

  it('claims a run whose row was updated after the claim began, and writes it running', async () => {
    const s = t.schema
    const task = t.errand.task('noop', {}, async () => {})
    const keyed = await task.enqueue({}, { concurrencyKey: 'k', concurrencyLimit: 1 })
    const plain = await task.enqueue({})
    // The key is full (a holder the claim cannot see counts), and checking it takes 500 ms.
    await t.client.query(`UPDATE ${s}.concurrency_keys SET holder_ids = '{elsewhere}', holder_attempts = '{1}' WHERE key = 'k'`)
    await t.client.query(`
      CREATE OR REPLACE FUNCTION ${s}.concurrency_live(ids text[], attempts int4[], OUT live_ids text[], OUT live_attempts int4[])
      LANGUAGE plpgsql STABLE AS $body$
      BEGIN
        PERFORM pg_sleep(0.5);
        live_ids := ids;
        live_attempts := attempts;
      END
      $body$`)
    const driver = t.store.open()
    try {
      const claiming = driver.runClaim({ workerId: 'w', tasks: ['noop'], limit: 10, leaseMs: 60_000, now: new Date() })
      await new Promise((resolve) => setTimeout(resolve, 200))
      // While the claim waits on the key, another transaction updates the plain run and commits.
      await t.client.query(`UPDATE ${s}.runs SET waited = true WHERE id = $1`, [plain.id])
      const claimed = await claiming
      expect(claimed.map((run) => run.id)).toEqual([plain.id])
      expect(claimed[0]).toMatchObject({ status: 'running', attempt: 1 })
      const { rows } = await t.client.query(`SELECT id, status, attempt FROM ${s}.runs ORDER BY id`)
      expect(rows).toEqual([
        { id: keyed.id, status: 'queued', attempt: 0 },
        { id: plain.id, status: 'running', attempt: 1 },
      ])
    } finally {
      await driver.close()
    }
  })
})
