// Bulk actions on the dead letter queue (failed tasks): retry or delete by ids or by filter, in one
// guarded statement each. Ids that are missing, another user's, or not failed are skipped, and the
// answer lists what was really touched.
import type { Sql } from '../db/connect'
import { type TaskFilter, whereTasks } from './queries'
import type { Scope, Task } from './task'

export type Selection = { ids: string[] } | { filter: Omit<TaskFilter, 'status'> }

function selected(sql: Sql, sel: Selection, scope: Scope) {
  if ('ids' in sel)
    return sql`id = ANY(${sel.ids}::uuid[]) AND ${whereTasks(sql, { status: ['failed'] }, scope)}`
  return whereTasks(sql, { ...sel.filter, status: ['failed'] }, scope)
}

export async function retryDeadLetter(
  sql: Sql,
  sel: Selection,
  scope: Scope,
  actor: string,
): Promise<Task[]> {
  return sql.begin(async (tx) => {
    await tx`SELECT set_config('tasklab.actor', ${actor}, true)`
    return tx<Task[]>`
      UPDATE tasks SET status = 'pending', current_attempt = 0, run_at = now(), completed_at = NULL,
        started_at = NULL, cancel_requested = false, result = NULL, updated_at = now()
      WHERE ${selected(tx as unknown as Sql, sel, scope)}
      RETURNING *`
  }) as Promise<Task[]>
}

export async function deleteDeadLetter(sql: Sql, sel: Selection, scope: Scope): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    WITH gone AS (DELETE FROM tasks WHERE ${selected(sql, sel, scope)} RETURNING id),
    history AS (DELETE FROM task_event_log WHERE task_id IN (SELECT id FROM gone))
    SELECT id FROM gone`
  return rows.map((r) => r.id)
}
