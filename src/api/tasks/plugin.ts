// /tasks: create (one or a batch, with idempotency keys), list with filters and a total, stats,
// the dead letter queue with bulk retry/delete, and per-task read, history, cancel, retry, delete.
// A user sees and touches only their own tasks (another user's is 404); an admin sees all.
import { Type as T } from '@sinclair/typebox'
import { Elysia, t } from 'elysia'
import { cancelTask, deleteTask, getTask, retryTask, taskEvents } from '../../queue/actions'
import { deleteDeadLetter, retryDeadLetter, type Selection } from '../../queue/dead-letter'
import { type NewTask as EngineTask, enqueue, enqueueBatch } from '../../queue/enqueue'
import { listTasks, taskStats } from '../../queue/queries'
import { IDEMPOTENCY_KEY_MAX_LENGTH } from '../../shared/task-input'
import { authenticate } from '../auth/guard'
import { Ok, Paged, route } from '../contract'
import type { ApiDeps } from '../deps'
import { ok, page } from '../envelope'
import { badRequest } from '../errors'
import { taskAnswer } from './answer'
import { parseFilter, parsePage } from './parse'
import {
  Batch,
  DeadLetterQuery,
  DeadLetterSelection,
  Deleted,
  IdParams,
  ListQuery,
  NewTask,
  Retried,
  Task,
  TaskDeleted,
  TaskEvent,
  TaskStats,
} from './schemas'

const IdempotencyHeader = t.Object({
  authorization: t.Optional(t.String({ description: 'Bearer <session_token>' })),
  'idempotency-key': t.Optional(
    t.String({
      minLength: 1,
      maxLength: IDEMPOTENCY_KEY_MAX_LENGTH,
      description: 'a repeat returns the first task with 200',
    }),
  ),
})

function selection(body: typeof DeadLetterSelection.static): Selection {
  if (body.ids && body.filter) throw badRequest('ids', 'Send either ids or filter, not both.')
  if (body.ids) return { ids: body.ids }
  if (body.filter) {
    const { status: _, ...f } = parseFilter(body.filter)
    return { filter: f }
  }
  throw badRequest(
    'ids',
    'Send ids (a list of task ids) or filter (an object; {} selects every failed task you can see).',
  )
}

export function tasksPlugin(deps: ApiDeps) {
  const { sql, notifier } = deps
  const who = (authorization: string | undefined) => authenticate(sql, authorization)

  return new Elysia({ name: 'tasklab-tasks', prefix: '/tasks' })
    .post(
      '',
      async ({ body, headers }) => {
        const caller = await who(headers.authorization)
        const input: EngineTask = {
          ...body,
          idempotency_key: headers['idempotency-key'] ?? body.idempotency_key,
        }
        const { task, created } = await enqueue(sql, input, {
          createdBy: caller.user.id,
          defaults: deps.enqueueDefaults,
        })
        // enqueue() sent the NOTIFY with the INSERT; only this process's worker is left to wake.
        if (created) notifier.wakeLocal()
        return taskAnswer(
          created ? 201 : 200,
          task,
          created ? `Task ${task.id} created.` : `Task ${task.id} already exists for this idempotency key.`,
        )
      },
      {
        body: NewTask,
        headers: IdempotencyHeader,
        ...route('tasks', 'Create a task (201; 200 when the idempotency key repeats)', {
          answer: Ok(Task),
          status: 201,
          also: [200],
          auth: true,
        }),
      },
    )
    .post(
      '/batch',
      async ({ body, headers }) => {
        const caller = await who(headers.authorization)
        const results = await enqueueBatch(sql, body.tasks as EngineTask[], {
          createdBy: caller.user.id,
          defaults: deps.enqueueDefaults,
        })
        const fresh = results.filter((r) => r.created).length
        if (fresh > 0) notifier.poke()
        return taskAnswer(
          201,
          results.map((r) => r.task),
          `${fresh} task(s) created${fresh < results.length ? `, ${results.length - fresh} matched earlier idempotency keys` : ''}.`,
        )
      },
      {
        body: Batch,
        ...route('tasks', 'Create up to 1,000 tasks in one transaction (all or nothing)', {
          answer: Ok(T.Array(Task)),
          status: 201,
          auth: true,
        }),
      },
    )
    .get(
      '',
      async ({ query, headers, set }) => {
        const caller = await who(headers.authorization)
        const p = parsePage(query)
        const { tasks, total } = await listTasks(sql, parseFilter(query), caller.scope, p)
        set.headers['x-total-count'] = String(total)
        return page(tasks, { total, ...p })
      },
      {
        query: ListQuery,
        ...route('tasks', 'List tasks, newest first; meta.total counts all matches', {
          answer: Paged(Task),
          auth: true,
        }),
      },
    )
    .get(
      '/stats',
      async ({ headers }) => ok(await taskStats(sql, (await who(headers.authorization)).scope)),
      {
        ...route('tasks', 'Counts per status, and per type (own tasks; all for an admin)', {
          answer: Ok(TaskStats),
          auth: true,
        }),
      },
    )
    .get(
      '/dead-letter',
      async ({ query, headers, set }) => {
        const caller = await who(headers.authorization)
        const p = parsePage(query)
        const { tasks, total } = await listTasks(
          sql,
          { ...parseFilter(query), status: ['failed'] },
          caller.scope,
          p,
        )
        set.headers['x-total-count'] = String(total)
        return page(tasks, { total, ...p })
      },
      {
        query: DeadLetterQuery,
        ...route('dead-letter', 'Failed tasks (the dead letter queue), paginated', {
          answer: Paged(Task),
          auth: true,
        }),
      },
    )
    .post(
      '/dead-letter/retry',
      async ({ body, headers }) => {
        const caller = await who(headers.authorization)
        const tasks = await retryDeadLetter(sql, selection(body), caller.scope, caller.actor)
        if (tasks.length > 0) notifier.poke()
        return ok(
          { retried: tasks.length, ids: tasks.map((x) => x.id) },
          `${tasks.length} failed task(s) reset to pending.`,
        )
      },
      {
        body: DeadLetterSelection,
        ...route('dead-letter', 'Retry failed tasks by ids or filter', { answer: Ok(Retried), auth: true }),
      },
    )
    .delete(
      '/dead-letter',
      async ({ body, headers }) => {
        const caller = await who(headers.authorization)
        const ids = await deleteDeadLetter(sql, selection(body), caller.scope)
        return ok({ deleted: ids.length, ids }, `${ids.length} failed task(s) permanently deleted.`)
      },
      {
        body: DeadLetterSelection,
        ...route('dead-letter', 'Delete failed tasks by ids or filter', { answer: Ok(Deleted), auth: true }),
      },
    )
    .get(
      '/:id',
      async ({ params, headers }) =>
        ok(await getTask(sql, params.id, (await who(headers.authorization)).scope)),
      {
        params: IdParams,
        ...route('tasks', 'One task (404 when missing or not yours)', {
          answer: Ok(Task),
          auth: true,
          errors: [404],
        }),
      },
    )
    .get(
      '/:id/events',
      async ({ params, headers }) =>
        ok(await taskEvents(sql, params.id, (await who(headers.authorization)).scope)),
      {
        params: IdParams,
        ...route('tasks', "The task's transitions, oldest first", {
          answer: Ok(T.Array(TaskEvent)),
          auth: true,
          errors: [404],
        }),
      },
    )
    .post(
      '/:id/cancel',
      async ({ params, headers }) => {
        const caller = await who(headers.authorization)
        const task = await cancelTask(sql, params.id, caller.scope, caller.actor)
        return ok(
          task,
          task.status === 'cancelled'
            ? `Task ${task.id} cancelled.`
            : `Task ${task.id} is running; its handler was told to stop.`,
        )
      },
      {
        params: IdParams,
        ...route('tasks', 'Cancel a waiting task, or signal a running one (409 when finished)', {
          answer: Ok(Task),
          auth: true,
          errors: [404, 409],
        }),
      },
    )
    .post(
      '/:id/retry',
      async ({ params, headers }) => {
        const caller = await who(headers.authorization)
        const task = await retryTask(sql, params.id, caller.scope, caller.actor)
        notifier.poke()
        return ok(task, `Task ${task.id} has been reset to pending status`)
      },
      {
        params: IdParams,
        ...route('tasks', 'Retry a failed or cancelled task, attempts reset (409 otherwise)', {
          answer: Ok(Task),
          auth: true,
          errors: [404, 409],
        }),
      },
    )
    .delete(
      '/:id',
      async ({ params, headers }) => {
        const caller = await who(headers.authorization)
        await deleteTask(sql, params.id, caller.scope)
        return ok({ id: params.id, deleted: true }, `Task ${params.id} has been permanently deleted`)
      },
      {
        params: IdParams,
        ...route('tasks', 'Delete a completed, failed or cancelled task (409 otherwise)', {
          answer: Ok(TaskDeleted),
          auth: true,
          errors: [404, 409],
        }),
      },
    )
}
