/**
 * The raw PostgreSQL limit on the same server, no library: how fast claim-and-complete can
 * go when a job costs a share of one batched claim (`FOR UPDATE SKIP LOCKED`) and a share of
 * one completion statement over arrays, fenced on `(id, status, attempt)` as errand's is. It
 * is the ceiling the libraries are read against: what is left between a library and this
 * line is the library's own work (round trips, commits, bookkeeping), not PostgreSQL's.
 */
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import type { PeersConfig } from './config.js'
import { freshLocation } from './infra.js'
import type { Plan } from './run.js'

const SCHEMA = `
  CREATE TABLE job (
    id bigserial PRIMARY KEY,
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'queued',
    run_at timestamptz NOT NULL DEFAULT now(),
    attempt int NOT NULL DEFAULT 0
  );
  CREATE INDEX job_due ON job (run_at, id) WHERE status = 'queued';`

const CLAIM = `
  WITH due AS (
    SELECT id FROM job WHERE status = 'queued' AND run_at <= now()
    ORDER BY run_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
  UPDATE job j SET status = 'running', attempt = j.attempt + 1 FROM due WHERE j.id = due.id
  RETURNING j.id, j.attempt`

const COMPLETE = `
  UPDATE job j SET status = 'completed'
  FROM unnest($1::bigint[], $2::int[]) AS done(id, attempt)
  WHERE j.id = done.id AND j.status = 'running' AND j.attempt = done.attempt`

/** One connection's loop: claim up to `claim`, complete them in one statement, until none are left. */
async function loop(client: pg.Client, claim: number): Promise<number> {
  let statements = 0
  for (;;) {
    const { rows } = await client.query<{ id: string; attempt: number }>(CLAIM, [claim])
    statements++
    if (!rows.length) return statements
    await client.query(COMPLETE, [rows.map((r) => r.id), rows.map((r) => r.attempt)])
    statements++
  }
}

export function rawPlans(config: PeersConfig): Plan[] {
  const shapes = [
    { claim: 1, connections: 1 },
    { claim: 50, connections: 1 },
    { claim: 500, connections: 1 },
    { claim: 50, connections: 4 },
    { claim: 500, connections: 4 },
  ]
  return shapes.map(({ claim, connections }) => ({
    system: 'raw PostgreSQL',
    scenario: `raw.claim${claim}x${connections}`,
    label: `claim ${claim} + one completion statement, ${connections} connection(s)`,
    async measure(servers) {
      const where = await freshLocation(servers, 'postgres')
      const clients = Array.from({ length: connections }, () => new pg.Client({ connectionString: where.location }))
      try {
        await Promise.all(clients.map((c) => c.connect()))
        await clients[0]!.query(SCHEMA)
        await clients[0]!.query(`INSERT INTO job (payload) SELECT jsonb_build_object('i', i) FROM generate_series(1, $1) AS i`, [config.runs])
        const t0 = performance.now()
        const statements = (await Promise.all(clients.map((c) => loop(c, claim)))).reduce((a, b) => a + b, 0)
        const elapsedMs = performance.now() - t0
        // Each statement is its own transaction: one round trip and one commit.
        const perJob = { 'round trips and commits': statements / config.runs }
        return { runs: config.runs, done: config.runs, elapsedMs, perSec: (config.runs / elapsedMs) * 1000, perJob }
      } finally {
        await Promise.all(clients.map((c) => c.end()))
        await where.drop()
      }
    },
  }))
}
