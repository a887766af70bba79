import pg from 'pg'

/**
 * After a seed on PostgreSQL: leaves the tables as a long-lived store's would be. Vacuum and
 * analyze them (what autovacuum does to a table that grew), then checkpoint, so the seed's
 * WAL is not flushed in the middle of the measurement. On a new connection, after the
 * seeding one has closed: a backend reports its row counts to the statistics only every
 * second or at exit, and counts arriving after the vacuum would have autovacuum analyze the
 * table again during the measurement.
 */
export async function settlePostgres(url: string, tables: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`VACUUM (ANALYZE) ${tables.join(', ')}`)
    await client.query('CHECKPOINT').catch(() => {})
  } finally {
    await client.end()
  }
}
