/** Text of `runs get` and `runs counts`. */
import { RUN_STATUSES, type Attempt, type Run, type RunCounts, type RunLog, type SerializedError, type Step } from '../../index.js'
import { compact, fields, relative, span, table, when } from '../format.js'

export interface RunDetail {
  run: Run
  attempts: Attempt[]
  steps: Step[]
  logs: RunLog[]
}

const errorText = (error: SerializedError | null) => (error ? `${error.name}: ${error.message}` : '-')
const unlessEmpty = (value: string | null, empty = value === null) => (empty ? undefined : (value as string))

/** The run's fields, then its attempts, steps and logs, each as a table. */
export function formatRunDetail(detail: RunDetail, now: Date): string {
  const { run } = detail
  const sections = [`Run ${run.id}`, runFields(run, now)]
  sections.push(
    `\nAttempts (${detail.attempts.length})`,
    detail.attempts.length === 0
      ? '  none yet'
      : indent(
          table(
            ['#', 'OUTCOME', 'STARTED', 'TOOK', 'WORKER', 'ERROR'],
            detail.attempts.map((a) => [String(a.attempt), a.outcome, a.startedAt.toISOString(), a.finishedAt ? span(a.finishedAt.getTime() - a.startedAt.getTime()) : '-', a.workerId ?? '-', errorText(a.error)]),
          ),
        ),
  )
  if (detail.steps.length > 0) {
    sections.push(
      `\nSteps (${detail.steps.length})`,
      indent(table(['NAME', 'KIND', 'ATTEMPT', 'COMPLETED', 'OUTPUT'], detail.steps.map((s) => [s.name, s.kind, String(s.attempt), s.completedAt.toISOString(), s.kind === 'sleep' ? `until ${when(s.wakeAt, now)}` : compact(s.output, 80)]))),
    )
  }
  sections.push(
    `\nLogs (${detail.logs.length})`,
    detail.logs.length === 0
      ? '  none'
      : indent(detail.logs.map((log) => `${log.at.toISOString()}  ${log.level.padEnd(5)}  #${log.attempt}  ${log.message}${log.data === null || log.data === undefined ? '' : `  ${compact(log.data, 120)}`}`).join('\n')),
  )
  return sections.join('\n')
}

function runFields(run: Run, now: Date): string {
  return fields([
    ['task', run.task],
    ['status', run.status],
    ['attempt', `${run.attempt}/${run.maxAttempts}`],
    ['priority', String(run.priority)],
    ['queue', unlessEmpty(run.queue)],
    ['concurrency key', run.concurrencyKey === null ? undefined : `${run.concurrencyKey} (limit ${run.concurrencyLimit})`],
    ['idempotency key', unlessEmpty(run.idempotencyKey)],
    ['job key', unlessEmpty(run.jobKey)],
    ['flags', unlessEmpty(run.flags.join(', '), run.flags.length === 0)],
    ['schedule', run.scheduleKey === null ? undefined : `${run.scheduleKey} (tick ${run.scheduledFor?.toISOString() ?? '-'})`],
    ['created', when(run.createdAt, now)],
    ['run at', when(run.runAt, now)],
    ['started', when(run.startedAt, now)],
    ['finished', run.completedAt ? when(run.completedAt, now) : undefined],
    ['locked by', run.lockedBy === null ? undefined : `${run.lockedBy}, lease ends ${relative(run.leaseExpiresAt, now)}`],
    ['timeout', run.timeoutMs === null ? 'none' : span(run.timeoutMs)],
    ['replay of', run.replayOf === null ? undefined : `${run.replayOf}${run.replayReason ? ` (${run.replayReason})` : ''}`],
    ['cancel reason', unlessEmpty(run.cancelReason)],
    ['payload', compact(run.payload)],
    ['output', run.output === null ? undefined : compact(run.output)],
    ['progress', run.progress === null || run.progress === undefined ? undefined : compact(run.progress)],
    ['error', run.error ? errorText(run.error) : undefined],
    ['metadata', Object.keys(run.metadata).length === 0 ? undefined : compact(run.metadata)],
  ])
}

/** Counts: a line of totals, then a table per task and per queue, one column per status. */
export function formatCounts(counts: RunCounts): string {
  const headers = RUN_STATUSES.map((status) => status.toUpperCase())
  const row = (name: string, total: number, byStatus: RunCounts['byStatus']) => [name, String(total), ...RUN_STATUSES.map((status) => String(byStatus[status]))]
  const rows = [row('all', counts.total, counts.byStatus)]
  const out = [table(['', 'TOTAL', ...headers], rows)]
  if (counts.byTask.length > 0) out.push('', table(['TASK', 'TOTAL', ...headers], counts.byTask.map((t) => row(t.task, t.total, t.byStatus))))
  if (counts.byQueue.length > 0) out.push('', table(['QUEUE', 'TOTAL', ...headers], counts.byQueue.map((q) => row(q.queue, q.total, q.byStatus))))
  return out.join('\n')
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n')
}
