import type { Hono } from 'hono'
import type { LayeronJobs } from '../../src/compat/layeron/index.js'
/** Mounts the seed's /signup route on `app`. */
export function mountSignup(app: Hono, jobs: LayeronJobs): void
