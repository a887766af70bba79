/** Type-level tests of the graphile-worker facade, compiled by `tsc --noEmit` (npm test). */
import { createErrand } from 'errand'
import { createGraphileWorker, type Job } from 'errand/compat/graphile-worker'
import { sqliteStore } from 'errand/sqlite'

const { addJob } = createGraphileWorker({
  errand: createErrand({ store: sqliteStore({ path: ':memory:' }) }),
  taskList: { send_email: async (payload, helpers) => helpers.logger.info(String(helpers.job.id)) },
})

export async function typed(): Promise<void> {
  const job: Job = await addJob('send_email', { to: 'someone@example.com' })
  const key: string | null = job.key
  void key
  await addJob('send_email', [{ to: 'a' }], { jobKey: 'k', jobKeyMode: 'preserve_run_at', queueName: 'q', priority: 1, flags: ['f'] })
  // @ts-expect-error jobKeyMode is one of replace, preserve_run_at, unsafe_dedupe
  await addJob('send_email', {}, { jobKey: 'k', jobKeyMode: 'merge' })
  // @ts-expect-error runAt is a Date
  await addJob('send_email', {}, { runAt: '2026-01-01' })
}
