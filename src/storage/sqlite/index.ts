import type { StoreDriver } from '../driver.js'
import { SqliteDriver, type SqliteStoreOptions } from './sqlite-driver.js'

export type { SqliteStoreOptions } from './sqlite-driver.js'

/**
 * The embedded store: a SQLite file (WAL mode), nothing to install. Several processes on
 * one machine may share the file. Migrations run on open.
 *
 * @example
 * const errand = createErrand({ store: sqliteStore({ path: './errand.db' }) })
 */
export function sqliteStore(options: SqliteStoreOptions = {}): StoreDriver {
  return new SqliteDriver(options)
}
