#!/usr/bin/env node
/**
 * The `errand` command: inspect and manage runs, schedules and the schema of an errand
 * database from the shell, and serve its dashboard. This file finds the command, checks the
 * command line, runs it, and turns what it threw into one line on stderr and an exit code:
 * 0 done, 1 it failed, 2 bad usage.
 */
import { ErrandError, type Errand } from '../index.js'
import { GLOBAL_OPTIONS, leadingWords, parseCommandLine, stringOption, TOP_OPTIONS, UsageError, type OptionValues } from './args.js'
import type { Command, CommandContext } from './command.js'
import { enqueueCommand } from './commands/enqueue.js'
import { migrateCommand, pruneCommand } from './commands/maintenance.js'
import { runCommands } from './commands/runs.js'
import { scheduleCommands } from './commands/schedules.js'
import { serveCommand } from './commands/serve.js'
import { workerCommand } from './commands/worker.js'
import { commandHelp, groupHelp, mainHelp, version } from './help.js'
import { openErrand, resolveDatabase } from './store.js'

const COMMANDS: Command[] = [...runCommands, enqueueCommand, ...scheduleCommands, pruneCommand, migrateCommand, workerCommand, serveCommand]
const GROUPS = new Set(COMMANDS.filter((command) => command.name.includes(' ')).map((command) => command.name.split(' ')[0] as string))

/** errand error codes that mean the input was wrong, not the world: exit 2 like any usage error. */
const USAGE_ERROR_CODES = new Set(['invalid_option', 'invalid_duration', 'validation_failed', 'not_serializable'])

/** Where output goes; `main` writes nowhere else. */
export interface Io {
  out(text: string): void
  err(text: string): void
  env: NodeJS.ProcessEnv
  readStdin(): Promise<string>
}

/** Runs one command line; resolves to the exit code. Closes the store it opened, whatever happens. */
export async function main(argv: string[], io: Io, signal: AbortSignal): Promise<number> {
  let errand: Errand | undefined
  try {
    const found = resolveCommand(argv, io)
    if (typeof found === 'number') return found
    const { command, values, positionals } = found
    const target = resolveDatabase({ database: stringOption(values, 'database'), schema: stringOption(values, 'schema') }, io.env)
    const context: CommandContext = {
      values,
      positionals,
      env: io.env,
      out: io.out,
      err: io.err,
      signal,
      readStdin: io.readStdin,
      async open(options) {
        errand ??= await openErrand(target, options)
        return errand
      },
    }
    const code = await command.run(context)
    // A wait cut short by Ctrl+C says so the usual way; serve and worker stop cleanly on a signal.
    return signal.aborted && command !== serveCommand && command !== workerCommand ? 130 : code
  } catch (error) {
    io.err(`errand: ${messageOf(error)}`)
    return error instanceof UsageError || (error instanceof ErrandError && USAGE_ERROR_CODES.has(error.code)) ? 2 : 1
  } finally {
    await errand?.close().catch(() => {})
  }
}

type Parsed = { command: Command; values: OptionValues; positionals: string[] }

/** Finds the command and parses its line; an exit code instead when help or the version was all there was to print. */
function resolveCommand(argv: string[], io: Io): Parsed | number {
  const words = leadingWords(argv)
  if (words[0] === 'help') return help(words.slice(1), io)
  const wantsHelp = argv.includes('--help') || argv.includes('-h')
  if (words.length === 0) {
    const { values } = parseCommandLine(argv, TOP_OPTIONS, 0, 'errand')
    if (values.version) return print(io, version())
    // Bare `errand` is a usage error, but still shows what there is.
    return values.help ? print(io, mainHelp(COMMANDS)) : fail(io, mainHelp(COMMANDS))
  }
  const match = findCommand(words)
  if (!match) {
    const group = words[0] as string
    if (GROUPS.has(group) && (words.length === 1 || wantsHelp)) return wantsHelp ? print(io, groupHelp(group, COMMANDS)) : fail(io, groupHelp(group, COMMANDS))
    throw new UsageError(`unknown command "${GROUPS.has(group) ? words.slice(0, 2).join(' ') : group}" (see errand help)`)
  }
  const { command, used } = match
  const { values, positionals } = parseCommandLine(argv, { ...GLOBAL_OPTIONS, ...command.options }, used, `errand ${command.name}`)
  if (values.help) return print(io, commandHelp(command))
  if (positionals.length < command.positionals.min) throw new UsageError(`errand ${command.name} needs ${command.args ?? 'arguments'} (see errand ${command.name} --help)`)
  if (positionals.length > command.positionals.max) throw new UsageError(`unexpected argument "${positionals[command.positionals.max]}" (see errand ${command.name} --help)`)
  return { command, values, positionals }
}

/** Prints to stdout: exit 0. */
function print(io: Io, text: string): number {
  io.out(text)
  return 0
}

/** Prints to stderr: exit 2. */
function fail(io: Io, text: string): number {
  io.err(text)
  return 2
}

/** The longest command name the leading words spell: `runs list`, else `enqueue`. */
function findCommand(words: string[]): { command: Command; used: number } | null {
  for (const used of [2, 1]) {
    if (words.length < used) continue
    const name = words.slice(0, used).join(' ')
    const command = COMMANDS.find((candidate) => candidate.name === name)
    if (command) return { command, used }
  }
  return null
}

function help(words: string[], io: Io): number {
  if (words.length === 0) return print(io, mainHelp(COMMANDS))
  const match = findCommand(words)
  if (match) return print(io, commandHelp(match.command))
  if (GROUPS.has(words[0] as string)) return print(io, groupHelp(words[0] as string, COMMANDS))
  throw new UsageError(`unknown command "${words.join(' ')}" (see errand help)`)
}

/** One line: the error's message, or its causes' (a refused connection can be an AggregateError with none). */
function messageOf(error: unknown): string {
  if (error instanceof AggregateError && !error.message) return error.errors.map(messageOf).join('; ')
  if (error instanceof Error) return (error.message || error.name).split('\n')[0] as string
  return String(error)
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** The process: signals abort the command (a second one exits at once), and the exit code is set. */
async function start(): Promise<void> {
  const controller = new AbortController()
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130)
    controller.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const io: Io = { out: (text) => process.stdout.write(`${text}\n`), err: (text) => process.stderr.write(`${text}\n`), env: process.env, readStdin }
  const code = await main(process.argv.slice(2), io, controller.signal)
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  process.exitCode = code
  // Everything is closed by now, so the process ends by itself; should a handle linger, end it anyway.
  setTimeout(() => process.exit(code), 2_000).unref()
}

await start()
