/** Help text, built from the commands' own specs so it cannot drift from what they accept. */
import { readFileSync } from 'node:fs'
import { GLOBAL_OPTIONS, TOP_OPTIONS, type OptionSpecs } from './args.js'
import type { Command } from './command.js'

/** The package's version; package.json sits two levels above both src/cli and dist/cli. */
export function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
  return manifest.version ?? 'unknown'
}

function optionLines(specs: OptionSpecs): string[] {
  const labels = Object.entries(specs).map(([name, spec]) => `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`)
  const width = Math.max(...labels.map((label) => label.length))
  return Object.values(specs).map((spec, index) => `  ${(labels[index] as string).padEnd(width)}  ${spec.description}`)
}

const EXIT_CODES = 'Exit codes: 0 done; 1 it failed (no such run, no database, a run that did not complete...); 2 bad usage (unknown command or option, malformed value).'

/** `errand help`. */
export function mainHelp(commands: Command[]): string {
  const width = Math.max(...commands.map((command) => command.name.length + (command.args ? command.args.length + 1 : 0)))
  return [
    `errand ${version()}: inspect and manage errand's durable background jobs from the shell.`,
    '',
    'Usage: errand <command> [options]',
    '',
    'Commands:',
    ...commands.map((command) => `  ${`${command.name}${command.args ? ` ${command.args}` : ''}`.padEnd(width)}  ${command.summary}`),
    `  ${'help [command]'.padEnd(width)}  Show help, for every command or one`,
    '',
    'Options:',
    ...optionLines(TOP_OPTIONS),
    '',
    'A postgres:// or postgresql:// URL means PostgreSQL; anything else is a SQLite file, which must exist (errand migrate creates one).',
    EXIT_CODES,
    'Run errand <command> --help for a command’s options and examples.',
  ].join('\n')
}

/** `errand <command> --help`. */
export function commandHelp(command: Command): string {
  const own = Object.fromEntries(Object.entries(command.options).filter(([name]) => !(name in GLOBAL_OPTIONS)))
  return [
    `Usage: errand ${command.name}${command.args ? ` ${command.args}` : ''}${Object.keys(own).length ? ' [options]' : ''}`,
    '',
    `${command.summary}.`,
    ...(command.notes ?? []).flatMap((note) => ['', note]),
    ...(Object.keys(own).length ? ['', 'Options:', ...optionLines(own)] : []),
    '',
    'Options of every command:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Examples:',
    ...command.examples.map((example) => `  ${example}`),
  ].join('\n')
}

/** `errand runs` alone: the commands of that group. */
export function groupHelp(group: string, commands: Command[]): string {
  const members = commands.filter((command) => command.name.startsWith(`${group} `))
  const width = Math.max(...members.map((command) => command.name.length))
  return [`Usage: errand ${group} <command> [options]`, '', ...members.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`), '', `Run errand ${group} <command> --help for its options.`].join('\n')
}
