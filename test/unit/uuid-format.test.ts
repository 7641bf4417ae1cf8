// The 'uuid' format that params and answers are checked with: the same ids accepted and refused as
// the Zod check @elysiajs/openapi registers, without building a Zod schema per call.
import { expect, test } from 'bun:test'
import { FormatRegistry } from '@sinclair/typebox'
import { createApp } from '../../src/api/app'
import { isUuid } from '../../src/api/contract'
import type { ApiDeps } from '../../src/api/deps'
import { LiveFeed } from '../../src/api/events/feed'
import { loadConfig } from '../../src/config'
import { silentLogger } from '../../src/log'
import { uuidv7 } from '../../src/queue/ids'

// createApp needs no database to be built; nothing here sends a query.
const sql = {} as ApiDeps['sql']
const app = () =>
  createApp(
    { config: loadConfig({}, {}), log: silentLogger, sql } as unknown as ApiDeps,
    new LiveFeed(sql, silentLogger),
  )

test('after createApp, uuid accepts RFC 9562 ids (v4, v7, nil, max) and refuses the rest', () => {
  app()
  const uuid = FormatRegistry.Get('uuid')!
  for (const ok of [
    crypto.randomUUID(),
    uuidv7(),
    uuidv7().toUpperCase(),
    '00000000-0000-0000-0000-000000000000',
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
  ])
    expect(uuid(ok)).toBe(true)
  for (const bad of [
    '',
    'stats',
    '00000000-0000-4000-8000-00000000000', // one digit short
    '00000000-0000-0000-8000-000000000000', // version 0
    '00000000-0000-9000-8000-000000000000', // version 9
    '00000000-0000-4000-c000-000000000000', // variant 110
    `urn:uuid:${crypto.randomUUID()}`,
    `${crypto.randomUUID()}\n`,
    ` ${crypto.randomUUID()}`,
  ])
    expect(uuid(bad)).toBe(false)
})

test("after createApp, the registered check is the compiled expression, not the plugin's Zod one", () => {
  // The Zod check built a schema per call (33 µs, half of a batched task's server time); which
  // check is registered is what decides that, and it is asserted here rather than a time. As if
  // the plugin had registered its own after the contract loaded:
  FormatRegistry.Set('uuid', (value) => /^[0-9a-f-]{36}$/i.test(value))
  app()
  expect(FormatRegistry.Get('uuid')).toBe(isUuid)
})
