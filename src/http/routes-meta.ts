import { streamSSE } from 'hono/streaming'
import type { RunChange } from '../index.js'
import { json, type RouteSpec } from './route.js'
import { ActivityQuerySchema, ActivitySchema, CountsSchema, EmptyQuerySchema, ErrorSchema, TasksSchema } from './schemas.js'

/** A comment line every so often keeps proxies from closing an idle event stream. */
const KEEPALIVE_MS = 15_000

/** Tasks, counts, activity and the live event stream. */
export const metaRoutes: RouteSpec[] = [
  {
    method: 'GET',
    path: '/api/tasks',
    summary: 'The registered tasks',
    tag: 'tasks',
    query: EmptyQuerySchema,
    responses: { 200: { description: 'Tasks by name', schema: TasksSchema } },
    async handle({ errand }) {
      return json({ tasks: errand.describeTasks() })
    },
  },
  {
    method: 'GET',
    path: '/api/counts',
    summary: 'Run counts by status, per task and per queue',
    tag: 'stats',
    query: EmptyQuerySchema,
    responses: { 200: { description: 'Counts', schema: CountsSchema } },
    async handle({ errand }) {
      return json(await errand.runs.counts())
    },
  },
  {
    method: 'GET',
    path: '/api/activity',
    summary: 'Runs finished per time bucket over a recent window',
    tag: 'stats',
    query: ActivityQuerySchema,
    responses: { 200: { description: 'Buckets, oldest first', schema: ActivitySchema }, 400: { description: 'Invalid window', schema: ErrorSchema } },
    async handle({ errand, query }) {
      return json(await errand.runs.activity({ since: query.since, bucket: query.bucket }))
    },
  },
  {
    method: 'GET',
    path: '/api/events',
    summary: 'Server-Sent Events: `runs` events carry the runs that changed, in any process',
    tag: 'events',
    query: EmptyQuerySchema,
    responses: { 200: { description: 'An event stream; each `runs` event has a JSON array of changed runs', contentType: 'text/event-stream' } },
    async handle({ errand, hono, options }) {
      return streamSSE(hono, async (stream) => {
        let pending: RunChange[] = []
        let wake: (() => void) | null = null
        const stop = errand.runs.watch(
          (changes) => {
            pending.push(...changes)
            wake?.()
          },
          { interval: options.eventsIntervalMs, onError: options.onError },
        )
        let closed = false
        stream.onAbort(() => {
          closed = true
          wake?.()
        })
        try {
          await stream.writeSSE({ event: 'ready', data: '{}' })
          while (!closed) {
            await new Promise<void>((resolve) => {
              wake = resolve
              setTimeout(resolve, KEEPALIVE_MS).unref()
            })
            wake = null
            if (closed) break
            if (pending.length === 0) await stream.write(': keep-alive\n\n')
            else {
              const batch = pending
              pending = []
              await stream.writeSSE({ event: 'runs', data: JSON.stringify(batch) })
            }
          }
        } finally {
          stop()
        }
      })
    },
  },
]
