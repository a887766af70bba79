/**
 * errand/http: the HTTP API and the web dashboard, on Hono.
 * @packageDocumentation
 */
export { createHttpApp, type HttpAppOptions } from './app.js'
export { serve, createNodeHandler, isLoopback, type ServeOptions, type ServedApp } from './serve.js'
export type { AuthHook, AuthResult, Principal } from './security.js'
export { HttpError, type ErrorBody, type HttpErrorCode } from './errors.js'
export { API_VERSION } from './openapi.js'
