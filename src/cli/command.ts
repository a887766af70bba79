/** What a command is, and what it gets when it runs. */
import type { Errand } from '../index.js'
import type { OptionSpecs, OptionValues } from './args.js'

/** What `main` hands a command. */
export interface CommandContext {
  values: OptionValues
  positionals: string[]
  env: NodeJS.ProcessEnv
  /** Writes a line (or lines) to standard output. */
  out(text: string): void
  /** Writes a line to standard error. */
  err(text: string): void
  /**
   * Opens the store once, after the command has checked its input; `main` closes it.
   * `create`: a missing SQLite file may be created (`migrate` and `worker` do so).
   */
  open(options?: { create?: boolean }): Promise<Errand>
  /** Aborted on SIGINT / SIGTERM, for commands that wait (`runs wait`, `serve`). */
  signal: AbortSignal
  /** All of standard input, for a payload given as `-`. */
  readStdin(): Promise<string>
}

/** One command: its name as typed (`runs list`), its help, and what it does. */
export interface Command {
  name: string
  summary: string
  /** Positional arguments as help shows them, e.g. `<id>`. */
  args?: string
  positionals: { min: number; max: number }
  options: OptionSpecs
  /** Runnable examples for help. */
  examples: string[]
  /** Longer notes for help. */
  notes?: string[]
  /** Returns the exit code. */
  run(context: CommandContext): Promise<number>
}

/** The `--json` flag. */
export const JSON_OPTION: OptionSpecs = { json: { type: 'boolean', description: 'Print JSON instead of text' } }
