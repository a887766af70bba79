/** `errand schedules ...`: list recurring schedules, create or update one, trigger, pause, resume and delete them. */
import type { Errand, Schedule } from '../../index.js'
import { CommandError, integerOption, stringOption } from '../args.js'
import { JSON_OPTION, type Command } from '../command.js'
import { relative, table, toJson } from '../format.js'
import { upsertCommand } from './schedule-upsert.js'

const list: Command = {
  name: 'schedules list',
  summary: 'List recurring schedules by key',
  positionals: { min: 0, max: 0 },
  options: {
    limit: { type: 'string', value: 'N', description: 'Schedules per page, 1 to 1000. Default all' },
    after: { type: 'string', value: 'KEY', description: 'Start after this key (the last key of the previous page)' },
    ...JSON_OPTION,
  },
  examples: ['errand schedules list', 'errand schedules list --limit 100 --after nightly-report --json'],
  async run({ values, open, out }) {
    const limit = integerOption(values, 'limit', 1, 1000)
    const schedules = await (await open()).schedules.list({ after: stringOption(values, 'after'), limit })
    if (values.json) {
      out(toJson({ schedules }))
      return 0
    }
    const now = new Date()
    const rows = schedules.map((s) => [s.key, s.task, s.cron, s.timezone, s.enabled ? 'active' : 'paused', relative(s.nextTickAt, now), lastTick(s, now)])
    out(schedules.length === 0 ? 'No schedules.' : table(['KEY', 'TASK', 'CRON', 'TIME ZONE', 'STATE', 'NEXT TICK', 'LAST TICK'], rows))
    return 0
  },
}

function lastTick(schedule: Schedule, now: Date): string {
  return schedule.lastTick ? `${relative(schedule.lastTick.at, now)} (${schedule.lastTick.outcome})` : '-'
}

/** A command acting on one schedule by key. */
function keyCommand(name: string, summary: string, act: (errand: Errand, key: string) => Promise<{ text: string; json: unknown }>, notes?: string[]): Command {
  return {
    name: `schedules ${name}`,
    summary,
    args: '<key>',
    positionals: { min: 1, max: 1 },
    options: { ...JSON_OPTION },
    examples: [`errand schedules ${name} nightly-report`],
    notes,
    async run({ positionals, values, open, out }) {
      const result = await act(await open(), positionals[0] as string)
      out(values.json ? toJson(result.json) : result.text)
      return 0
    },
  }
}

const trigger = keyCommand(
  'trigger',
  'Enqueue one run of a schedule now, even while paused',
  async (errand, key) => {
    const handle = await errand.schedules.trigger(key)
    return { text: `Triggered ${key}: run ${handle.id} (${handle.status})`, json: { run: handle.run } }
  },
)
const pause = keyCommand('pause', 'Pause a schedule; ticks while paused are never made up', async (errand, key) => {
  const schedule = await errand.schedules.pause(key)
  return { text: `Paused ${key}`, json: { schedule } }
})
const resume = keyCommand('resume', 'Resume a schedule from its first tick after now', async (errand, key) => {
  const schedule = await errand.schedules.resume(key)
  return { text: `Resumed ${key}: next tick ${schedule.nextTickAt?.toISOString() ?? '-'}`, json: { schedule } }
})
const remove = keyCommand(
  'delete',
  'Delete a schedule; its runs stay',
  async (errand, key) => {
    if (!(await errand.schedules.remove(key))) throw new CommandError(`Schedule ${key} not found`)
    return { text: `Deleted ${key}`, json: { deleted: true } }
  },
  ['A schedule declared in code comes back the next time a worker of that code starts.'],
)

export const scheduleCommands: Command[] = [list, upsertCommand, trigger, pause, resume, remove]
