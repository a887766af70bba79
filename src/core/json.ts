import { NotSerializableError } from './errors.js'

/** A value that survives `JSON.stringify` / `JSON.parse` unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

const MAX_DEPTH = 200

/**
 * Serialises `value` for storage, refusing anything that would not read back the same:
 * functions, symbols, bigints, NaN and Infinity, class instances (Date, Map...), cycles and
 * very deep nesting. Object properties whose value is `undefined` are dropped, as JSON does;
 * a top-level `undefined` is stored as `null`.
 */
export function toStoredJson(value: unknown, what: string): string {
  if (value === undefined) return 'null'
  checkJson(value, what, [], new Set(), 0)
  return JSON.stringify(value)
}

function checkJson(value: unknown, what: string, path: Array<string | number>, seen: Set<object>, depth: number): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new NotSerializableError(what, path, `${value} is not a finite number`)
    return
  }
  if (typeof value !== 'object') throw new NotSerializableError(what, path, `a ${typeof value} cannot be stored`)
  if (depth > MAX_DEPTH) throw new NotSerializableError(what, path, `nested deeper than ${MAX_DEPTH} levels`)
  if (seen.has(value)) throw new NotSerializableError(what, path, 'it contains a cycle')
  seen.add(value)
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      if (item === undefined) throw new NotSerializableError(what, [...path, index], 'undefined in an array')
      checkJson(item, what, [...path, index], seen, depth + 1)
    })
  } else {
    const proto = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as object).constructor?.name ?? 'object'
      throw new NotSerializableError(what, path, `a ${name} is not a plain object (convert it first, e.g. a Date to an ISO string)`)
    }
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue
      checkJson(item, what, [...path, key], seen, depth + 1)
    }
  }
  seen.delete(value)
}

/** Reads stored JSON; `null` and missing columns read as `null`. */
export function fromStoredJson(text: string | null | undefined): unknown {
  if (text === null || text === undefined) return null
  return JSON.parse(text)
}
