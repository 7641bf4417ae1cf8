// Answers are cut to their schemas (normalize: 'typebox' drops unnamed fields), so a column added
// by a migration reaches clients only once its schema names it. This fails until it does.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { TObject } from '@sinclair/typebox'
import { Task, TaskEvent } from '../../src/api/tasks/schemas'
import { Worker } from '../../src/api/workers/schemas'
import { createTestDatabase, type TestDatabase } from '../helpers/db'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db?.drop()
})

test.each([
  ['tasks', Task, []],
  ['task_events', TaskEvent, []],
  // Worker adds what GET /workers computes.
  ['workers', Worker, ['alive', 'running_tasks']],
] as [string, TObject, string[]][])(
  'every column of %s is in its answer schema',
  async (table, schema, computed) => {
    const rows = await db.sql<{ column_name: string }[]>`
    SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ${table}`
    expect(rows.length).toBeGreaterThan(0)
    const fields = Object.keys(schema.properties).filter((k) => !computed.includes(k))
    expect(fields.sort()).toEqual(rows.map((r) => r.column_name).sort())
  },
)
