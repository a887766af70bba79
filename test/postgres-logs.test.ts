/**
 * A run's logs are written before its result: whoever sees the run finished sees all of
 * them. The log writes are held up here by a lock another session keeps on the logs table,
 * so the result, written by other statements, would otherwise come first.
 */
import { describe, expect, it } from 'vitest'
import { defineTask } from '../src/index.js'
import { usePostgresErrand } from './support/postgres-errand.js'
import { postgresUrl } from './support/stores.js'

const url = postgresUrl()

describe.skipIf(!url)('postgres: logs before the result', () => {
  const t = usePostgresErrand(url as string)

  it('a run waited on has all its logs once it is seen finished, even when their write is slow', async () => {
    const chatty = defineTask({
      name: 'chatty',
      run: async (_p, ctx) => {
        for (let line = 0; line < 50; line++) ctx.log(`line ${line}`)
        return 'done'
      },
    })
    const { chatty: handle } = t.errand.register({ chatty })
    await t.errand.worker({ pollInterval: '50ms' }).start()
    // Inserts into logs wait behind this lock; reads do not.
    await t.client.query('BEGIN')
    await t.client.query(`LOCK TABLE ${t.schema}.logs IN SHARE ROW EXCLUSIVE MODE`)
    const waited = handle.enqueueAndWait({}, { timeout: '20s' })
    const released = new Promise((resolve) => setTimeout(resolve, 500)).then(() => t.client.query('COMMIT'))
    const { run } = await waited
    expect(run.status).toBe('completed')
    const logs = await t.errand.runs.logs(run.id, { limit: 100 })
    expect(logs.map((log) => log.message)).toEqual(Array.from({ length: 50 }, (_, line) => `line ${line}`))
    await released
  })
})
