import type { StandardSchemaV1 } from '@standard-schema/spec'
import { ValidationError, type ValidationIssue } from '../core/errors.js'

/**
 * Validates `value` against any Standard Schema (zod, valibot, arktype...) and returns the
 * schema's output. Throws {@link ValidationError} listing every issue.
 */
export async function validateWithSchema<TOut>(
  schema: StandardSchemaV1<unknown, TOut>,
  value: unknown,
  what: string,
): Promise<TOut> {
  let result = schema['~standard'].validate(value)
  if (result instanceof Promise) result = await result
  if (result.issues) throw new ValidationError(what, result.issues.map(toIssue))
  return result.value
}

function toIssue(issue: StandardSchemaV1.Issue): ValidationIssue {
  const path = (issue.path ?? []).map((segment) => {
    const key = typeof segment === 'object' ? segment.key : segment
    return typeof key === 'number' ? key : String(key)
  })
  return { message: issue.message, path }
}

/** Whether a value looks like a Standard Schema. */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  return typeof value === 'object' && value !== null && '~standard' in value
}
