/**
 * Task definitions from the user's own module (`--tasks ./dist/tasks.js`). errand validates
 * a payload against its task's input schema and applies the task's defaults at enqueue, so
 * it only enqueues tasks it has the definition of, in the HTTP API as in code; this is how
 * the command gets them, without running any handler.
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Errand, TaskDefinition } from '../index.js'
import { CommandError, type OptionSpecs } from './args.js'

export const TASKS_OPTION: OptionSpecs = {
  tasks: {
    type: 'string',
    value: 'MODULE',
    description: 'A module exporting task definitions (made with defineTask), registered so their runs can be enqueued',
  },
}

function isTask(value: unknown): value is TaskDefinition {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'errand.task'
}

/** Imports the module and registers every task definition it exports (directly, or as values of its default export). */
export async function registerTasksFrom(errand: Errand, path: string): Promise<string[]> {
  const file = resolve(path)
  if (!existsSync(file)) throw new CommandError(`No tasks module at ${file}`)
  let module: Record<string, unknown>
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>
  } catch (error) {
    throw new CommandError(`Could not load the tasks module ${file}: ${(error as Error).message}`)
  }
  const candidates = [...Object.values(module)]
  const fallback = module.default
  if (typeof fallback === 'object' && fallback !== null && !isTask(fallback)) candidates.push(...Object.values(fallback))
  const definitions = new Map<string, TaskDefinition>()
  for (const value of candidates) if (isTask(value)) definitions.set(value.name, value)
  if (definitions.size === 0) throw new CommandError(`${file} exports no task definitions (made with defineTask)`)
  errand.register(Object.fromEntries(definitions))
  return [...definitions.keys()]
}

/** registerTasksFrom, for a command about one task: a task the module does not define is refused. */
export async function registerTasksWith(errand: Errand, path: string, task: string): Promise<void> {
  const names = await registerTasksFrom(errand, path)
  if (!names.includes(task)) throw new CommandError(`Unknown task "${task}": ${path} defines ${names.sort().join(', ')}`)
}
