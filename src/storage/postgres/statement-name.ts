import { createHash } from 'node:crypto'

const names = new Map<string, string>()

/** A prepared statement's name: derived from its text, so one text always has one name on a connection. */
export function statementName(text: string): string {
  let name = names.get(text)
  if (!name) {
    name = `errand_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`
    names.set(text, name)
  }
  return name
}
