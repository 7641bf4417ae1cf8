// Issue 12, item 1: an outcome PostgreSQL cannot store (NUL, lone surrogate, circular, NaN, 10 MB)
// must never fail a worker's whole batch.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { failureOutcome, finishTasks, type Outcome } from '../../src/queue/finish'
import { cleanResult, cleanText, errorText, MAX_ERROR_CHARS } from '../../src/queue/outcome-text'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { insertTask, registerTypes } from '../helpers/factory'
import { statusOf } from '../helpers/worker'

describe('cleanText and cleanResult', () => {
  test('NUL and lone surrogates become U+FFFD; long text is cut on a code point', () => {
    expect(cleanText('a\u0000b')).toBe('a\uFFFDb')
    expect(cleanText('x\uD83D')).toBe('x\uFFFD')
    expect(cleanText('\uDE00y')).toBe('\uFFFDy')
    // An emoji straddling the cut: the pair stays whole or goes, never half of it.
    const text = `${'a'.repeat(MAX_ERROR_CHARS - 1)}😀😀`
    const cut = cleanText(text)
    expect(Array.from(cut).length).toBe(MAX_ERROR_CHARS)
    expect(cut.endsWith('😀')).toBe(true)
    expect(cut.isWellFormed()).toBe(true)
  })

  test('results: strings and keys cleaned; circular, NaN, Infinity, BigInt and oversize refused', () => {
    expect(cleanResult({ 'k\u0000': ['v\uD800', 1] })).toEqual({
      ok: true,
      value: { 'k\uFFFD': ['v\uFFFD', 1] },
    })
    const same = { a: 1 }
    expect(cleanResult(same)).toEqual({ ok: true, value: same })
    expect(cleanResult(undefined)).toEqual({ ok: true, value: null })
    const circular: Record<string, unknown> = {}
    circular.self = circular
    const refused = (v: unknown, limit?: number) => {
      const r = cleanResult(v, limit)
      return r.ok ? 'accepted' : r.error
    }
    expect(refused(circular)).toContain('circular reference')
    expect(refused({ n: Number.NaN })).toContain('NaN at key "n"')
    expect(refused([Number.POSITIVE_INFINITY])).toContain('Infinity')
    expect(refused({ big: 1n })).toContain('cannot be turned into JSON')
    expect(refused('x'.repeat(100), 50)).toContain('over the limit of 50')
  })

  test('flat results (the fast path) are cleaned and refused exactly as nested ones', () => {
    const flat = { slept_seconds: 0, ok: true, note: null, name: 'x' }
    expect(cleanResult(flat).ok && (cleanResult(flat) as { value: unknown }).value).toBe(flat)
    expect(cleanResult({ 'k\u0000': 'v' })).toEqual({ ok: true, value: { 'k\uFFFD': 'v' } })
    expect(cleanResult(['v\uD800', 1])).toEqual({ ok: true, value: ['v\uFFFD', 1] })
    expect(cleanResult('a\u0000')).toEqual({ ok: true, value: 'a\uFFFD' })
    const r = cleanResult({ n: Number.NEGATIVE_INFINITY })
    expect(r.ok ? 'accepted' : r.error).toContain('-Infinity at key "n"')
    const big = cleanResult({ s: '€'.repeat(30) }, 50)
    expect(big.ok ? 'accepted' : big.error).toContain('over the limit of 50')
    // A Date is not flat: it is stored as its JSON text, as before.
    const at = new Date(0)
    expect(cleanResult({ at })).toEqual({ ok: true, value: { at } })
  })

  test('errorText survives values that cannot be turned into a string', () => {
    expect(errorText(Object.create(null))).toContain('cannot be shown')
    expect(errorText(new Error('bad\u0000'))).toBe('bad\uFFFD')
    expect(errorText(42)).toBe('42')
  })
})

describe('finishTasks', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
    await registerTypes(db.sql, 'email')
  })
  afterAll(() => db.drop())

  const running = () =>
    insertTask(db.sql, { task_type: 'email', status: 'running', locked_by: 'w1', current_attempt: 1 })

  test('one outcome PostgreSQL refuses fails alone; the rest of the batch lands', async () => {
    const good = await running()
    const poison = await running()
    const retry = await running()
    const circular: Record<string, unknown> = {}
    circular.self = circular
    const looped = await running()
    const outcomes: Outcome[] = [
      { id: good.id, status: 'completed', result: { ok: true } },
      // Not cleaned at the edge (as a caller that forgot would send it): jsonb refuses \u0000.
      { id: poison.id, status: 'completed', result: { body: 'a\u0000b' } },
      failureOutcome(retry, `reply \uD83D`, false),
      { id: looped.id, status: 'completed', result: circular },
    ]
    const written = await finishTasks(db.sql, 'w1', outcomes)
    expect([...written].sort()).toEqual([good.id, poison.id, retry.id, looped.id].sort())
    expect(await statusOf(db.sql, good.id)).toMatchObject({ status: 'completed', result: { ok: true } })
    const p = await statusOf(db.sql, poison.id)
    expect(p.status).toBe('failed')
    expect(p.last_error).toContain('The outcome (completed) could not be stored')
    expect(await statusOf(db.sql, retry.id)).toMatchObject({ status: 'retrying', last_error: 'reply \uFFFD' })
    expect((await statusOf(db.sql, looped.id)).status).toBe('failed')
  })

  test('a condition that passes (deadlock, connection loss) is thrown for the caller to retry, not turned into failures', async () => {
    for (const code of ['40P01', '57014', 'CONNECTION_CLOSED']) {
      let calls = 0
      const fake = Object.assign(
        () => {
          calls++
          return Promise.reject(Object.assign(new Error(code), { code }))
        },
        // The statement's states are literal fragments (sqlStates), made without a round trip.
        { json: (v: unknown) => v, unsafe: (text: string) => db.sql.unsafe(text) },
      )
      await expect(
        finishTasks(fake as never, 'w1', [{ id: crypto.randomUUID(), status: 'completed', result: 1 }]),
      ).rejects.toThrow(code)
      expect(calls).toBe(1)
    }
  })

  test('the lease guard still holds when the batch is split', async () => {
    const theirs = await insertTask(db.sql, { task_type: 'email', status: 'running', locked_by: 'w2' })
    const mine = await running()
    const written = await finishTasks(db.sql, 'w1', [
      { id: theirs.id, status: 'completed', result: 'x\u0000' },
      { id: mine.id, status: 'completed', result: 'y\u0000' },
    ])
    expect([...written]).toEqual([mine.id])
    expect((await statusOf(db.sql, theirs.id)).status).toBe('running')
  })
})
