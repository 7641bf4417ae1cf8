// Health: /health/live says the process answers (no database), /health/ready says it can serve
// (the database answers within 2 s) and /health is ready plus details. Ready goes 503 while
// PostgreSQL is unreachable and back to 200 by itself: postgres.js reconnects on the next query.
import { Type as T } from '@sinclair/typebox'
import { Elysia } from 'elysia'
import { VERSION } from '../../version'
import { Named, Ok, route } from '../contract'
import type { ApiDeps } from '../deps'
import { ok } from '../envelope'
import { errorBody } from '../http/on-error'

const READY_TIMEOUT_MS = 2000
const started = Date.now()

async function probe(deps: ApiDeps): Promise<{ up: true; ms: number } | { up: false; error: string }> {
  const t0 = performance.now()
  let timer: Timer | undefined
  try {
    await Promise.race([
      deps.sql`SELECT 1`,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)),
          READY_TIMEOUT_MS,
        )
      }),
    ])
    return { up: true, ms: Math.round((performance.now() - t0) * 10) / 10 }
  } catch (err) {
    return { up: false, error: (err as Error).message?.slice(0, 200) ?? 'unreachable' }
  } finally {
    clearTimeout(timer)
  }
}

const Health = Named(
  'Health',
  T.Object({
    status: T.Literal('ok'),
    database: T.Literal('up'),
    database_ms: T.Number({ description: 'round trip of SELECT 1' }),
    version: T.String(),
    uptime_s: T.Integer(),
    chaos: T.Boolean({ description: 'fault injection is on (--chaos)' }),
  }),
)
const Ready = T.Object({ status: T.Literal('ready') })

export function healthPlugin(deps: ApiDeps) {
  const answer = async (set: { status?: number | string }, details: boolean) => {
    const db = await probe(deps)
    // chaos tells the panel whether to show its chaos view without probing routes that 404 when off.
    const info = {
      version: VERSION,
      uptime_s: Math.round((Date.now() - started) / 1000),
      chaos: deps.config.chaos.enabled,
    }
    if (!db.up) {
      set.status = 503
      return errorBody(
        'DATABASE_UNAVAILABLE',
        `PostgreSQL is unreachable: ${db.error}`,
        details ? { ...info, database: 'down' } : undefined,
      )
    }
    return ok(
      details
        ? { status: 'ok' as const, database: 'up' as const, database_ms: db.ms, ...info }
        : { status: 'ready' as const },
    )
  }
  return new Elysia({ name: 'tasklab-health', prefix: '/health' })
    .get('', ({ set }) => answer(set, true), {
      ...route('health', 'Status, version and database round trip (503 when the database is down)', {
        answer: Ok(T.Union([Health, Ready])),
        errors: [503],
      }),
    })
    .get('/live', () => ok({ status: 'alive' as const }), {
      ...route('health', 'The process answers (never touches the database)', {
        answer: Ok(T.Object({ status: T.Literal('alive') })),
      }),
    })
    .get('/ready', ({ set }) => answer(set, false), {
      ...route('health', 'Ready to serve: 503 while PostgreSQL is unreachable', {
        answer: Ok(T.Union([Health, Ready])),
        errors: [503],
      }),
    })
}
