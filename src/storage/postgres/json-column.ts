/**
 * JSON values in `jsonb` columns, losslessly.
 *
 * `jsonb` refuses two things that JSON text (and the SQLite store) allows: the escape
 * `\u0000` and unpaired surrogate escapes such as `\ud800` (`JSON.stringify` writes lone
 * surrogates that way). A payload, output or error message holding one would make the whole
 * statement fail: for a batched completion, every result in the batch. Such a value is
 * stored instead as a one-key wrapper object holding the original JSON text as a string,
 * which `jsonb` accepts, and unwrapped on read. Ordinary values are stored as they are, so
 * they stay queryable with `->` and `->>`.
 *
 * An array is wrapped item by item instead, so that it stays a `jsonb` array: batch
 * payloads under a job key are appended in SQL (`payload || new`), which must work whatever
 * the items hold.
 */

const WRAP_KEY = '$errand:json'
/** Escapes `jsonb` rejects. False positives (an escaped backslash before `u0000`) only cost a wrap. */
const JSONB_UNSAFE = /\\u0000|\\ud[89a-f][0-9a-f]{2}/i
/** A value that already looks like the wrapper is wrapped too, so reading it back cannot mistake it. */
const LOOKS_WRAPPED = /^\s*\{\s*"\$errand:json"/

/** JSON text, as it should be bound to a `jsonb` parameter. `null` stays SQL NULL. */
export function toJsonbText(json: string): string
export function toJsonbText(json: string | null): string | null
export function toJsonbText(json: string | null): string | null {
  if (json === null) return null
  if (!JSONB_UNSAFE.test(json) && !json.includes(`"${WRAP_KEY}"`)) return json
  if (json.trimStart().startsWith('[')) {
    const items = JSON.parse(json) as unknown[]
    return `[${items.map((item) => wrapValue(JSON.stringify(item))).join(',')}]`
  }
  return wrapValue(json)
}

function wrapValue(json: string): string {
  if (!JSONB_UNSAFE.test(json) && !LOOKS_WRAPPED.test(json)) return json
  return JSON.stringify({ [WRAP_KEY]: json })
}

/** Reads a `jsonb` column selected as text (`col::text`); SQL NULL reads as `null`. */
export function fromJsonbText(text: string | null | undefined): unknown {
  if (text === null || text === undefined) return null
  const value: unknown = JSON.parse(text)
  // Nearly every value holds no wrapper: one substring search spares the per-object checks.
  if (!text.includes(`"${WRAP_KEY}"`)) return value
  return Array.isArray(value) ? value.map(unwrap) : unwrap(value)
}

function unwrap(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value)
    const inner = (value as Record<string, unknown>)[WRAP_KEY]
    if (keys.length === 1 && typeof inner === 'string') return JSON.parse(inner)
  }
  return value
}
