import { InvalidOptionError } from '../../core/errors.js'

/**
 * Quotes an identifier for PostgreSQL: identifiers cannot be bound as parameters, so the
 * schema name is the one thing pasted into SQL text, and only in this quoted form.
 */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** Checks a schema name given by the user: non-empty, no NUL, at most 63 bytes (longer names are truncated by PostgreSQL). */
export function checkSchemaName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidOptionError('postgresStore: schema must be a non-empty string')
  if (name.includes('\u0000')) throw new InvalidOptionError('postgresStore: schema must not contain NUL')
  if (Buffer.byteLength(name, 'utf8') > 63) throw new InvalidOptionError(`postgresStore: schema "${name}" is longer than 63 bytes`)
  return name
}
