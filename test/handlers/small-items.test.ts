// Issue 12, item 9: the smaller holes, each reproduced.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createUser } from '../../src/api/auth/users'
import { parseFilter } from '../../src/api/tasks/parse'
import {
  type HandlerContext,
  PermanentError,
  type TaskHandler,
  validatePayload,
} from '../../src/handlers/contract'
import { fileCleanup } from '../../src/handlers/file-cleanup'
import { reportGeneration } from '../../src/handlers/report-generation'
import { silentLogger } from '../../src/log'
import { parseIsoDateTime } from '../../src/queue/dates'
import { validateNewTask } from '../../src/queue/enqueue'
import { readTypes, upsertTypes } from '../../src/queue/registry'
import { patchType } from '../../src/queue/type-admin'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { insertTask, registerTypes } from '../helpers/factory'

let db: TestDatabase
let sandbox: string
beforeAll(async () => {
  db = await createTestDatabase()
  sandbox = await mkdtemp(join(tmpdir(), 'tasklab-small-'))
})
afterAll(async () => {
  await rm(sandbox, { recursive: true, force: true })
  await db.drop()
})

function run(h: TaskHandler, payload: unknown, createdBy: string | null = null) {
  const ctx: HandlerContext = {
    id: crypto.randomUUID(),
    taskType: h.type,
    attempt: 1,
    maxAttempts: 3,
    metadata: {},
    createdBy,
    createdAt: new Date(),
    signal: new AbortController().signal,
    log: silentLogger,
    sql: db.sql,
  }
  return h.run(validatePayload(h.schema, payload), ctx) as Promise<Record<string, unknown>>
}

describe('report_generation', () => {
  test("a plain user's report counts only their own tasks; an admin's counts all", async () => {
    await registerTypes(db.sql, 'alpha')
    const ada = await createUser(db.sql, { username: 'ada', email: 'ada@example.com', password: null })
    const bob = await createUser(db.sql, { username: 'bob', email: 'bob@example.com', password: null })
    const root = await createUser(db.sql, {
      username: 'root',
      email: 'root@example.com',
      password: null,
      role: 'admin',
    })
    await insertTask(db.sql, { task_type: 'alpha', status: 'completed', created_by: ada.id })
    await insertTask(db.sql, { task_type: 'alpha', status: 'failed', created_by: bob.id })
    await insertTask(db.sql, { task_type: 'alpha', status: 'failed', created_by: bob.id })
    const today = new Date().toISOString().slice(0, 10)
    const payload = { report_type: 'tasks', start_date: today, end_date: today }
    const mine = await run(reportGeneration, payload, ada.id)
    expect(mine).toMatchObject({ total: 1, by_status: { completed: 1 }, scope: 'own tasks' })
    expect(await run(reportGeneration, payload, root.id)).toMatchObject({ total: 3, scope: 'all tasks' })
  })
})

describe('file_cleanup', () => {
  // Built per test: the sandbox folder is made in beforeAll.
  const box = () => fileCleanup(join(sandbox, 'box'))
  test('a path outside the sandbox gets the same answer whether it exists or not', async () => {
    for (const file_path of ['/etc', '/no-such-folder-tasklab/x', '../../no-such-folder-tasklab', '../..'])
      await expect(run(box(), { file_path, max_age_hours: 0 })).rejects.toThrow('outside the sandbox')
  })
  test('a link inside the sandbox that points out is refused; a missing path inside says so', async () => {
    const h = box()
    await run(h, { file_path: '.', max_age_hours: 0 }) // makes the folder
    await symlink('/etc', join(sandbox, 'box', 'out'))
    await expect(run(h, { file_path: 'out', max_age_hours: 0 })).rejects.toThrow('outside the sandbox')
    await expect(run(h, { file_path: 'missing', max_age_hours: 0 })).rejects.toThrow('does not exist')
  })
})

describe('worker start and an admin deactivation', () => {
  test('upserting a type (as every worker start does) keeps is_active = false', async () => {
    await registerTypes(db.sql, 'beta')
    await patchType(db.sql, 'beta', { is_active: false })
    await upsertTypes(db.sql, [{ name: 'beta', description: 'again' }])
    const [row] = await readTypes(db.sql, ['beta'])
    expect(row).toMatchObject({ is_active: false, description: 'again' })
  })
})

describe('impossible dates', () => {
  test.each([
    '2030-02-31T00:00:00Z',
    '2030-04-31',
    '2031-02-29T12:00:00Z',
    '2030-01-01T24:00:00Z',
    '2030-01-01T12:60:00Z',
  ])('%s is refused, not rolled over', (s) => {
    expect(parseIsoDateTime(s)).toBeNull()
    expect(() => validateNewTask({ task_type: 'alpha', scheduled_at: s }, null, 3)).toThrow(
      'real calendar day',
    )
    expect(() => parseFilter({ created_after: s })).toThrow('real calendar day')
  })
  test('real days (a leap day included) still parse', () => {
    expect(parseIsoDateTime('2032-02-29T23:59:59.5+02:00')?.toISOString()).toBe('2032-02-29T21:59:59.500Z')
    expect(parseIsoDateTime('2030-12-31')?.toISOString()).toBe('2030-12-31T00:00:00.000Z')
  })
})

test('PermanentError is what file_cleanup throws for a path outside', async () => {
  await expect(run(fileCleanup(sandbox), { file_path: '/etc', max_age_hours: 0 })).rejects.toBeInstanceOf(
    PermanentError,
  )
})
