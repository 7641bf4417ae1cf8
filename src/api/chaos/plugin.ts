// /chaos: fault rules and worker kills (CONTRACT §5), admin only. Without --chaos the plugin has no
// routes at all, so every /api/v1/chaos path is the API's ordinary 404 and nothing here runs.
import { Type as T } from '@sinclair/typebox'
import { Elysia, t } from 'elysia'
import { ChaosError } from '../../faults/errors'
import { killWorker } from '../../faults/kill'
import { createFault, deleteFault, FAULT_KINDS, listFaults, MAX_EXPIRY_SECS } from '../../faults/rules'
import { TASK_TYPE_MAX_LENGTH } from '../../shared/task-input'
import { authenticate, requireAdmin } from '../auth/guard'
import { Named, Nullable, Ok, OneOf, route, Timestamp } from '../contract'
import type { ApiDeps } from '../deps'
import { ok } from '../envelope'
import { ApiError } from '../errors'

const NewFault = t.Object({
  task_type: t.String({
    maxLength: TASK_TYPE_MAX_LENGTH,
    description: 'a registered type, or "*" for every type',
  }),
  kind: t.Union(
    FAULT_KINDS.map((k) => t.Literal(k)),
    { description: 'fail, latency, hang (past the timeout) or crash (the worker process)' },
  ),
  probability: t.Optional(
    t.Number({ exclusiveMinimum: 0, maximum: 1, description: 'chance per attempt; default 1' }),
  ),
  permanent: t.Optional(t.Boolean({ description: 'fail only: straight to the dead letter queue' })),
  latency_ms: t.Optional(t.Integer({ minimum: 1, maximum: 3_600_000, description: 'latency only' })),
  match: t.Optional(
    t.Record(t.String(), t.Unknown(), {
      description: 'only tasks whose metadata holds these keys and values',
    }),
  ),
  message: t.Optional(t.String({ maxLength: 500 })),
  expires_in_secs: t.Optional(
    t.Number({ exclusiveMinimum: 0, maximum: MAX_EXPIRY_SECS, description: 'default 600' }),
  ),
  expires_at: t.Optional(t.String({ description: 'ISO 8601; instead of expires_in_secs' })),
})

const FaultRule = Named(
  'FaultRule',
  T.Object({
    id: T.String({ format: 'uuid' }),
    task_type: T.String({ description: 'a registered type, or "*" for every type' }),
    kind: OneOf(FAULT_KINDS),
    probability: T.Number(),
    permanent: T.Boolean(),
    latency_ms: Nullable(T.Integer()),
    match: Nullable(T.Record(T.String(), T.Unknown())),
    message: Nullable(T.String()),
    created_at: Timestamp,
    expires_at: Timestamp,
    created_by: Nullable(T.String({ format: 'uuid' })),
  }),
)

/** The chaos services speak ChaosError; the envelope speaks ApiError. */
async function mapped<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof ChaosError) throw new ApiError(err.status, err.code, err.message, err.details)
    throw err
  }
}

export function chaosPlugin(deps: ApiDeps) {
  const plugin = new Elysia({ name: 'tasklab-chaos', prefix: '/chaos' })
  if (!deps.config.chaos.enabled) return plugin
  const { sql } = deps
  const admin = async (authorization: string | undefined) => {
    const caller = await authenticate(sql, authorization)
    requireAdmin(caller)
    return caller
  }
  return plugin
    .get(
      '/faults',
      async ({ headers }) => {
        await admin(headers.authorization)
        return ok(await listFaults(sql))
      },
      {
        ...route('chaos', 'Fault rules in force (admin; only with --chaos)', {
          answer: Ok(T.Array(FaultRule)),
          auth: true,
          errors: [403],
        }),
      },
    )
    .post(
      '/faults',
      async ({ body, headers, set }) => {
        const caller = await admin(headers.authorization)
        const rule = await mapped(() => createFault(sql, body, caller.user.id))
        deps.log.warn('chaos fault rule created', {
          rule: rule.id,
          type: rule.task_type,
          kind: rule.kind,
          by: caller.user.id,
        })
        set.status = 201
        return ok(rule, `Fault rule ${rule.id} in force until ${rule.expires_at.toISOString()}.`)
      },
      {
        body: NewFault,
        ...route('chaos', 'Create a fault rule for a task type (admin; only with --chaos)', {
          answer: Ok(FaultRule),
          status: 201,
          auth: true,
          errors: [403],
        }),
      },
    )
    .delete(
      '/faults/:id',
      async ({ params, headers }) => {
        await admin(headers.authorization)
        await mapped(() => deleteFault(sql, params.id))
        return ok({ id: params.id }, `Fault rule ${params.id} deleted.`)
      },
      {
        params: t.Object({ id: t.String({ format: 'uuid' }) }),
        ...route('chaos', 'Delete a fault rule (admin)', {
          answer: Ok(T.Object({ id: T.String({ format: 'uuid' }) })),
          auth: true,
          errors: [403, 404],
        }),
      },
    )
    .post(
      '/workers/:id/kill',
      async ({ params, headers }) => {
        const caller = await admin(headers.authorization)
        const worker = await mapped(() => killWorker(sql, params.id))
        deps.log.warn('chaos: worker kill requested', {
          worker: worker.id,
          pid: worker.pid,
          by: caller.user.id,
        })
        return ok(
          { id: worker.id, pid: worker.pid, host: worker.host },
          `Worker ${worker.id} told to exit abruptly (SIGKILL).`,
        )
      },
      {
        params: t.Object({ id: t.String({ minLength: 1, maxLength: 200 }) }),
        ...route('chaos', 'Make a worker exit abruptly, as kill -9 would (admin)', {
          answer: Ok(T.Object({ id: T.String(), pid: T.Integer(), host: T.String() })),
          auth: true,
          errors: [403, 404],
        }),
      },
    )
}
