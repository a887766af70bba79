/**
 * Type-level checks, compiled by `tsc --noEmit` as part of `npm test`: each
 * `@ts-expect-error` must flag a real type error, or the build fails.
 */
import { z } from 'zod'
import { createErrand, defineTask, type Run } from 'errand'
import { sqliteStore } from 'errand/sqlite'

const errand = createErrand({ store: sqliteStore({ path: ':memory:' }) })

const add = defineTask({
  name: 'add',
  input: z.object({ a: z.number(), b: z.number().default(1) }),
  output: z.object({ sum: z.number() }),
  run: async (payload) => ({ sum: payload.a + payload.b }),
})

const untyped = defineTask({ name: 'untyped', run: async (payload: { id: string }) => payload.id.length })

export async function typing(): Promise<void> {
  const { add: addHandle, untyped: untypedHandle } = errand.register({ add, untyped })
  await addHandle.enqueue({ a: 1 }) // b has a default: optional on input
  // @ts-expect-error a must be a number
  await addHandle.enqueue({ a: 'x' })
  // @ts-expect-error unknown options are refused
  await addHandle.enqueue({ a: 1 }, { delaySeconds: 5 })
  const { output } = await addHandle.enqueueAndWait({ a: 1, b: 2 })
  const sum: number = output.sum
  // @ts-expect-error the output has no such field
  output.missing
  await untypedHandle.enqueue({ id: 'x' })
  // @ts-expect-error the handler's payload type is what enqueue accepts
  await untypedHandle.enqueue({ id: 1 })
  const run: Run | null = await errand.runs.get('id')
  void sum
  void run
  await errand.schedules.upsert({ key: 'k', task: add, cron: '* * * * *', payload: { a: 1 } })
  await errand.schedules.upsert({ key: 'k', task: 'add', cron: '* * * * *', payload: 'anything, checked at run time' })
  // @ts-expect-error the payload must be what the task accepts
  await errand.schedules.upsert({ key: 'k', task: add, cron: '* * * * *', payload: { a: 'x' } })
  // @ts-expect-error overlap is 'allow' | 'skip' | 'queue'
  await errand.schedules.upsert({ key: 'k', task: 'add', cron: '* * * * *', overlap: 'wait' })
  // @ts-expect-error catchUp needs max
  await errand.schedules.upsert({ key: 'k', task: 'add', cron: '* * * * *', catchUp: { within: '1h' } })
  const scheduledFor: Date | null = run?.scheduledFor ?? null
  void scheduledFor
  defineTask({
    name: 'bad-output',
    output: z.object({ id: z.string() }),
    // @ts-expect-error the handler must return what the output schema accepts
    run: async () => ({ id: 42 }),
  })
}
