import type pg from 'pg'
import { POSTGRES_MIGRATIONS } from './migrations.js'
import { quoteIdent } from './schema-name.js'
import { withTransaction } from './queryable.js'

/** First key of the migration advisory lock: "errn", so errand's locks are recognisable in pg_locks. */
const LOCK_CLASS = 0x6572726e

/**
 * Applies pending migrations in one transaction under a transaction-scoped advisory lock
 * keyed on the schema name. Processes that start at once queue on the lock: the first
 * creates the schema and applies everything, the others then find every version recorded
 * and apply nothing. `CREATE SCHEMA IF NOT EXISTS` alone is not safe under concurrency (two
 * sessions can both pass the check and one fails on the catalog's unique index), which is
 * why it too runs under the lock. The lock ends with the transaction, even if the process dies.
 *
 * An up-to-date schema is recognised first without the lock or any DDL, so the usual start
 * costs one round trip and needs no CREATE privilege (PostgreSQL checks that privilege even for
 * `CREATE SCHEMA IF NOT EXISTS` on a schema that exists).
 */
export async function applyMigrations(pool: pg.Pool, schema: string): Promise<void> {
  const s = quoteIdent(schema)
  if (pendingMigrations(await appliedVersions(pool, s)).length === 0) return
  await withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1::int4, hashtext($2))', [LOCK_CLASS, schema])
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${s}`)
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    )
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${s}.migrations`)
    for (const migration of pendingMigrations(new Set(rows.map((row) => row.version)))) {
      await client.query(migration.sql(s))
      await client.query(`INSERT INTO ${s}.migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name])
    }
  })
}

/** SQLSTATEs of a schema or table that does not exist (yet). */
const MISSING = new Set(['42P01', '3F000'])

/**
 * Versions recorded in the schema; none when the schema or its migrations table does not
 * exist yet. One round trip: this runs on every start. Outside a transaction only, since
 * the error it expects on a fresh database would abort one.
 */
async function appliedVersions(client: pg.Pool, s: string): Promise<Set<number>> {
  try {
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${s}.migrations`)
    return new Set(rows.map((row) => row.version))
  } catch (error) {
    if (MISSING.has((error as { code?: string }).code ?? '')) return new Set()
    throw error
  }
}

function pendingMigrations(applied: Set<number>) {
  return POSTGRES_MIGRATIONS.filter((migration) => !applied.has(migration.version))
}
