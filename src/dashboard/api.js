// The HTTP API, by relative URLs: the dashboard works wherever the app is mounted.

/** Calls the API; throws an Error carrying `code` and `status` for error answers. */
export async function api(path, { method = 'GET', body, signal } = {}) {
  const init = { method, signal, credentials: 'same-origin', headers: { accept: 'application/json' } }
  if (method !== 'GET') {
    // JSON bodies on every change: the server refuses anything else (CSRF protection).
    init.headers['content-type'] = 'application/json'
    init.body = JSON.stringify(body ?? {})
  }
  const response = await fetch(`api/${path}`, init)
  const data = await response.json().catch(() => null)
  if (!response.ok) {
    const error = new Error(data?.error?.message ?? `${response.status} ${response.statusText}`)
    error.code = data?.error?.code
    error.status = response.status
    error.details = data?.error?.details
    throw error
  }
  return data
}

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue
    search.set(key, String(value))
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}
