// Formatting of times, durations and statuses.

export const STATUSES = ['scheduled', 'queued', 'running', 'completed', 'cancelled', 'dead_lettered']
export const ACTIVE = ['scheduled', 'queued', 'running']
export const FINAL = ['completed', 'cancelled', 'dead_lettered']

export function statusLabel(status) {
  return status === 'dead_lettered' ? 'dead-lettered' : status
}

/** "3s ago", "in 5m", from an ISO time. */
export function relative(iso, now = Date.now()) {
  if (!iso) return '—'
  const diff = new Date(iso).getTime() - now
  const abs = Math.abs(diff)
  const text = abs < 1000 ? 'now' : duration(abs)
  if (text === 'now') return text
  return diff < 0 ? `${text} ago` : `in ${text}`
}

/** "850ms", "12s", "4m 10s", "3h 5m", "2d 4h". */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—'
  if (ms < 1000) return `${Math.round(ms)}ms`
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`
  const hours = Math.floor(m / 60)
  if (hours < 48) return m % 60 ? `${hours}h ${m % 60}m` : `${hours}h`
  return `${Math.floor(hours / 24)}d ${hours % 24}h`
}

/** Local date and time, to the second. */
export function absolute(iso) {
  if (!iso) return '—'
  const date = new Date(iso)
  return date.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' })
}

/** The time alone for today, with the date otherwise. */
export function compact(iso) {
  if (!iso) return '—'
  const date = new Date(iso)
  const time = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
  if (date.toDateString() === new Date().toDateString()) return time
  return `${date.toLocaleDateString(undefined, { month: 'short', day: 'numeric', year: 'numeric' })} ${time}`
}

/** The last block of a UUID: enough to tell runs apart in a list. */
export function shortId(id) {
  return id.slice(-12)
}

export function number(n) {
  return new Intl.NumberFormat().format(n)
}
