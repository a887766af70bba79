/**
 * Stores the bench can measure. A target hands out a fresh, empty store location per
 * scenario (a new SQLite file; for PostgreSQL a new database), described by a plain
 * `StoreSpec` so child processes can open the same store. Adding a store means adding a
 * target here and a branch in `openStore`: the scenarios only ever see a `StoreDriver`.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { StoreDriver } from '../src/storage/driver.js'
import { sqliteStore } from '../src/storage/sqlite/index.js'

/** Enough to open a store from any process. */
export type StoreSpec = { kind: 'sqlite'; path: string } | { kind: 'postgres'; connectionString: string }

/** A fresh store for one scenario repetition, and how to throw it away. */
export interface StoreLocation {
  spec: StoreSpec
  cleanup(): Promise<void>
}

export interface BenchTarget {
  name: string
  /** Null when the target can run here, else why not (printed, and the target skipped). */
  unavailable(): Promise<string | null>
  fresh(dir: string): Promise<StoreLocation>
  /** Releases what `unavailable()` set up (a server it started). */
  dispose?(): Promise<void>
}

const REPO = resolve(import.meta.dirname, '..')
/** Being written by another engineer; loaded by path so this file compiles before it exists. */
const POSTGRES_MODULE = join(REPO, 'src/storage/postgres/index.ts')
const POSTGRES_HARNESS = join(REPO, 'test/support/postgres.ts')

export const sqliteTarget: BenchTarget = {
  name: 'sqlite',
  unavailable: async () => null,
  async fresh(dir) {
    const home = mkdtempSync(join(dir, 'errand-bench-'))
    return {
      spec: { kind: 'sqlite', path: join(home, 'errand.db') },
      cleanup: async () => rmSync(home, { recursive: true, force: true }),
    }
  },
}

/**
 * PostgreSQL: one new database per scenario, created with `pg` so it does not depend on
 * the driver's schema option. The server is `DATABASE_URL` when set (its user must be
 * allowed to create databases); otherwise the test harness (test/support/postgres.ts)
 * starts a throwaway local server with fsync on, and the bench stops it at the end.
 */
let adminUrl: string | null = null
let stopServer: (() => Promise<void>) | null = null

export const postgresTarget: BenchTarget = {
  name: 'postgres',
  async unavailable() {
    if (!existsSync(POSTGRES_MODULE)) return 'src/storage/postgres/index.ts does not exist yet'
    if (adminUrl) return null
    if (process.env.DATABASE_URL) {
      adminUrl = process.env.DATABASE_URL
      return null
    }
    if (!existsSync(POSTGRES_HARNESS)) return 'DATABASE_URL is not set and there is no test/support/postgres.ts to start a server'
    const harness = (await import(pathToFileURL(POSTGRES_HARNESS).href)) as { default(): Promise<() => Promise<void>>; POSTGRES_URL_ENV: string; POSTGRES_SKIP_ENV: string }
    stopServer = await harness.default()
    adminUrl = process.env[harness.POSTGRES_URL_ENV] ?? null
    return adminUrl ? null : (process.env[harness.POSTGRES_SKIP_ENV] ?? 'the test harness could not start PostgreSQL')
  },
  async fresh() {
    if (!adminUrl) throw new Error('postgres target used before unavailable() returned null')
    const admin = adminUrl
    const name = `errand_bench_${process.pid}_${(seq++).toString(36)}`
    await adminQuery(admin, `CREATE DATABASE ${name}`)
    const url = new URL(admin)
    url.pathname = `/${name}`
    return {
      spec: { kind: 'postgres', connectionString: url.toString() },
      cleanup: () => adminQuery(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
    }
  },
  async dispose() {
    await stopServer?.()
    stopServer = null
    adminUrl = null
  },
}
let seq = 0

async function adminQuery(connectionString: string, sql: string): Promise<void> {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

export const TARGETS: readonly BenchTarget[] = [sqliteTarget, postgresTarget]

export function findTarget(name: string): BenchTarget {
  const target = TARGETS.find((t) => t.name === name)
  if (!target) throw new Error(`Unknown target ${name}; one of ${TARGETS.map((t) => t.name).join(', ')}`)
  return target
}

/** Opens a driver on a spec; each call a new handle (a new connection pool on PostgreSQL). */
export async function openStore(spec: StoreSpec): Promise<StoreDriver> {
  if (spec.kind === 'sqlite') return sqliteStore({ path: spec.path })
  const mod = (await import(pathToFileURL(POSTGRES_MODULE).href)) as {
    postgresStore(options: { connectionString: string }): StoreDriver
  }
  return mod.postgresStore({ connectionString: spec.connectionString })
}
