/** Type-level tests of the Queuebase facade, compiled by `tsc --noEmit` (npm test). */
import { z } from 'zod'
import { createErrand } from 'errand'
import { createHttpJobClient, createJobRouter, createQueuebase, job } from 'errand/compat/queuebase'
import { sqliteStore } from 'errand/sqlite'

const router = createJobRouter({
  sendEmail: job({
    input: z.object({ to: z.string(), subject: z.string(), body: z.string() }),
    handler: async ({ input }) => input.to.length,
  }),
})
const { jobClient } = createQueuebase({ errand: createErrand({ store: sqliteStore({ path: ':memory:' }) }), router })
const remote = createHttpJobClient(router, { apiUrl: 'http://127.0.0.1:4680/' })

export async function typed(): Promise<void> {
  const { jobId, getStatus } = await jobClient.sendEmail.enqueue({ to: 'a', subject: 'b', body: 'c' }, { delay: '5m', retries: 5, backoff: 'exponential', backoffDelay: 2000 })
  const status = await getStatus()
  const s: 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' = status.status
  void s, jobId
  // @ts-expect-error the input schema's type
  await jobClient.sendEmail.enqueue({ to: 'a' })
  // @ts-expect-error backoff is linear or exponential
  await jobClient.sendEmail.enqueue({ to: 'a', subject: 'b', body: 'c' }, { backoff: 'fixed' })
  // @ts-expect-error no such job in the router
  await jobClient.sendSms.enqueue({})
  // @ts-expect-error the HTTP client is typed by the same router
  await remote.sendEmail.enqueue({ wrong: 1 })
}
