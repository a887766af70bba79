/**
 * A Queuebase client in its own process: it reaches errand only through the HTTP API at
 * `QUEUEBASE_API_URL`. It enqueues `generateExport` and runs the seed's polling example, then
 * prints `{ jobId, shown, statuses }` as one JSON line.
 *
 *   QUEUEBASE_API_URL=http://127.0.0.1:port/ node --import tsx test/process/queuebase-client.ts
 */
import { z } from 'zod'
import { createHttpJobClient, createJobRouter, job } from '../../src/compat/queuebase/index.js'

// The router as the client's code base has it: the schema and defaults, the handler never called here.
const router = createJobRouter({
  generateExport: job({
    input: z.object({ type: z.enum(['CSV', 'JSON']) }),
    handler: async () => {
      throw new Error('the client process runs no handlers')
    },
    defaults: { retries: 2 },
  }),
})

const jobClient = createHttpJobClient(router, { apiUrl: process.env.QUEUEBASE_API_URL ?? '' })
const statuses: string[] = []

const { jobId, getStatus } = await jobClient.generateExport.enqueue({
  type: "CSV",
});
const shown = await new Promise<string>((resolve) => {
  const poll = setInterval(async () => {
    const status = await getStatus();
    statuses.push(status.status)
    if (status.status === "completed") {
      clearInterval(poll);
      const downloadUrl = (status.result as { url: string }).url;
      // show download link
      resolve(downloadUrl)
    }
    if (status.status === "failed") {
      clearInterval(poll);
      // show error: status.error
      resolve(`error: ${status.error}`)
    }
  }, 1000);
})
process.stdout.write(`${JSON.stringify({ jobId, shown, statuses })}\n`)
