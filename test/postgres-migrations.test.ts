/**
 * PostgreSQL migrations (RELIABILITY.md scenario 16, first half): ten processes migrate an
 * empty database at the same moment; every one succeeds and each migration is recorded
 * exactly once. Also: re-running is a no-op, and a schema name that needs quoting works.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { POSTGRES_MIGRATIONS } from '../src/storage/postgres/migrations.js'
import { postgresStore } from '../src/storage/postgres/index.js'
import { newRun } from './support/new-run.js'
import { postgresUrl } from './support/stores.js'

const url = postgresUrl()
const DRIVER = fileURLToPath(new URL('../src/storage/postgres/index.ts', import.meta.url))
const PROCESSES = 10

/**
 * A child process: opens its pool and connects (so connection set-up does not spread the
 * start), says "ready", waits for "go" on stdin, then migrates and reports.
 */
const CHILD = `
  import pg from 'pg'
  const { postgresStore } = await import(process.env.DRIVER)
  const pool = new pg.Pool({ connectionString: process.env.DB_URL, max: 2 })
  await pool.query('SELECT 1')
  const store = postgresStore({ pool }, { schema: process.env.SCHEMA })
  process.stdout.write('ready\\n')
  process.stdin.once('data', async () => {
    try {
      await store.migrate()
      process.stdout.write('migrated\\n')
      await store.close()
      await pool.end()
      process.exit(0)
    } catch (error) {
      process.stderr.write(String(error && error.stack || error))
      process.exit(1)
    }
  })
`

interface Child {
  ready: Promise<void>
  exit: Promise<{ code: number | null; output: string }>
  go(): void
}

function startChild(dbUrl: string, schema: string): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
    env: { ...process.env, DB_URL: dbUrl, SCHEMA: schema, DRIVER },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let output = ''
  let onReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  proc.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString()
    if (output.includes('ready')) onReady()
  })
  proc.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exit = new Promise<{ code: number | null; output: string }>((resolve) => proc.on('exit', (code) => resolve({ code, output })))
  return { ready: Promise.race([ready, exit.then(() => {})]), exit, go: () => proc.stdin.end('go\n') }
}

describe.skipIf(!url)('postgres migrations', () => {
  const database = `errand_migrations_${randomBytes(4).toString('hex')}`
  let admin: pg.Client
  let dbUrl: string

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: url as string })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${database}`)
    const parsed = new URL(url as string)
    parsed.pathname = `/${database}`
    dbUrl = parsed.toString()
  })

  afterAll(async () => {
    await admin?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    await admin?.end()
  })

  it(`${PROCESSES} processes migrating an empty database at once all succeed and apply each migration once`, async () => {
    const children = Array.from({ length: PROCESSES }, () => startChild(dbUrl, 'errand'))
    await Promise.all(children.map((child) => child.ready))
    for (const child of children) child.go()
    const exits = await Promise.all(children.map((child) => child.exit))
    for (const exit of exits) expect(exit, exit.output).toMatchObject({ code: 0 })
    expect(exits.every((exit) => exit.output.includes('migrated'))).toBe(true)

    const client = new pg.Client({ connectionString: dbUrl })
    await client.connect()
    try {
      const { rows } = await client.query<{ version: number; n: number }>(
        'SELECT version, count(*)::int AS n FROM errand.migrations GROUP BY version ORDER BY version',
      )
      expect(rows).toEqual(POSTGRES_MIGRATIONS.map((migration) => ({ version: migration.version, n: 1 })))
      const tables = await client.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'errand' ORDER BY table_name",
      )
      expect(tables.rows.map((row) => row.table_name)).toEqual(expect.arrayContaining(['attempts', 'migrations', 'runs']))
    } finally {
      await client.end()
    }
  }, 60_000)

  it('migrating again applies nothing, and a schema name that needs quoting works end to end', async () => {
    const schema = `Odd "schema"; DROP TABLE x --`
    const first = postgresStore({ connectionString: dbUrl }, { schema })
    const second = postgresStore({ connectionString: dbUrl }, { schema })
    try {
      await first.migrate()
      await second.migrate()
      const now = new Date()
      const [inserted] = await first.runInsertMany({
        now,
        runs: [newRun({ id: '01900000-0000-7000-8000-000000000001', task: 't', payloadJson: '{"ok":true}', maxAttempts: 1, runAt: now })],
      })
      expect(inserted?.created).toBe(true)
      const [claimed] = await second.runClaim({ workerId: 'w', tasks: ['t'], limit: 5, leaseMs: 10_000, now })
      expect(claimed).toMatchObject({ id: inserted?.run.id, payload: { ok: true }, status: 'running', attempt: 1 })
      const client = new pg.Client({ connectionString: dbUrl })
      await client.connect()
      const { rows } = await client.query('SELECT version FROM "Odd ""schema""; DROP TABLE x --".migrations')
      await client.end()
      expect(rows).toHaveLength(POSTGRES_MIGRATIONS.length)
    } finally {
      await Promise.all([first.close(), second.close()])
    }
  })
})
