import { z } from 'zod'
import type { RouteSpec } from './route.js'

/** Version of the HTTP contract, bumped when a route changes in a way clients notice. */
export const API_VERSION = '1.0.0'

function schemaOf(schema: z.ZodType): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>
  delete out.$schema
  return out
}

/** Path and query parameters of a route, from its schemas. */
function parametersOf(route: RouteSpec): unknown[] {
  const parameters: unknown[] = []
  for (const [where, schema] of [['path', route.params], ['query', route.query]] as const) {
    if (!schema) continue
    const json = schemaOf(schema) as { properties?: Record<string, unknown>; required?: string[] }
    for (const [name, property] of Object.entries(json.properties ?? {})) {
      parameters.push({ name, in: where, required: where === 'path' || (json.required ?? []).includes(name), schema: property })
    }
  }
  for (const match of route.path.matchAll(/:(\w+)/g)) {
    if (!route.params) parameters.push({ name: match[1], in: 'path', required: true, schema: { type: 'string' } })
  }
  return parameters
}

/**
 * The OpenAPI 3.1 document of the API, built from the same zod schemas that validate the
 * requests. Paths are relative to where the app is mounted (`servers: [{ url: '.' }]`).
 */
export function openApiDocument(routes: RouteSpec[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, '{$1}')
    const responses: Record<string, unknown> = {}
    for (const [status, response] of Object.entries(route.responses)) {
      responses[status] = {
        description: response.description,
        ...(response.schema || response.contentType
          ? { content: { [response.contentType ?? 'application/json']: response.schema ? { schema: schemaOf(response.schema) } : {} } }
          : {}),
      }
    }
    paths[path] ??= {}
    ;(paths[path] as Record<string, unknown>)[route.method.toLowerCase()] = {
      summary: route.summary,
      tags: [route.tag],
      operationId: `${route.method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/\/(\w)/g, (_, c: string) => c.toUpperCase()).replace(/\W/g, '')}`,
      parameters: parametersOf(route),
      ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(route.body) } } } } : {}),
      responses,
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'errand',
      version: API_VERSION,
      description: 'Runs of durable background jobs: list, inspect, enqueue, cancel, replay, wait and watch. Errors are `{ error: { code, message, details } }`.',
    },
    servers: [{ url: '.' }],
    paths,
  }
}
