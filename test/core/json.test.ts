import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { NotSerializableError } from '../../src/core/errors.js'
import { fromStoredJson, toStoredJson } from '../../src/core/json.js'
import { serializeError } from '../../src/core/run.js'

describe('stored JSON', () => {
  it('round-trips plain JSON values (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(fromStoredJson(toStoredJson(value, 'payload'))).toEqual(JSON.parse(JSON.stringify(value)))
      }),
    )
  })

  it.each([
    ['a function', { f: () => 1 }, 'f'],
    ['a bigint', { n: 1n }, 'n'],
    ['NaN', { deep: [1, Number.NaN] }, 'deep.1'],
    ['Infinity', [Infinity], '0'],
    ['a Date', { at: new Date() }, 'at'],
    ['a Map', new Map(), ''],
    ['a symbol', { s: Symbol('x') }, 's'],
    ['undefined in an array', [1, undefined], '1'],
  ])('refuses %s and says where', (_label, value, path) => {
    expect(() => toStoredJson(value, 'payload')).toThrow(NotSerializableError)
    if (path) expect(() => toStoredJson(value, 'payload')).toThrow(`at ${path}`)
  })

  it('refuses cycles and absurd nesting', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => toStoredJson(cyclic, 'payload')).toThrow(/cycle/)
    let deep: unknown = 1
    for (let i = 0; i < 500; i++) deep = [deep]
    expect(() => toStoredJson(deep, 'payload')).toThrow(/deeper/)
  })

  it('stores undefined as null and drops undefined properties, as JSON does', () => {
    expect(toStoredJson(undefined, 'output')).toBe('null')
    expect(toStoredJson({ a: undefined, b: 1 }, 'payload')).toBe('{"b":1}')
  })

  it('keeps __proto__ keys as plain data', () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}}')
    expect(fromStoredJson(toStoredJson(value, 'payload'))).toEqual(value)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

describe('serializeError', () => {
  it('keeps name, message, code and stack of an Error', () => {
    const error = Object.assign(new TypeError('bad'), { code: 'E_BAD' })
    expect(serializeError(error)).toMatchObject({ name: 'TypeError', message: 'bad', code: 'E_BAD' })
    expect(serializeError(error).stack).toContain('TypeError: bad')
  })

  it.each([
    [undefined, 'Non-error thrown: undefined'],
    [null, 'Non-error thrown: null'],
    ['plain text', 'plain text'],
    [42, 'Non-error thrown: 42'],
    [{ a: 1 }, 'Non-error thrown: {"a":1}'],
  ])('describes a thrown %j', (thrown, message) => {
    expect(serializeError(thrown)).toEqual({ name: 'NonErrorThrown', message })
  })

  it('survives values JSON cannot describe', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(serializeError(cyclic).name).toBe('NonErrorThrown')
    expect(serializeError(10n).message).toContain('10')
  })
})
