// The maintenance loop of a real `tasklab worker` purges expired finished tasks by itself.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { insertTask, registerTypes } from '../helpers/factory'
import { type Child, spawnTasklab, tempDir, waitFor } from '../helpers/proc'

let db: TestDatabase
let child: Child | undefined
beforeAll(async () => {
  db = await createTestDatabase()
  await registerTypes(db.sql, 'delay_task')
})
afterAll(async () => {
  child?.proc.kill('SIGKILL')
  await db?.drop()
})

test('a worker with 1 s retention deletes expired completed tasks and keeps failed ones', async () => {
  const old = new Date(Date.now() - 10_000)
  const done = await insertTask(db.sql, {
    task_type: 'delay_task',
    status: 'completed',
    created_at: old,
    completed_at: old,
  })
  const failed = await insertTask(db.sql, {
    task_type: 'delay_task',
    status: 'failed',
    created_at: old,
    completed_at: old,
  })
  child = spawnTasklab(['worker'], {
    env: {
      DATABASE_URL: db.url,
      STARTER__DATA_DIR: await tempDir('retention'),
      STARTER__RETENTION__COMPLETED_SECS: '1',
      STARTER__LOG__LEVEL: 'info',
    },
  })
  await waitFor(
    'the completed task to be deleted',
    async () => (await db.sql`SELECT 1 FROM tasks WHERE id = ${done.id}`).length === 0,
    { timeoutMs: 20_000, detail: () => child!.output() },
  )
  expect((await db.sql`SELECT id FROM tasks`).map((r) => r.id)).toEqual([failed.id])
  // The pass logs after its last batch commits: the row can be gone a moment before the line is out.
  await waitFor(
    'the retention log line',
    () => child!.output().includes('retention deleted finished tasks'),
    {
      timeoutMs: 10_000,
      detail: () => child!.output(),
    },
  )
  child.proc.kill('SIGTERM')
  expect(await child.waitExit(15_000)).toBe(0)
}, 40_000)
