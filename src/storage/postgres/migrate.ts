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
 */
export async function applyMigrations(pool: pg.Pool, schema: string): Promise<void> {
  const s = quoteIdent(schema)
  await withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1::int4, hashtext($2))', [LOCK_CLASS, schema])
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`)
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    )
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${s}.migrations`)
    const applied = new Set(rows.map((row) => row.version))
    for (const migration of POSTGRES_MIGRATIONS) {
      if (applied.has(migration.version)) continue
      await client.query(migration.sql(s))
      await client.query(`INSERT INTO ${s}.migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name])
    }
  })
}
