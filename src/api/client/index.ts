// The one client of the API, for the panel, the chaos lab and the tests: openapi-fetch over the
// types that openapi-typescript generates from the routes' OpenAPI document (./schema.d.ts, written
// by `bun scripts/api-types.ts`). A path the API does not have, a body it does not take or a field
// it never sends is a type error. This folder imports nothing else from the project: the panel
// bundles it (Biome's noRestrictedImports holds that direction).
import createClient, { type Client } from 'openapi-fetch'
import type { components, paths } from './schema'

export type { components, paths }
export type Api = Client<paths>
type Schemas = components['schemas']

export type Task = Schemas['Task']
export type TaskEvent = Schemas['TaskEvent']
export type TaskStats = Schemas['TaskStats']
export type TaskType = Schemas['TaskType']
export type BreakerState = TaskType['breaker']['state']
export type RetryStrategy = Schemas['RetryStrategy']
export type Worker = Schemas['Worker']
export type Storage = Schemas['Storage']
export type Why = Schemas['Why']
export type WhySummary = Schemas['WhySummary']
export type WhyReason = Schemas['WhyReason']
export type ReasonCode = WhyReason['code']
export type User = Schemas['User']
export type FaultRule = Schemas['FaultRule']
export type ErrorEnvelope = Schemas['Error']

/** The JSON body a route takes: `Body<'/api/v1/tasks', 'post'>`. */
export type Body<P extends keyof paths, M extends 'post' | 'patch'> = paths[P][M] extends {
  requestBody: { content: { 'application/json': infer B } }
}
  ? B
  : never
export type NewTask = Body<'/api/v1/tasks', 'post'>
export type NewFault = Body<'/api/v1/chaos/faults', 'post'>
export type TypePatch = Body<'/api/v1/tasks/types/{type}', 'patch'>

export const API_PREFIX = '/api/v1'

/** An error answer (the envelope's code, message and details), or a transport failure. The server
 *  throws a subclass (src/api/errors.ts) and the envelope carries it to the client. */
export class ApiError extends Error {
  override name = 'ApiError'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
  }
}

export interface ApiOptions {
  /** The server's origin, `http://127.0.0.1:3000`; '' in the browser (same origin). A trailing
   *  /api/v1 is dropped: the generated paths carry it. */
  baseUrl: string
  /** The session token to send as a Bearer header, read on every call. */
  token?: () => string | null | undefined
  /** Called on every 401 with the route's template (`/api/v1/auth/login`). */
  onUnauthorized?: (route: string) => void
  /** Another fetch: the API tests pass `app.handle`, no port. */
  fetch?: (request: Request) => Promise<Response>
  /** Each call fails after this long (none by default). */
  timeoutMs?: number
}

export function createApi(opts: ApiOptions): Api {
  const base = opts.baseUrl.replace(/\/+$/, '').replace(/\/api\/v1$/, '')
  const send = opts.fetch ?? ((req: Request) => fetch(req))
  const client = createClient<paths>({
    baseUrl: base,
    fetch: opts.timeoutMs
      ? (req) => send(new Request(req, { signal: AbortSignal.timeout(opts.timeoutMs!) }))
      : send,
  })
  client.use({
    onRequest({ request }) {
      const token = opts.token?.()
      if (token && !request.headers.has('authorization'))
        request.headers.set('authorization', `Bearer ${token}`)
      return request
    },
    onResponse({ response, schemaPath }) {
      if (response.status === 401) opts.onUnauthorized?.(schemaPath)
    },
  })
  return client
}

/** What an openapi-fetch call resolves to: `data` on success, `error` (the parsed body) otherwise. */
type Result = { data?: unknown; error?: unknown; response: Response }

/**
 * The success envelope `{success, data, message, meta?}` of a call, or an ApiError with the error
 * envelope's code, message and details (a non-JSON answer, a proxy's page, keeps its status).
 */
export async function answer<R extends Result>(call: Promise<R>): Promise<NonNullable<R['data']>> {
  const r = await call
  if (r.response.ok && r.data !== undefined) return r.data as NonNullable<R['data']>
  const body = r.error
  const err = (body as Partial<ErrorEnvelope> | undefined)?.error
  const where = `${r.response.url ? new URL(r.response.url).pathname : 'the API'} answered ${r.response.status}`
  throw new ApiError(
    r.response.status,
    err?.code ?? `HTTP_${r.response.status}`,
    err?.message ?? (typeof body === 'string' && body ? `${where}: ${body.slice(0, 200)}` : where),
    err?.details,
  )
}

/** The `data` of a call's success envelope, or an ApiError. */
export async function dataOf<R extends Result & { data?: { data: unknown } }>(
  call: Promise<R>,
): Promise<NonNullable<R['data']>['data']> {
  return (await answer(call)).data
}
