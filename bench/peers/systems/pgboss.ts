/**
 * pg-boss 12: `send` one at a time, `insert` in bulk. Its worker polls: defaults are one job
 * every 2 s per worker, so the plain concurrency variants use `localConcurrency` workers at
 * the shortest documented interval (0.5 s). Tuned form is the documented batch mode: the
 * handler receives arrays of `batchSize` jobs, and `burstWhenBatchFull` keeps fetching while
 * batches come back full. The queue is created with `notify: true` so an idle worker is
 * woken by NOTIFY rather than by its next poll.
 *
 * pg-boss keeps completed jobs in its job table until `deleteAfterSeconds` (7 days by
 * default) has passed, so the retained scenario applies. The history is seeded with one
 * INSERT ... SELECT into `pgboss.job` (the queue's partition), each row as completion leaves
 * it (state `completed`, started and completed times) with the queue's own settings copied
 * the way `send` copies them, then vacuumed and analyzed.
 */
import pg from 'pg'
import { PgBoss } from 'pg-boss'
import { settlePostgres } from './settle.js'
import { HISTORY_STEP_MS, TASK, historyStart, type Adapter, type Payload, type SystemDef, type Variant } from './system.js'

async function open(url: string): Promise<Adapter> {
  const boss = new PgBoss({ connectionString: url })
  boss.on('error', (error) => console.error(`[pg-boss] ${error.message}`))
  await boss.start()
  await boss.createQueue(TASK, { notify: true })
  return {
    enqueueOne: async (payload) => void (await boss.send(TASK, payload)),
    enqueueMany: async (payloads) => void (await boss.insert(TASK, payloads.map((data) => ({ data })))),
    async work(variant, onJob) {
      const options = variant.defaults
        ? {}
        : variant.tuned
          ? { batchSize: 500, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 }
          : { localConcurrency: variant.concurrency, pollingIntervalSeconds: 0.5 }
      await boss.work<Payload>(TASK, options, async (jobs) => {
        for (const job of jobs) onJob(job.data)
      })
    },
    close: () => boss.stop({ graceful: false }),
  }
}

async function seed(url: string, count: number): Promise<void> {
  await (await open(url)).close()
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rowCount } = await client.query(
      `INSERT INTO pgboss.job (name, data, priority, state, start_after, created_on, started_on, completed_on, keep_until,
         expire_seconds, deletion_seconds, retry_limit, retry_delay, retry_backoff, retry_delay_max, policy, dead_letter, heartbeat_seconds)
       SELECT q.name, jsonb_build_object('i', i), 0, 'completed', x.t, x.t, x.t + interval '4 ms', x.t + interval '8 ms',
         x.t + q.retention_seconds * interval '1s', q.expire_seconds, q.deletion_seconds, q.retry_limit, q.retry_delay,
         q.retry_backoff, q.retry_delay_max, q.policy, q.dead_letter, q.heartbeat_seconds
       FROM pgboss.queue q, generate_series(1, $2::int) AS i,
         LATERAL (SELECT to_timestamp(($3::bigint + i::bigint * $4::int) / 1000.0) AS t) AS x
       WHERE q.name = $1`,
      [TASK, count, historyStart(count), HISTORY_STEP_MS],
    )
    if (rowCount !== count) throw new Error(`pg-boss seed wrote ${rowCount} rows, not ${count}`)
  } finally {
    await client.end()
  }
  await settlePostgres(url, ['pgboss.job'])
}

const variants: Variant[] = [
  { key: 'default', label: 'defaults (one worker, 1 job per fetch, polls every 2 s)', concurrency: 1, defaults: true },
  ...[1, 10, 50].map((c) => ({ key: `c${c}`, label: `localConcurrency ${c}, pollingIntervalSeconds 0.5`, concurrency: c })),
  { key: 'tuned', label: 'batchSize 500, burstWhenBatchFull', concurrency: 1, tuned: true },
]

/**
 * Pickup latency uses the tuned worker: with its defaults (1 job per 2 s) jobs arriving every
 * 20 ms queue up behind the poll, which measures the backlog, not the pickup.
 */
export const pgBoss: SystemDef = {
  name: 'pg-boss',
  store: 'postgres',
  pkg: 'pg-boss',
  variants,
  defaultWorker: variants[4]!,
  open,
  retained: { seed: (url, _queue, count) => seed(url, count) },
}
