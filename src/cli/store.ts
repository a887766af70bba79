/**
 * Which database a command works on, and opening it. The command line wins, then the
 * environment, then `./errand.db` (the default of `createErrand` and of the example app).
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { createErrand, type Errand } from '../index.js'
import { CommandError, UsageError } from './args.js'

/** The default SQLite file, as `createErrand()` and `sqliteStore()` use it. */
export const DEFAULT_DATABASE = './errand.db'

/**
 * Environment variables read in order when there is no `--database`. `ERRAND_DB` is the one
 * the example app reads, so `ERRAND_DB=./my.db npm start` and the command agree.
 */
export const DATABASE_ENV = ['ERRAND_DATABASE', 'ERRAND_DB', 'DATABASE_URL'] as const

/** Where the database is, and what said so (for messages). */
export type DatabaseTarget =
  | { kind: 'postgres'; url: string; schema: string | undefined; source: string }
  | { kind: 'sqlite'; path: string; source: string }

/** Decides the database from `--database` / `--schema` and the environment. */
export function resolveDatabase(options: { database?: string; schema?: string }, env: NodeJS.ProcessEnv): DatabaseTarget {
  const fromEnv = DATABASE_ENV.find((name) => env[name]?.trim())
  const [value, source] =
    options.database !== undefined ? [options.database, '--database'] : fromEnv ? [env[fromEnv] as string, `$${fromEnv}`] : [DEFAULT_DATABASE, 'the default']
  const text = value.trim()
  if (text === '') throw new UsageError(`${source} is empty`)
  if (/^postgres(ql)?:\/\//i.test(text)) {
    if (options.schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(options.schema)) throw new UsageError(`--schema must be a plain identifier, got ${JSON.stringify(options.schema)}`)
    return { kind: 'postgres', url: text, schema: options.schema, source }
  }
  // Any other scheme is a mistake, not a file name: say so rather than create a file called "mysql:".
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)
  if (scheme) throw new UsageError(`${source}: unsupported database URL scheme "${scheme[1]}:" (use postgres:// or a SQLite file path)`)
  if (options.schema !== undefined) throw new UsageError('--schema applies to PostgreSQL only')
  return { kind: 'sqlite', path: text, source }
}

/** The target for messages, without a password. */
export function describeDatabase(target: DatabaseTarget): string {
  if (target.kind === 'sqlite') return resolve(target.path)
  try {
    const url = new URL(target.url)
    if (url.password) url.password = '***'
    return `${url.toString()}${target.schema ? ` (schema ${target.schema})` : ''}`
  } catch {
    return 'the PostgreSQL database'
  }
}

/**
 * Opens an errand instance on the target. Opening a SQLite store creates the file, so
 * unless `create` is set a missing file is an error: a typo in a path must not answer
 * "no runs" from a fresh empty database.
 */
export async function openErrand(target: DatabaseTarget, options: { create?: boolean } = {}): Promise<Errand> {
  // Each store is imported only when used: the command starts faster (pg alone costs about 80 ms to load).
  if (target.kind === 'postgres') {
    const { postgresStore } = await import('../storage/postgres/index.js')
    // Small pool: a command makes a few queries at a time (serve, the most, runs a handful).
    return createErrand({ store: postgresStore({ connectionString: target.url }, { schema: target.schema, maxConnections: 4 }) })
  }
  if (target.path !== ':memory:' && !options.create && !existsSync(target.path)) {
    throw new CommandError(`No errand database at ${resolve(target.path)} (from ${target.source}). Pass --database, or create it with "errand migrate"`)
  }
  const { sqliteStore } = await import('../storage/sqlite/index.js')
  return createErrand({ store: sqliteStore({ path: target.path }) })
}
