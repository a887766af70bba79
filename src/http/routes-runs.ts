import { parseDuration, RunCancelledError, RunFailedError, WaitTimeoutError, type Errand } from '../index.js'
import { HttpError } from './errors.js'
import { json, type RouteContext, type RouteSpec } from './route.js'
import {
  BulkBodySchema,
  BulkResultSchema,
  EnqueueBodySchema,
  ErrorSchema,
  ReasonBodySchema,
  RunDetailSchema,
  RunIdParamsSchema,
  RunListQuerySchema,
  RunListSchema,
  RunSchema,
  TaskParamsSchema,
  WaitQuerySchema,
  WaitSchema,
} from './schemas.js'

const MAX_WAIT_MS = 60_000
const error = (description: string) => ({ description, schema: ErrorSchema })

async function runOrThrow(errand: Errand, id: string) {
  const run = await errand.runs.get(id)
  if (!run) throw new HttpError(404, 'run_not_found', `Run ${id} not found`)
  return run
}

/** The routes that read and change runs. */
export const runRoutes: RouteSpec[] = [
  {
    method: 'GET',
    path: '/api/runs',
    summary: 'List runs, newest first, with filters and cursor paging',
    tag: 'runs',
    query: RunListQuerySchema,
    responses: { 200: { description: 'A page of runs', schema: RunListSchema }, 400: error('Invalid filter or cursor') },
    async handle({ errand, query }) {
      return json(await errand.runs.list(query))
    },
  },
  {
    method: 'POST',
    path: '/api/tasks/:task/runs',
    summary: 'Enqueue a run of a task',
    tag: 'runs',
    params: TaskParamsSchema,
    body: EnqueueBodySchema,
    responses: {
      201: { description: 'Created', schema: RunSchema },
      200: { description: 'An existing run with the same idempotency key', schema: RunSchema },
      400: error('Invalid payload or options'),
      404: error('Unknown task'),
    },
    async handle({ errand, params, body }: RouteContext<{ task: string }, unknown, { payload: unknown; options?: Record<string, unknown> }>) {
      const handle = await errand.enqueue(params.task, body.payload, body.options)
      return json({ run: handle.run, created: handle.created, reason: handle.reason }, handle.created ? 201 : 200)
    },
  },
  {
    method: 'GET',
    path: '/api/runs/:id',
    summary: 'A run with its attempts, steps and logs',
    tag: 'runs',
    params: RunIdParamsSchema,
    responses: { 200: { description: 'The run', schema: RunDetailSchema }, 404: error('No such run') },
    async handle({ errand, params }) {
      const run = await runOrThrow(errand, params.id)
      const [attempts, steps, logs] = await Promise.all([errand.runs.attempts(run.id), errand.runs.steps(run.id), errand.runs.logs(run.id, { limit: 1_000 })])
      return json({ run, attempts, steps, logs })
    },
  },
  {
    method: 'POST',
    path: '/api/runs/:id/cancel',
    summary: 'Cancel a run',
    tag: 'runs',
    params: RunIdParamsSchema,
    body: ReasonBodySchema,
    responses: { 200: { description: 'The cancelled run', schema: RunSchema }, 404: error('No such run'), 409: error('Already finished') },
    async handle({ errand, params, body }) {
      return json({ run: await errand.runs.cancel(params.id, { reason: body.reason }) })
    },
  },
  {
    method: 'POST',
    path: '/api/runs/:id/replay',
    summary: 'Replay a finished run: a new run of the same task and payload',
    tag: 'runs',
    params: RunIdParamsSchema,
    body: ReasonBodySchema,
    responses: { 201: { description: 'The new run', schema: RunSchema }, 404: error('No such run'), 409: error('Not finished yet') },
    async handle({ errand, params, body }) {
      const handle = await errand.runs.replay(params.id, { reason: body.reason })
      return json({ run: handle.run }, 201)
    },
  },
  {
    method: 'GET',
    path: '/api/runs/:id/wait',
    summary: 'Wait for a run to finish (long poll)',
    tag: 'runs',
    params: RunIdParamsSchema,
    query: WaitQuerySchema,
    responses: { 200: { description: 'The run, and whether it finished within the timeout', schema: WaitSchema }, 404: error('No such run') },
    async handle({ errand, params, query }) {
      const timeout = Math.min(MAX_WAIT_MS, parseDuration(query.timeout ?? '30s'))
      try {
        return json({ run: await errand.runs.wait(params.id, { timeout }), done: true })
      } catch (thrown) {
        if (thrown instanceof RunFailedError || thrown instanceof RunCancelledError) return json({ run: thrown.run, done: true })
        if (thrown instanceof WaitTimeoutError) return json({ run: await runOrThrow(errand, params.id), done: false })
        throw thrown
      }
    },
  },
  {
    method: 'POST',
    path: '/api/runs/cancel',
    summary: 'Cancel every scheduled, queued or running run that matches a filter',
    tag: 'bulk',
    body: BulkBodySchema,
    responses: { 200: { description: 'What was cancelled', schema: BulkResultSchema }, 400: error('Missing or invalid filter') },
    async handle({ errand, body }) {
      return json(await errand.runs.cancelMany(body.filter, { reason: body.reason, max: body.max }))
    },
  },
  {
    method: 'POST',
    path: '/api/runs/replay',
    summary: 'Replay every finished run that matches a filter',
    tag: 'bulk',
    body: BulkBodySchema,
    responses: { 200: { description: 'The new runs', schema: BulkResultSchema }, 400: error('Missing or invalid filter') },
    async handle({ errand, body }) {
      return json(await errand.runs.replayMany(body.filter, { reason: body.reason, max: body.max }))
    },
  },
]
