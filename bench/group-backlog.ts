/**
 * What a backlog in a blocked group costs every claim: N runs waiting in one serial queue
 * whose head is running, or under one concurrency key at its limit, beside 100 runs with
 * neither. A claim of 10 then takes the free runs, but it finds them by walking the due runs
 * in (priority, run_at, id) order and checking each blocked one on the way. Run by hand
 * (not part of npm test):
 *
 *   npx tsx bench/group-backlog.ts                                  # SQLite
 *   DATABASE_URL=postgres://... npx tsx bench/group-backlog.ts --store postgres
 *   npx tsx bench/group-backlog.ts --waiting 1000,10000,100000
 *
 * Prints the median of 5 claims for each backlog size and kind of group.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { createErrand } from '../src/index.js'
import type { StoreDriver } from '../src/storage/driver.js'
import { postgresStore } from '../src/storage/postgres/index.js'
import { sqliteStore } from '../src/storage/sqlite/index.js'

const { values } = parseArgs({ options: { store: { type: 'string', default: 'sqlite' }, waiting: { type: 'string', default: '1000,10000' } } })
const sizes = values.waiting.split(',').map(Number)
const CLAIMS = 5
const FREE_RUNS = 100

type Group = 'queue' | 'key'

interface Store {
  driver: StoreDriver
  drop(): Promise<void>
}

function openStore(): Store {
  if (values.store === 'postgres') {
    const url = process.env.DATABASE_URL
    if (!url) throw new Error('--store postgres needs DATABASE_URL')
    const schema = `backlog_${randomBytes(4).toString('hex')}`
    return {
      driver: postgresStore({ connectionString: url }, { schema }),
      async drop() {
        const client = new pg.Client({ connectionString: url })
        await client.connect()
        await client.query(`DROP SCHEMA "${schema}" CASCADE`)
        await client.end()
      },
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'errand-backlog-'))
  return { driver: sqliteStore({ path: join(dir, 'errand.db') }), drop: async () => rmSync(dir, { recursive: true, force: true }) }
}

/** Median milliseconds of a claim of 10 with `waiting` runs blocked behind one group. */
async function measure(group: Group, waiting: number): Promise<number> {
  const store = openStore()
  const errand = createErrand({ store: store.driver })
  try {
    const task = errand.task('t', {}, async () => {})
    await errand.migrate()
    const options = group === 'queue' ? { queue: 'q' } : { concurrencyKey: 'k', concurrencyLimit: 1 }
    for (let i = 0; i < waiting; i += 1_000) {
      await task.enqueueMany(Array.from({ length: Math.min(1_000, waiting - i) }, (_, j) => ({ payload: { j }, options })))
    }
    await task.enqueueMany(Array.from({ length: FREE_RUNS }, (_, j) => ({ j })))
    // The group's first run starts and holds it: every other run of the group must wait.
    await store.driver.runClaim({ workerId: 'holder', tasks: ['t'], limit: 1, leaseMs: 3_600_000, now: new Date() })
    const times: number[] = []
    for (let i = 0; i < CLAIMS; i++) {
      const start = performance.now()
      const claimed = await store.driver.runClaim({ workerId: 'w', tasks: ['t'], limit: 10, leaseMs: 3_600_000, now: new Date() })
      times.push(performance.now() - start)
      if (claimed.length !== 10) throw new Error(`claimed ${claimed.length}, expected 10`)
    }
    return times.sort((a, b) => a - b)[Math.floor(CLAIMS / 2)] as number
  } finally {
    await errand.close()
    await store.drop()
  }
}

console.log(`errand group-backlog on ${values.store}: a claim of 10, median of ${CLAIMS} (ms)`)
console.log('waiting | serial queue held | concurrency key at its limit')
for (const waiting of sizes) {
  const queue = await measure('queue', waiting)
  const key = await measure('key', waiting)
  console.log(`${waiting} | ${queue.toFixed(1)} | ${key.toFixed(1)}`)
}
