/**
 * Plans of the SQLite runs lists and change feed. Running runs are not in the status and
 * change-feed indexes (migration 6), and SQLite uses a partial index only when the query
 * repeats its predicate: every filter must still be served by an index, never a scan of
 * the whole table.
 */
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Errand } from '../src/index.js'
import type { RunListParams } from '../src/storage/driver.js'
import { SqliteInsights } from '../src/storage/sqlite/insights.js'
import { listRuns } from '../src/storage/sqlite/run-list.js'
import { expectWholeFeedInOrder, seedRunsForLists } from './support/list-fixture.js'
import { storeKinds, type TestStore } from './support/stores.js'

describe('sqlite: plans of the runs lists and the change feed', () => {
  const kind = storeKinds().find((candidate) => candidate.name === 'sqlite')!
  let store: TestStore
  let errand: Errand

  beforeEach(async () => {
    store = await kind.create()
    errand = new Errand({ store: store.open() })
  })

  afterEach(async () => {
    await errand.close()
    await store.cleanup()
  })

  it('reads an index for every filter, running runs included, and the feed returns every run in order', async () => {
    await seedRunsForLists(errand, store, { plain: 3_000, inQueues: 300, claimed: 2_000 })
    const db = new Database((store.spec as { path: string }).path)
    try {
      db.exec('ANALYZE')
      const cases: Array<{ filter: Omit<RunListParams, 'limit'>; index?: string }> = [
        { filter: {} },
        { filter: { task: 'noop' } },
        { filter: { status: ['completed'] }, index: 'errand_runs_status' },
        { filter: { status: ['running'] }, index: 'errand_runs_lease' },
        { filter: { status: ['queued', 'running', 'completed'] } },
        { filter: { task: 'noop', status: ['queued'] }, index: 'errand_runs_task_status' },
        { filter: { task: 'noop', status: ['running'] } },
        { filter: { queue: 'q1' } },
        { filter: { queue: 'q1', status: ['queued'] }, index: 'errand_runs_queue_status' },
      ]
      for (const { filter, index } of cases) {
        const plans: string[] = []
        const page = listRuns(explaining(db, plans), { limit: 50, ...filter })
        const label = JSON.stringify(filter)
        const plan = plans.join('\n')
        expect(plan, label).not.toMatch(/SCAN errand_runs$/m)
        if (index) expect(plan, label).toContain(index)
        expect(page.runs.length, label).toBeGreaterThan(0)
      }
      const feedPlans: string[] = []
      const feed = new SqliteInsights(explaining(db, feedPlans)).listChanged({ after: { updatedAt: new Date(0), id: '' }, limit: 10_000 })
      expect(feedPlans.join('\n')).not.toMatch(/SCAN errand_runs$/m)
      expectWholeFeedInOrder(feed, 3_300)
    } finally {
      db.close()
    }
  })
})

/** The database, with every statement it prepares explained (EXPLAIN QUERY PLAN) into `plans` when it is read. */
function explaining(db: Database.Database, plans: string[]): Database.Database {
  return new Proxy(db, {
    get(target, property) {
      if (property !== 'prepare') return Reflect.get(target, property)
      return (sql: string) => {
        const statement = target.prepare(sql)
        const explain = target.prepare(`EXPLAIN QUERY PLAN ${sql}`)
        return new Proxy(statement, {
          get(inner, name) {
            if (name !== 'all') return Reflect.get(inner, name)
            return (...args: unknown[]) => {
              plans.push(...(explain.all(...args) as Array<{ detail: string }>).map((row) => row.detail))
              return inner.all(...args)
            }
          },
        })
      }
    },
  })
}
