// The HTTP worker protocol (CONTRACT §6): claim with long-poll, heartbeat, complete, fail. Any
// language can run tasklab tasks with these four routes plus POST /tasks/types. Callers hold the
// worker token or an admin session; a user session is 403. The rules live in src/queue/remote.ts;
// this file turns HTTP into calls of it and announces what changed (events, NOTIFY, log).
import { Type as T } from '@sinclair/typebox'
import { Elysia, t } from 'elysia'
import { probeAt } from '../../queue/breaker'
import { nextRunAt } from '../../queue/claim'
import type { Outcome } from '../../queue/finish'
import { MAX_ERROR_CHARS } from '../../queue/outcome-text'
import { breakerOf, breakerSettingsOf, readTypes, TYPE_NAME } from '../../queue/registry'
import {
  type BreakerChange,
  claimRemote,
  completeRemote,
  type Finished,
  failRemote,
  heartbeatRemote,
  LeaseLost,
  noteBreaker,
} from '../../queue/remote'
import { resultProblem } from '../../queue/result-check'
import { Wakeups } from '../../queue/wakeups'
import { TASK_TYPE_MAX_LENGTH } from '../../shared/task-input'
import { authenticate, isWorkerToken, requireAdmin } from '../auth/guard'
import { Ok, route } from '../contract'
import type { ApiDeps } from '../deps'
import { ok } from '../envelope'
import { ApiError, badRequest } from '../errors'
import { IdParams, Task } from '../tasks/schemas'
import { ClaimedTask, Heartbeat } from './schemas'

export const CLAIM_LIMIT_MAX = 100
export const WAIT_MS_MAX = 30_000

const WorkerId = t.String({
  minLength: 1,
  maxLength: 128,
  pattern: '^[A-Za-z0-9_.:@-]+$',
  description: "the worker's own stable id: letters, digits and . _ : @ -",
})

/** Runs a guarded report; a task no longer held by the worker is 409 LEASE_LOST. */
async function guarded<T>(report: () => Promise<T>): Promise<T> {
  try {
    return await report()
  } catch (err) {
    throw err instanceof LeaseLost ? new ApiError(409, 'LEASE_LOST', err.message) : err
  }
}

export function protocolPlugin(deps: ApiDeps) {
  const { sql, events, notifier, log, config } = deps
  const wakeups = new Wakeups(sql, notifier)
  const leaseMs = config.worker.leaseMs

  const allow = async (authorization: string | undefined) => {
    if (isWorkerToken(config.server.workerToken, authorization)) return
    requireAdmin(await authenticate(sql, authorization))
  }

  const announceBreaker = (c: BreakerChange | null) => {
    if (!c) return
    events.emit('breaker:changed', {
      taskType: c.row.name,
      from: c.before,
      to: c.row.breaker_state,
      failures: c.row.breaker_failures,
    })
    log.warn(`circuit breaker ${c.row.breaker_state}`, { type: c.row.name, from: c.before })
    notifier.control({ kind: 'types' }).catch(() => {})
  }

  const announceFinish = async (workerId: string, attempt: number, f: Finished) => {
    const outcome: Outcome = f.outcome
    events.emit('task:transition', {
      id: f.task.id,
      taskType: f.task.task_type,
      from: 'running',
      to: outcome.status,
      attempt,
      workerId,
      error: 'error' in outcome ? outcome.error : undefined,
    })
    if (f.breaker) announceBreaker(await noteBreaker(sql, f.task.task_type, f.breaker).catch(() => null))
  }

  /** Until something is due: a scheduled or retrying task, or a breaker's probe. */
  const dueIn = async (types: string[]) => {
    let ms = Number.POSITIVE_INFINITY
    const next = await nextRunAt(sql, types)
    if (next) ms = next.getTime() - Date.now() + 5
    for (const row of await readTypes(sql, types)) {
      const at = probeAt(breakerOf(row), breakerSettingsOf(row))
      if (at) ms = Math.min(ms, at.getTime() - Date.now() + 5)
    }
    return ms
  }

  return new Elysia({ name: 'tasklab-worker-protocol' })
    .post(
      '/workers/claim',
      async ({ body, headers, request, server }) => {
        await allow(headers.authorization)
        const types = [...new Set(body.types)]
        const { limit } = body
        if (!Number.isInteger(limit) || limit < 1 || limit > CLAIM_LIMIT_MAX)
          throw badRequest(
            'limit',
            `limit must be a whole number from 1 to ${CLAIM_LIMIT_MAX}; got ${limit}.`,
          )
        const waitMs = body.wait_ms ?? 0
        if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > WAIT_MS_MAX)
          throw badRequest(
            'wait_ms',
            `wait_ms must be a whole number of milliseconds from 0 to ${WAIT_MS_MAX}; got ${waitMs}.`,
          )
        const deadline = Date.now() + waitMs
        const host =
          headers['x-forwarded-for']?.split(',')[0]?.trim() ||
          server?.requestIP(request)?.address ||
          'unknown'
        for (;;) {
          // A worker that hung up would never hear of what we claimed for it (rescued only after the lease).
          if (request.signal.aborted) return ok([], 'The worker hung up.')
          const { tasks, changes } = await claimRemote(sql, {
            workerId: body.worker_id,
            host,
            types,
            limit,
            leaseMs,
            defaultTimeoutMs: config.worker.defaultTimeoutMs,
          })
          for (const c of changes) announceBreaker(c)
          for (const task of tasks)
            events.emit('task:transition', {
              id: task.id,
              taskType: task.task_type,
              from: task.current_attempt > 1 ? 'retrying' : 'pending',
              to: 'running',
              attempt: task.current_attempt,
              workerId: body.worker_id,
            })
          const left = deadline - Date.now()
          if (tasks.length > 0 || left <= 0)
            return ok(tasks, tasks.length > 0 ? null : `Nothing to claim within ${waitMs} ms.`)
          // Keep the worker listed as alive while it waits longer than its lease.
          await wakeups.next(Math.min(left, await dueIn(types), leaseMs / 2), request.signal)
          // Claim nothing more once the server is stopping: nobody would be left to hear the report.
          if (wakeups.closed) return ok([], 'The server is shutting down; claim again elsewhere.')
        }
      },
      {
        body: t.Object({
          worker_id: WorkerId,
          types: t.Array(
            t.String({ minLength: 1, maxLength: TASK_TYPE_MAX_LENGTH, pattern: TYPE_NAME.source }),
            {
              minItems: 1,
              maxItems: 100,
            },
          ),
          // Ranges are checked in the handler, for a sentence that says what is accepted.
          limit: t.Number({ description: `1 to ${CLAIM_LIMIT_MAX}` }),
          wait_ms: t.Optional(t.Number({ description: `0 to ${WAIT_MS_MAX}; 0 answers at once` })),
        }),
        ...route(
          'workers',
          'Claim up to `limit` tasks of `types`, waiting up to `wait_ms` for one (long poll; worker token or admin)',
          { answer: Ok(T.Array(ClaimedTask)), auth: true, errors: [403] },
        ),
      },
    )
    .post(
      '/tasks/:id/heartbeat',
      async ({ params, body, headers }) => {
        await allow(headers.authorization)
        return ok(
          await guarded(() => heartbeatRemote(sql, { id: params.id, workerId: body.worker_id, leaseMs })),
        )
      },
      {
        params: IdParams,
        body: t.Object({ worker_id: WorkerId }),
        ...route('workers', "Extend the task's lease; tells the worker whether a cancel was requested", {
          answer: Ok(Heartbeat),
          auth: true,
          errors: [403, 409],
        }),
      },
    )
    .post(
      '/tasks/:id/complete',
      async ({ params, body, headers }) => {
        await allow(headers.authorization)
        const problem = resultProblem(body.result)
        const f = await guarded(() =>
          completeRemote(sql, {
            id: params.id,
            workerId: body.worker_id,
            result: body.result,
            problem,
          }),
        )
        await announceFinish(body.worker_id, f.task.current_attempt, f)
        if (problem)
          throw new ApiError(
            400,
            'RESULT_NOT_STORABLE',
            `The result was refused: ${problem}. The attempt counts as failed; the task is now ${f.task.status}.`,
            { field: 'result', status: f.task.status },
          )
        return ok(f.task, `Task ${f.task.id} completed.`)
      },
      {
        params: IdParams,
        body: t.Object({ worker_id: WorkerId, result: t.Optional(t.Unknown()) }),
        ...route('workers', 'Report success with the result (guarded by the lease)', {
          answer: Ok(Task),
          auth: true,
          errors: [403, 409],
        }),
      },
    )
    .post(
      '/tasks/:id/fail',
      async ({ params, body, headers }) => {
        await allow(headers.authorization)
        const f = await guarded(() =>
          failRemote(sql, {
            id: params.id,
            workerId: body.worker_id,
            error: body.error,
            permanent: body.permanent ?? false,
          }),
        )
        await announceFinish(body.worker_id, f.task.current_attempt, f)
        return ok(f.task, `Task ${f.task.id} is ${f.task.status}.`)
      },
      {
        params: IdParams,
        body: t.Object({
          worker_id: WorkerId,
          // A long traceback is cut when stored (outcome-text.ts), as a module's error is, rather than
          // refused: a refused report leaves the attempt running until its lease or timeout.
          error: t.String({
            minLength: 1,
            maxLength: 200_000,
            description: `stored cut to ${MAX_ERROR_CHARS} characters`,
          }),
          permanent: t.Optional(t.Boolean()),
        }),
        ...route(
          'workers',
          'Report a failed attempt: retried by the task strategy, or failed at once when permanent',
          { answer: Ok(Task), auth: true, errors: [403, 409] },
        ),
      },
    )
}
