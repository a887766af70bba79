/** Type-level tests of the Kumofire facade, compiled by `tsc --noEmit` (npm test). */
import { createErrand } from 'errand'
import { createKumofire } from 'errand/compat/kumofire'
import { sqliteStore } from 'errand/sqlite'

const { jobs, runtime } = createKumofire({
  errand: createErrand({ store: sqliteStore({ path: ':memory:' }) }),
  handlers: { email: async (payload: { to: string }) => payload.to },
})

export async function typed(): Promise<void> {
  const { kumofireJobRunId } = await jobs.create({ name: 'email', payload: { to: 'a' }, runAt: new Date(), maxAttempts: 3, dedupeKey: 'k' })
  const id: string = kumofireJobRunId
  void id
  // @ts-expect-error the name must match a handler in the runtime handler map
  await jobs.create({ name: 'sms', payload: {} })
  // @ts-expect-error runAt is a Date
  await jobs.create({ name: 'email', payload: {}, runAt: 5 })
  const moved: number = await runtime.dispatchScheduled()
  void moved
}
