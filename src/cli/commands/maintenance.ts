/** `errand migrate` and `errand prune`. */
import { durationOption, stringOption, UsageError } from '../args.js'
import { JSON_OPTION, type Command } from '../command.js'
import { toJson } from '../format.js'
import { pruneFinished } from '../../runtime/maintenance.js'

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Apply pending schema migrations; creates the SQLite file (or the PostgreSQL schema) if missing',
  positionals: { min: 0, max: 0 },
  options: {},
  examples: ['errand migrate -d ./errand.db', 'errand migrate -d postgres://localhost/app --schema errand'],
  notes: ['Every errand process applies pending migrations on first use too, under a lock; this runs them ahead of a deploy.'],
  async run({ open, out }) {
    await (await open({ create: true })).migrate()
    out('Migrations applied')
    return 0
  },
}

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'Delete finished runs (completed, cancelled, dead-lettered) that finished more than a duration ago',
  positionals: { min: 0, max: 0 },
  options: {
    'older-than': { type: 'string', value: 'DURATION', description: "Required: how long ago they finished ('7d', '12h')" },
    ...JSON_OPTION,
  },
  examples: ['errand prune --older-than 30d'],
  notes: [
    "Their attempts, steps and logs go with them, and their idempotency keys are freed. Workers already prune by themselves after their retention (default '7d'); this is for hosts without workers, or a shorter window now.",
  ],
  async run({ values, open, out }) {
    const olderThan = durationOption(values, 'older-than')
    if (olderThan === undefined) throw new UsageError('prune needs --older-than, e.g. --older-than 30d')
    const errand = await open()
    await errand.migrate()
    const finishedBefore = new Date(Date.now() - olderThan)
    // The pruning a worker's maintenance does, with this cutoff.
    const deleted = await pruneFinished(errand.store, finishedBefore)
    out(values.json ? toJson({ deleted, finishedBefore }) : `Deleted ${deleted} run${deleted === 1 ? '' : 's'} finished more than ${stringOption(values, 'older-than')} ago`)
    return 0
  },
}
