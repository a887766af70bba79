import type { StoreDriver } from '../driver.js'
import { PostgresDriver, type PostgresConnection, type PostgresStoreOptions } from './postgres-driver.js'

export type { PostgresConnection, PostgresStoreOptions } from './postgres-driver.js'

/**
 * The PostgreSQL store, for work spread over many processes and machines. Tables live in
 * their own schema (default `errand`), created with the migrations on first use; many
 * processes may start at once. Given a connection string the store owns its pool and ends
 * it on `close()`; given your `pg.Pool` it uses it and leaves it open.
 *
 * Enqueue inside your own transaction by passing your client as `tx`: the run exists if,
 * and only if, your transaction commits.
 *
 * Workers are woken by NOTIFY when runs are enqueued elsewhere, and waits when their run
 * finishes elsewhere (option `notify`, default on); polling stays the safety net. Give each errand instance its own store: `close()`
 * closes it, and a store skips its own notifications because its instance's workers were
 * already woken in-process.
 *
 * @example
 * const errand = createErrand({ store: postgresStore({ connectionString: process.env.DATABASE_URL }) })
 * @example
 * const client = await pool.connect()
 * await client.query('BEGIN')
 * await client.query('INSERT INTO users ...')
 * await errand.enqueue('send-welcome', { userId }, { tx: client })
 * await client.query('COMMIT')
 */
export function postgresStore(connection: PostgresConnection, options: PostgresStoreOptions = {}): StoreDriver {
  return new PostgresDriver(connection, options)
}
