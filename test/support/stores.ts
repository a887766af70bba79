/**
 * The stores every behavioural test runs against. Tests iterate `storeKinds()` with
 * `describe.each`, so one suite covers every driver.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { StoreDriver } from '../../src/storage/driver.js'
import { postgresStore } from '../../src/storage/postgres/index.js'
import { sqliteStore } from '../../src/storage/sqlite/index.js'
import { POSTGRES_SKIP_ENV, POSTGRES_URL_ENV } from './postgres.js'

/** Enough to open the same store from another process. */
export type StoreSpec = { kind: 'sqlite'; path: string } | { kind: 'postgres'; connectionString: string; schema: string }

/** A fresh, empty store for one test, and how to throw it away. */
export interface TestStore {
  spec: StoreSpec
  /** Opens a new driver on this store (each call a new connection / handle). */
  open(): StoreDriver
  cleanup(): Promise<void>
}

export interface StoreKind {
  name: StoreSpec['kind']
  create(): Promise<TestStore>
}

/** Opens a driver from a spec; child processes use it too. */
export function openStore(spec: StoreSpec): StoreDriver {
  if (spec.kind === 'sqlite') return sqliteStore({ path: spec.path })
  if (spec.kind === 'postgres') return postgresStore({ connectionString: spec.connectionString }, { schema: spec.schema })
  throw new Error(`Unknown store kind ${(spec as { kind: string }).kind}`)
}

const sqliteKind: StoreKind = {
  name: 'sqlite',
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'errand-test-'))
    const spec: StoreSpec = { kind: 'sqlite', path: join(dir, 'errand.db') }
    return {
      spec,
      open: () => openStore(spec),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    }
  },
}

let schemas = 0

/**
 * PostgreSQL: the server of this test run (test/support/postgres.ts starts it), one fresh
 * schema per store, named after the test process so a leftover one can be traced. The
 * schema is created by the driver's own migrations, run here once so that, as with SQLite
 * (which migrates when opened), a test's first call does not also pay for creating the
 * tables (about 50 ms, several times that on a busy machine); migrating an empty database
 * is tested on its own in postgres-migrations.test.ts. Cleanup drops the schema.
 */
const postgresKind = (connectionString: string): StoreKind => ({
  name: 'postgres',
  async create() {
    const schema = `t${process.pid}_${++schemas}_${randomBytes(3).toString('hex')}`
    const spec: StoreSpec = { kind: 'postgres', connectionString, schema }
    const migrator = postgresStore({ connectionString }, { schema, notify: false })
    try {
      await migrator.migrate()
    } finally {
      await migrator.close()
    }
    return {
      spec,
      open: () => openStore(spec),
      cleanup: async () => {
        const client = new pg.Client({ connectionString })
        await client.connect()
        try {
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
        } finally {
          await client.end()
        }
      },
    }
  },
})

/** The test run's PostgreSQL URL, or null when it has none (the reason is printed once). */
export function postgresUrl(): string | null {
  const url = process.env[POSTGRES_URL_ENV]
  if (url) return url
  const reason = process.env[POSTGRES_SKIP_ENV] ?? 'the vitest global setup (test/support/postgres.ts) did not run'
  if (process.env.CI === 'true') throw new Error(`PostgreSQL is required under CI=true: ${reason}`)
  if (!warned) console.warn(`[errand tests] postgres store skipped: ${reason}`)
  warned = true
  return null
}
let warned = false

/** Every store kind available to this test run. */
export function storeKinds(): StoreKind[] {
  const url = postgresUrl()
  return url ? [sqliteKind, postgresKind(url)] : [sqliteKind]
}
