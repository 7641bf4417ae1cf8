// /tasks/types: the registry. GET is public (what can I enqueue, who runs it, is it healthy?);
// POST is an idempotent upsert for admins and for workers holding the worker credential; PATCH is
// the admin's control of pause, breaker, timeout and default retry strategy.
import { Type as T } from '@sinclair/typebox'
import { Elysia, t } from 'elysia'
import { QueueError } from '../../queue/errors'
import type { TaskTypeRow } from '../../queue/registry'
import { readTypes, TYPE_NAME, upsertTypes } from '../../queue/registry'
import { parseRetryStrategy } from '../../queue/retry'
import {
  patchType,
  type TypeOverview,
  type TypePatch,
  typeOverview,
  typesOverview,
} from '../../queue/type-admin'
import {
  type InputProblem,
  retryStrategyProblem,
  TASK_TYPE_MAX_LENGTH,
  TIMEOUT_MS_LIMIT,
} from '../../shared/task-input'
import { authenticate, isWorkerToken, requireAdmin } from '../auth/guard'
import { Ok, route } from '../contract'
import type { ApiDeps } from '../deps'
import { ok } from '../envelope'
import { badRequest } from '../errors'
import { RetryStrategy } from '../tasks/schemas'
import { RetentionOverrides, retentionPatch, retentionView } from './retention'
import { TaskType } from './schemas'

/** A type as the API shows it: the seed's fields, plus live workers, breaker and settings. */
export function typeView(row: TaskTypeRow, liveWorkers?: string[]) {
  return {
    task_type: row.name,
    description: row.description,
    is_active: row.is_active,
    paused: row.paused,
    timeout_ms: row.timeout_ms,
    retry_strategy: row.retry_strategy,
    payload_schema: row.payload_schema,
    example_payload: row.example_payload,
    breaker: {
      state: row.breaker_state,
      failures: row.breaker_failures,
      successes: row.breaker_successes,
      opened_at: row.breaker_opened_at,
      failure_threshold: row.breaker_failure_threshold,
      success_threshold: row.breaker_success_threshold,
      cooldown_ms: row.breaker_cooldown_ms,
    },
    retention: retentionView(row),
    ...(liveWorkers ? { workers: { alive: liveWorkers.length, ids: liveWorkers } } : {}),
    created_at: row.created_at,
    updated_at: row.updated_at,
  }
}

const TypeName = t.String({
  minLength: 1,
  maxLength: TASK_TYPE_MAX_LENGTH,
  pattern: TYPE_NAME.source,
  description: 'lowercase letters, digits, underscores; starts with a letter',
})

export function typesPlugin(deps: ApiDeps) {
  const { sql, notifier } = deps

  return new Elysia({ name: 'tasklab-types', prefix: '/tasks/types' })
    .get(
      '',
      async () => ok((await typesOverview(sql)).map((r: TypeOverview) => typeView(r, r.live_workers))),
      {
        ...route('types', 'Registered types with live workers, breaker state and paused flag (public)', {
          answer: Ok(T.Array(TaskType)),
        }),
      },
    )
    .get(
      '/:type',
      async ({ params }) => {
        const row = await typeOverview(sql, params.type)
        return ok(typeView(row, row.live_workers))
      },
      {
        params: t.Object({ type: t.String({ maxLength: TASK_TYPE_MAX_LENGTH }) }),
        ...route('types', 'One type with its live workers, breaker and settings (public; 404 when unknown)', {
          answer: Ok(TaskType),
          errors: [404],
        }),
      },
    )
    .post(
      '',
      async ({ body, headers, set }) => {
        if (!isWorkerToken(deps.config.server.workerToken, headers.authorization))
          requireAdmin(await authenticate(sql, headers.authorization))
        const name = body.task_type ?? body.name
        if (name === undefined) throw badRequest('task_type', 'task_type is required.')
        const existed = (await readTypes(sql, [name])).length > 0
        const [row] = await upsertTypes(sql, [
          {
            name,
            description: body.description ?? '',
            payload_schema: body.payload_schema,
            example_payload: body.example_payload,
          },
        ])
        await notifier.control({ kind: 'types' })
        set.status = existed ? 200 : 201
        return ok(typeView(row!), existed ? `Task type ${name} updated.` : `Task type ${name} registered.`)
      },
      {
        body: t.Object({
          task_type: t.Optional(TypeName),
          name: t.Optional(TypeName),
          description: t.Optional(t.String({ maxLength: 1000 })),
          payload_schema: t.Optional(t.Record(t.String(), t.Unknown())),
          example_payload: t.Optional(t.Record(t.String(), t.Unknown())),
        }),
        ...route('types', 'Register or update a type (admin or worker credential); idempotent', {
          answer: Ok(TaskType),
          status: 201,
          also: [200],
          auth: true,
          errors: [403],
        }),
      },
    )
    .patch(
      '/:type',
      async ({ params, body, headers }) => {
        requireAdmin(await authenticate(sql, headers.authorization))
        const patch: TypePatch = {
          paused: body.paused,
          is_active: body.is_active,
          description: body.description,
          timeout_ms: body.timeout_ms,
          breaker_failure_threshold: body.breaker?.failure_threshold,
          breaker_success_threshold: body.breaker?.success_threshold,
          breaker_cooldown_ms: body.breaker?.cooldown_ms,
          breaker_state: body.breaker?.state,
          ...retentionPatch(body.retention),
        }
        if (body.retry_strategy !== undefined) {
          if (body.retry_strategy === null) patch.retry_strategy = null
          else {
            const parsed = parseRetryStrategy(body.retry_strategy, deps.config.worker.maxRetries)
            if (!parsed.ok)
              throw new QueueError('VALIDATION_ERROR', parsed.error, { field: 'retry_strategy' })
            patch.retry_strategy = parsed.value
          }
        }
        if (Object.values(patch).every((v) => v === undefined))
          throw badRequest(
            'body',
            'Send at least one of paused, is_active, description, timeout_ms, retry_strategy, breaker, retention.',
          )
        const row = await patchType(sql, params.type, patch)
        // Workers re-read their types now: a pause stops claims, a resume claims at once.
        await notifier.control({ kind: 'types' })
        return ok(typeView(row), `Task type ${row.name} updated.`)
      },
      {
        params: t.Object({ type: t.String({ maxLength: TASK_TYPE_MAX_LENGTH }) }),
        body: t.Object({
          paused: t.Optional(t.Boolean()),
          is_active: t.Optional(t.Boolean()),
          description: t.Optional(t.String({ maxLength: 1000 })),
          timeout_ms: t.Optional(t.Union([t.Integer({ minimum: 1, maximum: TIMEOUT_MS_LIMIT }), t.Null()])),
          retry_strategy: t.Optional(t.Union([RetryStrategy, t.Null()])),
          breaker: t.Optional(
            t.Object({
              failure_threshold: t.Optional(t.Integer({ minimum: 1, maximum: 1_000_000 })),
              success_threshold: t.Optional(t.Integer({ minimum: 1, maximum: 1_000_000 })),
              cooldown_ms: t.Optional(t.Integer({ minimum: 0, maximum: 86_400_000 })),
              state: t.Optional(t.Literal('closed', { description: 'close (reset) the breaker now' })),
            }),
          ),
          retention: t.Optional(RetentionOverrides),
        }),
        ...route(
          'types',
          'Pause/resume, breaker thresholds or reset, timeout, default retry strategy, retention (admin)',
          {
            answer: Ok(TaskType),
            auth: true,
            errors: [403, 404],
          },
        ),
      },
    )
}

/**
 * A PATCH whose retry_strategy the schema refused: the sentence POST /tasks gives for the same
 * strategy (src/shared/task-input.ts), not the validator's. Other fields get the validator's words.
 */
export function typePatchProblem(body: unknown): InputProblem | null {
  const strategy =
    body && typeof body === 'object' ? (body as { retry_strategy?: unknown }).retry_strategy : null
  if (strategy === undefined || strategy === null) return null
  const message = retryStrategyProblem(strategy)
  return message ? { field: 'retry_strategy', message } : null
}
