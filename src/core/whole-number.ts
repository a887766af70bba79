import { InvalidOptionError } from './errors.js'

/**
 * Checks an option that must be a whole number from `min` to `max`, and returns it. The
 * one message for every such option, naming the option and the value it got.
 */
export function checkWholeNumber(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`${name} must be a whole number from ${min} to ${max}, got ${String(value)}`)
  }
  return value
}
