/**
 * The request schemas of the HTTP API. The same zod schemas validate every request and
 * produce the OpenAPI document (openapi.ts), so the two cannot drift apart.
 */
import { z } from 'zod'
import { RUN_STATUSES } from '../index.js'

export const RunStatusSchema = z.enum(RUN_STATUSES as unknown as [string, ...string[]]).describe('A run status')
const Duration = z.union([z.number().finite().nonnegative(), z.string().max(100)]).describe("Milliseconds, or a string such as '250ms' '5s' '5m' '1h' '2d' '1h30m'")
const IsoTime = z.string().max(64).describe('An ISO 8601 time')
const TaskName = z.string().min(1).max(200)
const QueueName = z.string().min(1).max(200)
const Reason = z.string().max(2_000).describe('Kept with the run')

/** A status list in a query: repeated (`status=a&status=b`) or comma-separated (`status=a,b`). */
const StatusList = z.preprocess(
  (value) => (value === undefined ? undefined : (Array.isArray(value) ? value : [value]).flatMap((item) => String(item).split(',')).filter(Boolean)),
  z.array(RunStatusSchema).min(1).max(RUN_STATUSES.length),
)

export const EnqueueOptionsSchema = z
  .object({
    delay: Duration.optional(),
    runAt: IsoTime.optional(),
    priority: z.number().int().optional(),
    maxAttempts: z.number().int().min(1).optional(),
    retry: z.record(z.string(), z.unknown()).optional().describe('Overrides the task retry policy, field by field'),
    timeout: z.union([Duration, z.literal(false)]).optional(),
    idempotencyKey: z.string().min(1).max(512).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    // A database handle cannot travel over HTTP.
    tx: z.never().optional(),
  })
  // Further options are passed on, and errand refuses the ones it does not know.
  .catchall(z.unknown())
  .describe('Enqueue options, as errand.enqueue takes them')

export const EnqueueBodySchema = z
  .object({ payload: z.unknown().describe('The payload, validated against the task input schema'), options: EnqueueOptionsSchema.optional() })
  .strict()

export const ReasonBodySchema = z.object({ reason: Reason.optional() }).strict()

export const RunFilterSchema = z
  .object({
    task: TaskName.optional(),
    status: z.union([RunStatusSchema, z.array(RunStatusSchema).min(1)]).optional(),
    queue: QueueName.optional(),
    schedule: z.string().min(1).max(200).optional(),
    createdFrom: IsoTime.optional(),
    createdBefore: IsoTime.optional(),
  })
  .strict()

export const BulkBodySchema = z
  .object({
    filter: RunFilterSchema,
    reason: Reason.optional(),
    max: z.number().int().min(1).max(10_000).optional().describe('At most this many runs. Default 1000'),
  })
  .strict()

export const RunListQuerySchema = z
  .object({
    task: TaskName.optional(),
    status: StatusList.optional(),
    queue: QueueName.optional(),
    schedule: z.string().min(1).max(200).optional().describe("Runs made by the schedule with this key"),
    createdFrom: IsoTime.optional(),
    createdBefore: IsoTime.optional(),
    limit: z.coerce.number().int().min(1).max(1_000).optional().describe('Default 50'),
    cursor: z.string().max(200).optional().describe('nextCursor of the previous page'),
  })
  .strict()

export const WaitQuerySchema = z.object({ timeout: z.string().max(20).optional().describe("How long to wait, at most '60s'. Default '30s'") }).strict()

export const ActivityQuerySchema = z
  .object({
    since: z.string().max(20).optional().describe("How far back. Default '1h'"),
    bucket: z.string().max(20).optional().describe("Bucket width. Default '1m'"),
  })
  .strict()

export const EmptyQuerySchema = z.object({}).strict()
export const RunIdParamsSchema = z.object({ id: z.string().min(1).max(100) })
export const TaskParamsSchema = z.object({ task: TaskName })

/** Schemas of responses, for the OpenAPI document only. */
export const ErrorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown() }),
})
const Time = z.string().describe('ISO 8601')
const SerializedErrorSchema = z.object({ name: z.string(), message: z.string(), code: z.string().optional(), stack: z.string().optional() })
export const RunSchema = z.object({
  id: z.string(),
  task: z.string(),
  status: RunStatusSchema,
  payload: z.unknown(),
  output: z.unknown(),
  error: SerializedErrorSchema.nullable(),
  attempt: z.number(),
  maxAttempts: z.number(),
  priority: z.number(),
  queue: z.string().nullable(),
  idempotencyKey: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  progress: z.unknown(),
  runAt: Time,
  createdAt: Time,
  startedAt: Time.nullable(),
  completedAt: Time.nullable(),
  updatedAt: Time,
  replayOf: z.string().nullable(),
  replayReason: z.string().nullable(),
  cancelReason: z.string().nullable(),
  scheduleKey: z.string().nullable().describe('The schedule that made it, if any'),
  scheduledFor: Time.nullable().describe('The schedule tick it ran for'),
})
export const AttemptSchema = z.object({
  runId: z.string(),
  attempt: z.number(),
  workerId: z.string().nullable(),
  startedAt: Time,
  finishedAt: Time.nullable(),
  outcome: z.string(),
  error: SerializedErrorSchema.nullable(),
})
export const RunDetailSchema = z.object({
  run: RunSchema,
  attempts: z.array(AttemptSchema),
  steps: z.array(z.record(z.string(), z.unknown())).describe('Durable steps, in the order they completed'),
  logs: z.array(z.record(z.string(), z.unknown())).describe('Messages logged by the handler, oldest first (the newest 1000)'),
})
export const RunListSchema = z.object({ runs: z.array(RunSchema), nextCursor: z.string().nullable() })
export const BulkResultSchema = z.object({ ids: z.array(z.string()), skipped: z.number(), more: z.boolean() })
const StatusCountsSchema = z.record(RunStatusSchema, z.number())
export const CountsSchema = z.object({
  total: z.number(),
  byStatus: StatusCountsSchema,
  byTask: z.array(z.object({ task: z.string(), total: z.number(), byStatus: StatusCountsSchema })),
  byQueue: z.array(z.object({ queue: z.string(), total: z.number(), byStatus: StatusCountsSchema })),
})
export const ActivitySchema = z.object({
  since: Time,
  bucketMs: z.number(),
  buckets: z.array(z.object({ at: Time, completed: z.number(), deadLettered: z.number(), cancelled: z.number() })),
})
export const TasksSchema = z.object({ tasks: z.array(z.record(z.string(), z.unknown())) })
export const WaitSchema = z.object({ run: RunSchema, done: z.boolean() })
