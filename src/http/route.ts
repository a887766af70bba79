import type { Context } from 'hono'
import type { z } from 'zod'
import type { Errand } from '../index.js'
import { readJsonBody } from './body.js'
import { HttpError } from './errors.js'
import type { Principal } from './security.js'

/** What a route handler gets: the validated request, and the errand behind the API. */
export interface RouteContext<TParams = Record<string, string>, TQuery = unknown, TBody = unknown> {
  errand: Errand
  params: TParams
  query: TQuery
  body: TBody
  principal: Principal
  hono: Context
  options: RouteOptions
}

/** Settings the routes read. */
export interface RouteOptions {
  bodyLimit: number
  eventsIntervalMs: number
  onError: (error: unknown) => void
}

/** One route of the API: how it is called, what it takes and answers, and what it does. */
export interface RouteSpec {
  method: 'GET' | 'POST'
  /** Hono syntax: `/api/runs/:id`. */
  path: string
  summary: string
  tag: string
  params?: z.ZodType
  query?: z.ZodType
  body?: z.ZodType
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>
  handle(context: RouteContext<any, any, any>): Promise<Response>
}

/** Checks a route's inputs with its schemas; a failure is a 400 that lists every issue. */
export async function parseInputs(spec: RouteSpec, c: Context, limit: number) {
  const params = spec.params ? check(spec.params, c.req.param(), 'path parameters') : c.req.param()
  const query = spec.query ? check(spec.query, queryObject(c), 'query') : {}
  const body = spec.body ? check(spec.body, await readJsonBody(c.req.raw, limit), 'body') : undefined
  return { params, query, body }
}

function check<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const details = result.error.issues.map((issue) => ({ path: issue.path.map((key) => (typeof key === 'number' ? key : String(key))), message: issue.message, code: issue.code }))
  const first = details[0]
  throw new HttpError(400, 'validation_failed', `Invalid ${where}${first ? `: ${first.path.join('.') || '(root)'}: ${first.message}` : ''}`, details)
}

/** The query string as an object: a key given once is a string, given several times an array. */
function queryObject(c: Context): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null)
  for (const [key, values] of Object.entries(c.req.queries())) out[key] = values.length === 1 ? (values[0] as string) : values
  return { ...out }
}

/** A JSON response. */
export function json(data: unknown, status = 200): Response {
  return new Response(JSON.stringify(data), { status, headers: { 'content-type': 'application/json; charset=utf-8' } })
}
