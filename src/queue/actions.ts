// What users do to one task: read it, read its history, cancel, retry, delete. Each is one guarded
// statement; a task outside the caller's scope is "not found" (never "forbidden"), so ids of other
// users' tasks cannot be probed.
import type { Sql, TransactionSql } from '../db/connect'
import { QueueError } from './errors'
import { sendControl } from './notify'
import { CANCELLABLE, DELETABLE, RETRYABLE } from './states'
import type { Scope, Task, TaskEvent } from './task'

/** `a, b or c`, for the sentences below. */
const or = (list: readonly string[]) =>
  list.length > 1 ? `${list.slice(0, -1).join(', ')} or ${list.at(-1)}` : (list[0] ?? '')

const notFound = (id: string) => new QueueError('TASK_NOT_FOUND', `Task ${id} was not found.`)

const inScope = (sql: Sql | TransactionSql, scope: Scope) =>
  scope.userId === undefined ? sql`true` : sql`created_by = ${scope.userId}`

/** Runs fn in a transaction whose task_events rows name the actor (e.g. `user:<id>`). */
async function asActor<T>(sql: Sql, actor: string, fn: (tx: TransactionSql) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    await tx`SELECT set_config('tasklab.actor', ${actor}, true)`
    return fn(tx)
  }) as Promise<T>
}

export async function getTask(sql: Sql, id: string, scope: Scope): Promise<Task> {
  const [task] = await sql<Task[]>`SELECT * FROM tasks WHERE id = ${id} AND ${inScope(sql, scope)}`
  if (!task) throw notFound(id)
  return task
}

export async function taskEvents(sql: Sql, id: string, scope: Scope): Promise<TaskEvent[]> {
  await getTask(sql, id, scope)
  return sql<TaskEvent[]>`SELECT * FROM task_events WHERE task_id = ${id} ORDER BY id`
}

/**
 * Waiting tasks are cancelled at once. A running task gets cancel_requested, and its worker is told
 * through NOTIFY (and, should that be missed, by its next heartbeat) to fire the handler's
 * AbortSignal; the worker then ends it cancelled. Finished tasks answer INVALID_STATE.
 */
export async function cancelTask(sql: Sql, id: string, scope: Scope, actor: string): Promise<Task> {
  return asActor(sql, actor, async (tx) => {
    const [task] = await tx<Task[]>`SELECT * FROM tasks WHERE id = ${id} AND ${inScope(tx, scope)} FOR UPDATE`
    if (!task) throw notFound(id)
    if (!CANCELLABLE.includes(task.status))
      throw new QueueError(
        'INVALID_STATE',
        `Task ${id} is ${task.status}; only ${or(CANCELLABLE)} tasks can be cancelled.`,
        { status: task.status },
      )
    if (task.status === 'running') {
      const [t] = await tx<
        Task[]
      >`UPDATE tasks SET cancel_requested = true, updated_at = now() WHERE id = ${id} RETURNING *`
      await sendControl(tx, { kind: 'cancel', id })
      return t!
    }
    const [t] = await tx<Task[]>`
      UPDATE tasks SET status = 'cancelled', completed_at = now(), updated_at = now() WHERE id = ${id} RETURNING *`
    return t!
  })
}

/** A failed or cancelled task goes back to pending with its attempts reset. */
export async function retryTask(sql: Sql, id: string, scope: Scope, actor: string): Promise<Task> {
  const tasks = await retryTasks(sql, [id], scope, actor)
  if (tasks.length > 0) return tasks[0]!
  const task = await getTask(sql, id, scope)
  throw new QueueError(
    'INVALID_STATE',
    `Task ${id} is ${task.status}; only ${or(RETRYABLE)} tasks can be retried.`,
    { status: task.status },
  )
}

/** Bulk retry; ids that are missing, not the caller's, or not failed/cancelled are skipped. */
export async function retryTasks(sql: Sql, ids: string[], scope: Scope, actor: string): Promise<Task[]> {
  if (ids.length === 0) return []
  return asActor(
    sql,
    actor,
    (tx) => tx<Task[]>`
    UPDATE tasks SET status = 'pending', current_attempt = 0, run_at = now(), completed_at = NULL,
      started_at = NULL, cancel_requested = false, result = NULL, updated_at = now()
    WHERE id = ANY(${ids}::uuid[]) AND status = ANY(${[...RETRYABLE]}::task_status[]) AND ${inScope(tx, scope)}
    RETURNING *`,
  )
}

/** Only finished tasks can be deleted; their history goes with them. */
export async function deleteTask(sql: Sql, id: string, scope: Scope): Promise<void> {
  const deleted = await deleteTasks(sql, [id], scope)
  if (deleted.length > 0) return
  const task = await getTask(sql, id, scope)
  throw new QueueError(
    'INVALID_STATE',
    `Task ${id} is ${task.status}; only ${or(DELETABLE)} tasks can be deleted.`,
    { status: task.status },
  )
}

export async function deleteTasks(sql: Sql, ids: string[], scope: Scope): Promise<string[]> {
  if (ids.length === 0) return []
  const rows = await sql<{ id: string }[]>`
    WITH gone AS (
      DELETE FROM tasks
      WHERE id = ANY(${ids}::uuid[]) AND status = ANY(${[...DELETABLE]}::task_status[]) AND ${inScope(sql, scope)}
      RETURNING id
    ), history AS (
      DELETE FROM task_event_log WHERE task_id IN (SELECT id FROM gone)
    )
    SELECT id FROM gone`
  return rows.map((r) => r.id)
}
