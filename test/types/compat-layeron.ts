/** Type-level tests of the Layeron facade, compiled by `tsc --noEmit` (npm test). */
import { Hono } from 'hono'
import { createErrand } from 'errand'
import { createLayeron } from 'errand/compat/layeron'
import { sqliteStore } from 'errand/sqlite'

const job = createLayeron({ errand: createErrand({ store: sqliteStore({ path: ':memory:' }) }) })
const jobs = job({ name: 'background', namespace: 'app' })
const app = new Hono()
app.use(jobs)

export async function typed(): Promise<void> {
  jobs.task('t', { retry: { attempts: 8, backoff: { type: 'custom', delaysSeconds: [10, 30] } } }, async (payload, ctx) => ctx.runId)
  // @ts-expect-error backoff is exponential, fixed or { type: 'custom', delaysSeconds }
  jobs.task('u', { retry: { backoff: 'linear' } }, async () => {})
  const { runId } = await jobs.enqueue('t', {}, { idempotencyKey: 'k', delaySeconds: 5 })
  // @ts-expect-error delaySeconds is a number of seconds
  await jobs.enqueue('t', {}, { delaySeconds: '5s' })
  const { runs } = await jobs.runs.list({ taskName: 't', status: 'dead_lettered', limit: 50 })
  // @ts-expect-error not a status
  await jobs.runs.list({ status: 'failed' })
  await jobs.runs.replay(runs[0]?.runId ?? runId, { reason: 'endpoint recovered' })
}
