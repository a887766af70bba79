import { InvalidOptionError } from '../core/errors.js'

/**
 * Paging cursors are opaque to users. Runs are listed newest first by id (ids are
 * time-ordered), so a cursor is the last id of the previous page.
 */
export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url')
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8')
  if (!/^[0-9a-f-]{36}$/.test(id)) throw new InvalidOptionError('Invalid cursor')
  return id
}
