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
