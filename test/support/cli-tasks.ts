/**
 * Task definitions for test/cli.test.ts: the test registers them to seed runs, and the
 * `errand` command imports this module with `--tasks` to enqueue.
 */
import { z } from 'zod'
import { defineTask } from '../../src/index.js'

export const sendEmail = defineTask({
  name: 'send-email',
  input: z.object({ to: z.string() }),
  run: async (payload) => ({ sent: payload.to }),
})

export const report = defineTask({
  name: 'report',
  run: async (_payload, ctx) => {
    ctx.log('rendered report', { pages: 3 })
    return { pages: 3 }
  },
})

/** Takes a while, so a test can stop its worker while it runs; gives up if its signal aborts. */
export const slow = defineTask({
  name: 'slow',
  run: async (_payload, ctx) => {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, 1_000)
      ctx.signal.addEventListener('abort', () => (clearTimeout(timer), reject(ctx.signal.reason)), { once: true })
    })
    return { slept: true }
  },
})
