import pg from 'pg'
import { afterEach, beforeEach } from 'vitest'
import { quoteIdent } from '../../src/storage/postgres/schema-name.js'
import { useErrand } from './errand.js'
import { storeKinds } from './stores.js'

/**
 * `useErrand` on PostgreSQL, for tests that also read or change the store's tables
 * directly: an admin client on the same database, connected for each test, and the
 * store's quoted schema name. Call it inside a block skipped when `url` is missing.
 */
export function usePostgresErrand(url: string) {
  const t = useErrand(storeKinds().find((candidate) => candidate.name === 'postgres')!)
  let client: pg.Client
  beforeEach(async () => {
    client = new pg.Client({ connectionString: url })
    await client.connect()
  })
  afterEach(() => client.end())
  return {
    get errand() {
      return t.errand
    },
    get store() {
      return t.store
    },
    get client() {
      return client
    },
    /** The store's schema, quoted for SQL. */
    get schema() {
      return quoteIdent((t.store.spec as { schema: string }).schema)
    },
  }
}
