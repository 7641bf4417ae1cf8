// Handler modules from the sources (the binary's own test is test/process/handler-modules.test.ts):
// the error and result rules a TaskHandler built from a module follows, and what load refuses.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PermanentError, validatePayload } from '../../src/handlers/contract'
import { HandlerModules } from '../../src/handlers/modules/live'
import { silentLogger } from '../../src/log'
import { startAttempt } from '../../src/worker/execute'
import { tempDir } from '../helpers/proc'

let dir: string

const MODULE = `export const shout = {
  type: 'shout',
  schema: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
  run: (p, ctx) => {
    if (p.text === 'nul') return { text: 'a\\u0000b' }
    if (p.text === 'huge') return 'x'.repeat(1024 * 1024 + 1)
    if (p.text === 'bad') throw Object.assign(new Error('never valid'), { permanent: true })
    if (p.text === 'flaky') throw new Error('try again')
    return p.text.toUpperCase() + '!'.repeat(ctx.attempt)
  },
}
export const whisper = { type: 'whisper', run: (p) => String(p.text).toLowerCase() }
`

const ctx = {
  id: '00000000-0000-0000-0000-000000000001',
  taskType: 'shout',
  attempt: 2,
  maxAttempts: 3,
  metadata: {},
  createdBy: null,
  createdAt: new Date(),
  signal: new AbortController().signal,
  log: silentLogger,
  sql: undefined as never,
}

beforeAll(async () => {
  dir = await tempDir('modules-src')
  await writeFile(join(dir, 'voice.js'), MODULE)
  await writeFile(join(dir, 'types.d.ts'), 'export type Ignored = 1\n')
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('a module handler', () => {
  test('named exports are found; .d.ts files are skipped', async () => {
    const handlers = await new HandlerModules(dir, new Set(['email']), silentLogger).load()
    expect(handlers.map((h) => h.type).sort()).toEqual(['shout', 'whisper'])
  })

  test('returns its result; the ctx carries the attempt', async () => {
    const [shout] = await new HandlerModules(join(dir, 'voice.js'), new Set(), silentLogger).load()
    expect(await shout!.run({ text: 'hi' }, ctx)).toBe('HI!!')
  })

  test('permanent: true becomes a PermanentError; other throws stay retryable', async () => {
    const [shout] = await new HandlerModules(dir, new Set(), silentLogger).load()
    await expect(shout!.run({ text: 'bad' }, ctx)).rejects.toBeInstanceOf(PermanentError)
    const flaky = (await shout!.run({ text: 'flaky' }, ctx).catch((e: Error) => e)) as Error
    expect(flaky).not.toBeInstanceOf(PermanentError)
    expect(flaky.message).toBe('try again')
  })

  test.each([
    ['nul', 'completed', /^a\uFFFDb$/],
    ['huge', 'failed', /1048576/],
  ])(
    "a result PostgreSQL cannot store (%s) is judged as a built-in handler's is",
    async (text, status, expected) => {
      const [shout] = await new HandlerModules(dir, new Set(), silentLogger).load()
      const task = {
        id: '0190f0f0-0000-7000-8000-000000000001',
        task_type: 'shout',
        payload: { text },
        current_attempt: 1,
        max_attempts: 3,
        timeout_ms: 5000,
        retry_strategy: null,
        metadata: {},
        priority: 'normal',
        created_by: null,
        created_at: new Date(),
        run_at: new Date(),
        started_at: new Date(),
        lease_expires_at: null,
      } as unknown as Parameters<typeof startAttempt>[0]
      const { outcome } = await startAttempt(task, {
        handler: shout!,
        timeoutMs: 5000,
        context: ctx,
      } as Parameters<typeof startAttempt>[1]).done
      const o = outcome as { status: string; result?: { text?: string }; error?: string }
      expect(o.status).toBe(status)
      expect(o.status === 'completed' ? String(o.result?.text) : String(o.error)).toMatch(expected)
    },
  )

  test('its plain JSON Schema is checked before run, naming the field', async () => {
    const [shout] = await new HandlerModules(dir, new Set(), silentLogger).load()
    expect(() => validatePayload(shout!.schema, { text: 3 })).toThrow(
      'Invalid payload: payload.text: must be string',
    )
  })
})

describe('load refuses', () => {
  test('a type exported by two files', async () => {
    const two = await tempDir('modules-dup')
    await writeFile(join(two, 'a.js'), `export default { type: 'same', run: () => 1 }\n`)
    await writeFile(join(two, 'b.js'), `export default { type: 'same', run: () => 2 }\n`)
    await expect(new HandlerModules(two, new Set(), silentLogger).load()).rejects.toThrow(
      `The handler module ${join(two, 'b.js')} exports the type "same", which ${join(two, 'a.js')} exports too.`,
    )
  })

  test('a schema that is not JSON Schema, a bad timeoutMs, a folder with no module', async () => {
    const bad = await tempDir('modules-bad')
    await writeFile(
      join(bad, 's.js'),
      `export default { type: 's', schema: { type: 'nope' }, run: () => 1 }\n`,
    )
    await expect(new HandlerModules(bad, new Set(), silentLogger).load()).rejects.toThrow(
      'the schema of "s" is not a valid JSON Schema',
    )
    await writeFile(join(bad, 's.js'), `export default { type: 's', timeoutMs: -1, run: () => 1 }\n`)
    await expect(new HandlerModules(bad, new Set(), silentLogger).load()).rejects.toThrow('timeoutMs of "s"')
    const empty = await tempDir('modules-empty')
    await expect(new HandlerModules(empty, new Set(), silentLogger).load()).rejects.toThrow(
      'holds no .ts or .js module',
    )
  })
})
