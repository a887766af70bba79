/**
 * Command-line parsing on `node:util` parseArgs, with the checks every command shares. Every
 * value is checked here, before a command opens the store, so bad input never leaves
 * anything half done.
 */
import { parseArgs } from 'node:util'
import { parseDuration } from '../index.js'

/** The largest 32-bit integer: the bound of a priority or a limit stored as int4. */
export const INT32 = 2 ** 31 - 1

/** Bad input on the command line: exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** Something went wrong doing what was asked (no such run, no database): exit code 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError'
}

/** One option of a command, as parseArgs takes it, plus what help shows. */
export interface OptionSpec {
  type: 'string' | 'boolean'
  short?: string
  multiple?: boolean
  /** Name of the value in help, e.g. `DURATION`. */
  value?: string
  description: string
}

export type OptionSpecs = Record<string, OptionSpec>
export type OptionValues = Record<string, string | boolean | string[] | undefined>

/** Options every command takes. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  database: {
    type: 'string',
    short: 'd',
    value: 'URL|FILE',
    description: 'postgres:// URL or SQLite file. Default: $ERRAND_DATABASE, $ERRAND_DB, $DATABASE_URL, then ./errand.db',
  },
  schema: { type: 'string', value: 'NAME', description: "PostgreSQL schema of errand's tables. Default errand" },
  help: { type: 'boolean', short: 'h', description: 'Show help for the command' },
}

/** Options of the top level only. */
export const TOP_OPTIONS: OptionSpecs = {
  ...GLOBAL_OPTIONS,
  version: { type: 'boolean', short: 'v', description: 'Print the version' },
}

function configOf(specs: OptionSpecs) {
  return Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [name, { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) }]),
  )
}

/**
 * The leading words of the command line that may name a command (`runs list`), found with
 * the global options only so that `-d ./x.db runs list` works too. Stops at the first option
 * it does not know: what follows belongs to the command.
 */
export function leadingWords(argv: string[]): string[] {
  const { tokens } = parseArgs({ args: argv, options: configOf(TOP_OPTIONS), strict: false, allowPositionals: true, tokens: true })
  const words: string[] = []
  for (const token of tokens ?? []) {
    if (token.kind === 'option-terminator') break
    if (token.kind === 'option' && !(token.name in TOP_OPTIONS)) break
    if (token.kind === 'positional') words.push(token.value)
    if (words.length === 3) break
  }
  return words
}

/** Parses the whole command line strictly against a command's options; drops the command's own words. */
export function parseCommandLine(argv: string[], specs: OptionSpecs, commandWords: number, usageHint: string): { values: OptionValues; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: configOf(specs), strict: true, allowPositionals: true })
    return { values: values as OptionValues, positionals: positionals.slice(commandWords) }
  } catch (error) {
    throw new UsageError(`${parseErrorMessage(error)} (see ${usageHint} --help)`)
  }
}

/** parseArgs' messages run over several lines; the first one says it. */
function parseErrorMessage(error: unknown): string {
  const { code, message } = error as { code?: string; message: string }
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const match = /'([^']+)'/.exec(message)
    return `unknown option ${match?.[1] ?? message}`
  }
  const first = message.split('\n')[0] ?? message
  if (/is ambiguous/.test(message)) return `${first} Write a value that starts with a dash as --option=-5`
  return first
}

/** The options that were given: unset ones are left out, so the defaults apply where they are read. */
export function givenOptions<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>
}

/** A string option's value, or undefined. */
export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name]
  return typeof value === 'string' ? value : undefined
}

/** A duration option (`'5m'`, `'1h30m'`, or milliseconds), checked with the project's parser. */
export function durationOption(values: OptionValues, name: string): number | undefined {
  const text = stringOption(values, name)
  if (text === undefined) return undefined
  try {
    return parseDuration(text)
  } catch (error) {
    throw new UsageError(`--${name}: ${(error as Error).message}`)
  }
}

/** A whole-number option within bounds. */
export function integerOption(values: OptionValues, name: string, min: number, max: number): number | undefined {
  const text = stringOption(values, name)
  if (text === undefined) return undefined
  const value = Number(text.trim())
  if (!/^-?\d+$/.test(text.trim()) || value < min || value > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`)
  return value
}

/** An ISO 8601 time option. */
export function timeOption(values: OptionValues, name: string): Date | undefined {
  const text = stringOption(values, name)
  if (text === undefined) return undefined
  const date = new Date(text)
  // `new Date` reads many shapes; require at least a full date so '5' is not year 2005.
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(date.getTime())) throw new UsageError(`--${name} must be an ISO 8601 time such as 2030-01-31T09:00:00Z, got ${JSON.stringify(text)}`)
  return date
}

/** A JSON argument, e.g. a payload. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new UsageError(`${what} is not valid JSON: ${(error as Error).message}`)
  }
}
