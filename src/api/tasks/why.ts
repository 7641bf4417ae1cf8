// /tasks/{id}/why: what holds one task back, evaluated now (src/queue/why.ts); /tasks/why: the
// headline reason of many tasks at once, for the list's badges and the overview's breakdown.
// Owner-scoped like GET /tasks/{id}: another user's task is 404.
import { Elysia, t } from 'elysia'
import { explainTask, summarizeWhy } from '../../queue/why'
import { authenticate } from '../auth/guard'
import { Ok, route } from '../contract'
import type { ApiDeps } from '../deps'
import { ok } from '../envelope'
import { badRequest } from '../errors'
import { IdParams, Why, WhySummary } from './schemas'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function whyPlugin(deps: ApiDeps) {
  const { sql } = deps
  // The per-user running cap (STARTER__WORKER__MAX_RUNNING_PER_USER), which the claim enforces.
  const userCap = deps.config.worker.maxRunningPerUser ?? null
  return new Elysia({ name: 'tasklab-why', prefix: '/tasks' })
    .get(
      '/why',
      async ({ query, headers }) => {
        const caller = await authenticate(sql, headers.authorization)
        const ids = query.ids?.split(',').filter(Boolean)
        const bad = ids?.find((id) => !UUID.test(id))
        if (bad !== undefined)
          throw badRequest('ids', `ids must be task ids (UUIDs) separated by commas; got "${bad}".`)
        if (ids && ids.length > 1000)
          throw badRequest('ids', `Ask for at most 1000 ids at once; got ${ids.length}.`)
        return ok(await summarizeWhy(sql, caller.scope, { userCap, ids }))
      },
      {
        query: t.Object({
          ids: t.Optional(
            t.String({ maxLength: 40_000, description: 'task ids, comma-separated (at most 1000)' }),
          ),
        }),
        ...route('tasks', 'Unfinished tasks counted by the reason they wait; per task with ids=', {
          answer: Ok(WhySummary),
          auth: true,
        }),
      },
    )
    .get(
      '/:id/why',
      async ({ params, headers }) => {
        const caller = await authenticate(sql, headers.authorization)
        return ok(await explainTask(sql, params.id, caller.scope, { userCap }))
      },
      {
        params: IdParams,
        ...route('tasks', 'Why the task is not running (or what it is doing), evaluated now', {
          answer: Ok(Why),
          auth: true,
          errors: [404],
        }),
      },
    )
}
