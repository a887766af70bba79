/**
 * The Queuebase API (`job`, `createJobRouter`, `jobClient.<job>.enqueue`, `getStatus`) as a
 * facade over errand: in process (`createQueuebase`) or over errand's HTTP API
 * (`createHttpJobClient`). Each job of the router is an errand task named by its key.
 * @packageDocumentation
 */
import type { Errand } from '../../index.js'
import { validateWithSchema } from '../../runtime/schema.js'
import type { Worker } from '../../runtime/worker.js'
import type { WorkerOptions } from '../../runtime/worker-options.js'
import { retryOf, toEnqueueOptions, toStatus, type EnqueueResult, type JobClient, type JobRouter } from './jobs.js'

export * from './jobs.js'

/** The in-process client and worker of a router. */
export interface Queuebase<R extends JobRouter> {
  jobClient: JobClient<R>
  /** Starts an errand worker running the router's jobs. */
  start(options?: WorkerOptions): Promise<void>
  stop(): Promise<void>
}

/** Registers the router's jobs as errand tasks and returns a client that enqueues them in process. */
export function createQueuebase<R extends JobRouter>(options: { errand: Errand; router: R }): Queuebase<R> {
  const { errand, router } = options
  const jobClient: Record<string, { enqueue: (input: unknown, options?: object) => Promise<EnqueueResult> }> = {}
  for (const [name, definition] of Object.entries(router)) {
    const { defaults } = definition
    errand.task(
      name,
      {
        input: definition.input,
        retry: retryOf(defaults),
        ...(defaults.concurrency !== undefined ? { concurrency: defaults.concurrency } : {}),
      },
      (input, ctx) => definition.handler({ input, jobId: ctx.runId, attempt: ctx.attempt, maxAttempts: ctx.maxAttempts, signal: ctx.signal }),
    )
    jobClient[name] = {
      async enqueue(input, enqueueOptions) {
        const handle = await errand.enqueue(name, input, toEnqueueOptions(name, definition, enqueueOptions))
        return { jobId: handle.id, getStatus: async () => toStatus((await handle.get()) ?? handle.run) }
      },
    }
  }
  let worker: Worker | null = null
  return {
    jobClient: jobClient as JobClient<R>,
    async start(workerOptions) {
      if (worker) return
      worker = errand.worker({ ...workerOptions, tasks: Object.keys(router) })
      await worker.start()
    },
    async stop() {
      await worker?.stop()
      worker = null
    },
  }
}

/**
 * A client for another process: enqueues through errand's HTTP API (`POST api/tasks/:name/runs`)
 * and reads status with a fresh `GET api/runs/:id` on every `getStatus()` call. `apiUrl` is
 * where the errand app is mounted (e.g. `http://127.0.0.1:4680/`). Input is validated here,
 * before any request, and again by the server.
 */
export function createHttpJobClient<R extends JobRouter>(router: R, options: { apiUrl: string; headers?: Record<string, string>; fetch?: typeof fetch }): JobClient<R> {
  const base = options.apiUrl.endsWith('/') ? options.apiUrl : `${options.apiUrl}/`
  const doFetch = options.fetch ?? fetch
  const call = async (path: string, init?: RequestInit): Promise<any> => {
    const response = await doFetch(new URL(path, base), { ...init, headers: { 'content-type': 'application/json', ...options.headers } })
    const body: any = await response.json()
    if (!response.ok) throw new Error(`Queuebase request ${path} failed (${response.status}): ${body?.error?.message ?? JSON.stringify(body)}`)
    return body
  }
  const client: Record<string, { enqueue: (input: unknown, options?: object) => Promise<EnqueueResult> }> = {}
  for (const [name, definition] of Object.entries(router)) {
    client[name] = {
      async enqueue(input, enqueueOptions) {
        const spec = toEnqueueOptions(name, definition, enqueueOptions)
        await validateWithSchema(definition.input, input, `The input of job "${name}"`)
        const { run } = await call(`api/tasks/${encodeURIComponent(name)}/runs`, { method: 'POST', body: JSON.stringify({ payload: input, options: spec }) })
        const id: string = run.id
        return { jobId: id, getStatus: async () => toStatus((await call(`api/runs/${encodeURIComponent(id)}`)).run) }
      },
    }
  }
  return client as JobClient<R>
}
