import { HttpError } from './errors.js'

/** Whether a Content-Type header names JSON (`application/json`, with or without parameters). */
export function isJsonContentType(header: string | null | undefined): boolean {
  if (!header) return false
  const type = header.split(';')[0]?.trim().toLowerCase()
  return type === 'application/json'
}

/**
 * Reads a JSON request body of at most `limit` bytes. Checks the declared length first, then
 * counts bytes as they stream in, so an oversized body is refused without buffering it all.
 * An empty body reads as `{}`.
 */
export async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  if (!isJsonContentType(request.headers.get('content-type'))) {
    throw new HttpError(415, 'unsupported_media_type', 'Send the request body as JSON, with Content-Type: application/json')
  }
  const declared = Number(request.headers.get('content-length') ?? NaN)
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit)
  const text = await readLimited(request, limit)
  if (text.trim() === '') return {}
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new HttpError(400, 'invalid_json', `The body is not valid JSON: ${(error as Error).message}`)
  }
}

async function readLimited(request: Request, limit: number): Promise<string> {
  if (!request.body) return ''
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => {})
      throw tooLarge(limit)
    }
    chunks.push(value)
  }
  return new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(chunks))
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'payload_too_large', `The body is larger than ${limit} bytes`, { limit })
}
