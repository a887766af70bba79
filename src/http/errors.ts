import { ErrandError } from '../index.js'

/** Codes of errors the HTTP layer raises itself, beside errand's own error codes. */
export type HttpErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'cross_origin'
  | 'not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'invalid_json'
  | 'validation_failed'
  | 'internal_error'
  | 'unavailable'

/** An error with an HTTP status, answered as `{ error: { code, message, details } }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: HttpErrorCode | string,
    message: string,
    readonly details: unknown = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

/** HTTP status for each errand error code; anything not listed is a 500. */
const STATUS_OF_CODE: Record<string, number> = {
  validation_failed: 400,
  invalid_option: 400,
  invalid_duration: 400,
  not_serializable: 400,
  unknown_task: 404,
  run_not_found: 404,
  invalid_transition: 409,
  task_conflict: 409,
  store_closed: 503,
}

/** The JSON body of an error response. */
export interface ErrorBody {
  error: { code: string; message: string; details: unknown }
}

/**
 * Turns anything thrown by a route into a status and body. errand's own errors keep their
 * stable code; anything unexpected becomes a 500 whose message says nothing about
 * internals (it goes to `onError` instead).
 */
export function errorResponseOf(error: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (error instanceof HttpError) {
    return { status: error.status, body: { error: { code: error.code, message: error.message, details: error.details } }, headers: error.headers }
  }
  if (error instanceof ErrandError) {
    const status = STATUS_OF_CODE[error.code] ?? 500
    if (status < 500 || error.code === 'store_closed') {
      return { status, body: { error: { code: error.code, message: error.message, details: error.details ?? null } }, headers: {} }
    }
  }
  return { status: 500, body: { error: { code: 'internal_error', message: 'Internal error', details: null } }, headers: {} }
}
