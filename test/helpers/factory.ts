// Row factories: put tasks in any state directly, bypassing the API, to test one transition at a time.
import type { Sql } from '../../src/db/connect'
import type { TypeDefinition } from '../../src/queue/registry'
import { upsertTypes } from '../../src/queue/registry'
import type { Task } from '../../src/queue/task'

export async function registerTypes(sql: Sql, ...names: string[]): Promise<void> {
  await upsertTypes(
    sql,
    names.map((name): TypeDefinition => ({ name, description: `test type ${name}` })),
  )
}

export async function insertTask(sql: Sql, fields: Partial<Task> & { task_type: string }): Promise<Task> {
  const row = {
    status: 'pending',
    priority: 'normal',
    payload: {},
    retry_strategy: { type: 'fixed', interval_ms: 10, max_attempts: 3 },
    max_attempts: 3,
    ...fields,
  }
  if (row.status === 'running') {
    row.locked_by ??= 'test-worker'
    row.lease_expires_at ??= new Date(Date.now() + 60_000)
  }
  const [task] = await sql<Task[]>`INSERT INTO tasks ${sql(row as Record<string, unknown>)} RETURNING *`
  return task!
}
