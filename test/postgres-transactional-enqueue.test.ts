/**
 * Enqueue inside the caller's own PostgreSQL transaction (`{ tx: client }`): the run exists
 * if and only if that transaction commits, together with the caller's own rows
 * (RELIABILITY.md scenario 2, short version). A worker never sees the run before commit.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Errand } from '../src/index.js'
import type { StoreDriver } from '../src/storage/driver.js'
import { postgresUrl, storeKinds, type TestStore } from './support/stores.js'

const url = postgresUrl()
const INDEX = fileURLToPath(new URL('../src/index.ts', import.meta.url))
const DRIVER = fileURLToPath(new URL('../src/storage/postgres/index.ts', import.meta.url))

type KillPoint = 'after-order' | 'after-enqueue' | 'after-commit'

/**
 * A child process that writes an order and enqueues its shipping run in one transaction,
 * then SIGKILLs itself at KILL_AT. It prints the run id before dying, when it has one.
 */
const CHILD = `
  import pg from 'pg'
  const { createErrand } = await import(process.env.INDEX)
  const { postgresStore } = await import(process.env.DRIVER)
  const { DB_URL, SCHEMA, KILL_AT, ORDER } = process.env
  const pool = new pg.Pool({ connectionString: DB_URL })
  const errand = createErrand({ store: postgresStore({ pool }, { schema: SCHEMA }) })
  errand.task('ship', {}, async () => {})
  await errand.migrate()
  const client = await pool.connect()
  await client.query('BEGIN')
  await client.query('INSERT INTO "' + SCHEMA + '".orders (id) VALUES ($1)', [ORDER])
  if (KILL_AT === 'after-order') process.kill(process.pid, 'SIGKILL')
  const run = await errand.enqueue('ship', { order: ORDER }, { tx: client, idempotencyKey: ORDER })
  process.stdout.write(run.id + '\\n')
  if (KILL_AT === 'after-enqueue') process.kill(process.pid, 'SIGKILL')
  await client.query('COMMIT')
  process.kill(process.pid, 'SIGKILL')
`

function runChild(env: Record<string, string>): Promise<{ signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
    env: { ...process.env, INDEX, DRIVER, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return new Promise((resolve) => proc.on('exit', (_code, signal) => resolve({ signal, stdout, stderr })))
}

describe.skipIf(!url)('postgres: enqueue inside the caller transaction', () => {
  const kind = storeKinds().find((candidate) => candidate.name === 'postgres')
  let store: TestStore
  let schema: string
  let pool: pg.Pool
  let errand: Errand
  let drivers: StoreDriver[] = []
  let started: string[]
  const orderExists = async (id: string) => (await pool.query(`SELECT 1 FROM "${schema}".orders WHERE id = $1`, [id])).rowCount === 1

  beforeEach(async () => {
    store = await (kind as NonNullable<typeof kind>).create()
    schema = (store.spec as { schema: string }).schema
    pool = new pg.Pool({ connectionString: url as string, max: 4 })
    const driver = store.open()
    drivers = [driver]
    errand = new Errand({ store: driver })
    started = []
    errand.task('ship', {}, async () => {})
    errand.on('run.started', ({ run }) => started.push(run.id))
    await errand.migrate()
    await pool.query(`CREATE TABLE "${schema}".orders (id text PRIMARY KEY)`)
  })

  afterEach(async () => {
    await errand.close({ timeout: '2s' })
    await Promise.all(drivers.slice(1).map((driver) => driver.close()))
    await pool.end()
    await store.cleanup()
  })

  it('commit: the run appears with the order and is executed; before commit no worker or reader sees it', async () => {
    const worker = errand.worker({ pollInterval: '20ms' })
    await worker.start()
    const elsewhere = store.open()
    drivers.push(elsewhere)
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      await client.query(`INSERT INTO "${schema}".orders (id) VALUES ('o-1')`)
      const handle = await errand.enqueue('ship', { order: 'o-1' }, { tx: client })
      expect(handle.created).toBe(true)
      // Invisible outside the transaction: to a reader, to a claim, and to the polling worker.
      expect(await errand.runs.get(handle.id)).toBeNull()
      expect(await elsewhere.runClaim({ workerId: 'spy', tasks: ['ship'], limit: 10, leaseMs: 10_000, now: new Date(Date.now() + 60_000) })).toEqual([])
      await new Promise((resolve) => setTimeout(resolve, 300)) // about 15 polls of the worker
      expect(started).toEqual([])
      await client.query('COMMIT')
      expect(await errand.runs.wait(handle.id, { timeout: '10s' })).toMatchObject({ status: 'completed' })
      expect(started).toEqual([handle.id])
      expect(await orderExists('o-1')).toBe(true)
    } finally {
      client.release()
    }
  })

  it('rollback: no run, and its idempotency key stays free', async () => {
    const client = await pool.connect()
    let id: string
    try {
      await client.query('BEGIN')
      await client.query(`INSERT INTO "${schema}".orders (id) VALUES ('o-2')`)
      const handles = await errand.enqueueMany('ship', [{ payload: { n: 1 }, options: { idempotencyKey: 'k' } }, { n: 2 }], { tx: client })
      id = handles[0]?.id as string
      await client.query('ROLLBACK')
    } finally {
      client.release()
    }
    expect(await errand.runs.get(id)).toBeNull()
    expect((await errand.runs.list()).runs).toEqual([])
    expect(await orderExists('o-2')).toBe(false)
    const again = await errand.enqueue('ship', { n: 3 }, { idempotencyKey: 'k' })
    expect(again.created).toBe(true)
  })

  it('a process killed before its commit leaves no run; killed after, both the run and the order exist', async () => {
    const worker = errand.worker({ pollInterval: '50ms' })
    await worker.start()
    const points: KillPoint[] = ['after-order', 'after-enqueue', 'after-commit']
    for (const point of points) {
      const order = `order-${point}`
      const child = await runChild({ DB_URL: url as string, SCHEMA: schema, KILL_AT: point, ORDER: order })
      expect(child.signal, child.stderr).toBe('SIGKILL')
      const runId = child.stdout.trim() || null
      if (point === 'after-order') expect(runId).toBeNull()
      else expect(runId).toMatch(/^[0-9a-f-]{36}$/)
      if (point === 'after-commit') {
        expect(await orderExists(order)).toBe(true)
        expect(await errand.runs.wait(runId as string, { timeout: '10s' })).toMatchObject({ status: 'completed' })
        continue
      }
      // The killed session's transaction is rolled back by the server; until then its key
      // is held, and this enqueue waits for it instead of failing or duplicating.
      const retry = await errand.enqueue('ship', { order }, { idempotencyKey: order })
      expect(retry.created).toBe(true)
      expect(await orderExists(order)).toBe(false)
      if (runId) expect(await errand.runs.get(runId)).toBeNull()
    }
    // Every run that exists has its order or was enqueued again by the test; none ran twice.
    expect(new Set(started).size).toBe(started.length)
  }, 60_000)

  it("accepts a query builder's handle whose query(text, values) resolves to the rows array", async () => {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      // The shape of wrappers that hand back rows only, with every value as text.
      const wrapper = {
        query: async (text: string, values?: unknown[]) => {
          const result = await client.query({ text, values, types: { getTypeParser: () => (value: string) => value } })
          return result.rows
        },
      }
      const [first, again] = await errand.enqueueMany('ship', [
        { payload: { n: 1 }, options: { idempotencyKey: 'w' } },
        { payload: { n: 2 }, options: { idempotencyKey: 'w' } },
      ], { tx: wrapper })
      expect(first).toMatchObject({ created: true, run: { payload: { n: 1 }, attempt: 0, maxAttempts: 3 } })
      expect(again).toMatchObject({ created: false, id: first?.id })
      expect(first?.run.createdAt).toBeInstanceOf(Date)
      await client.query('COMMIT')
      expect(await errand.runs.get(first?.id as string)).toMatchObject({ status: 'queued', payload: { n: 1 } })
    } finally {
      client.release()
    }
  })

  it('rejects a tx that cannot run queries, writing nothing', async () => {
    await expect(errand.enqueue('ship', {}, { tx: { notAClient: true } })).rejects.toMatchObject({ code: 'invalid_option' })
    expect((await errand.runs.list()).runs).toEqual([])
  })
})
