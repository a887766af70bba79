/**
 * Type-level tests of the durably facade, compiled by `tsc --noEmit` (npm test): the seed's
 * "Type Inference" example, with its type error asserted.
 */
import { z } from 'zod'
import { createDurably, defineJob } from 'errand/compat/durably'
import { createErrand } from 'errand'

const durably = createDurably({ errand: createErrand() })

const exampleJob = defineJob({
  name: 'example',
  input: z.object({ id: z.string() }),
  output: z.object({ result: z.number() }),
  run: async (step, payload) => {
    const id: string = payload.id // payload is typed as { id: string }
    void id
    return { result: 42 } // Must match output schema
  },
})

const { job } = durably.register({
  job: exampleJob,
})

export async function typed(): Promise<void> {
  await job.trigger({ id: 'abc' }) // OK
  // @ts-expect-error the input schema's type
  await job.trigger({ wrong: 1 }) // Type error
  const { output } = await job.triggerAndWait({ id: 'abc' }, { timeout: 30000 })
  const n: number = output.result
  void n
  // @ts-expect-error output is { result: number }
  const s: string = output.result
  void s
  // @ts-expect-error batch items are checked too
  await job.batchTrigger([{ input: { id: 1 } }])
  const runs = await job.getRuns({ status: 'failed', limit: 10, offset: 0 })
  // @ts-expect-error durably's status vocabulary
  await job.getRuns({ status: 'dead_lettered' })
  void runs
}

defineJob({
  name: 'wrong-output',
  input: z.object({}),
  output: z.object({ result: z.number() }),
  // @ts-expect-error the run function must return the output schema's type
  run: async () => ({ result: 'no' }),
})
