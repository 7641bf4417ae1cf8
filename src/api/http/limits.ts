// What a request may cost before it is authenticated. Routing and the caller's credential are
// checked before a single byte of the body is read, and each route reads only as much as it can
// use: an 8 MB `[{},{},…]` sent to an unknown route used to cost 4 s of CPU and 560 MB, and four
// at once held /health/live up for 10 s (issue 12, item 5).

/** Login, register, password: a few short strings. */
export const AUTH_BODY_LIMIT = 16 * 1024
/** Every other route that takes a body (type settings, chaos rules, bulk actions by id). */
export const DEFAULT_BODY_LIMIT = 256 * 1024

const PUBLIC = new Set(['/api/v1/auth/register', '/api/v1/auth/login', '/api/v1/auth/login-link'])
/** The only routes that carry task payloads (or results): the configured limit, 8 MiB by default. */
const BULK = new Set(['POST /api/v1/tasks', 'POST /api/v1/tasks/batch', 'POST /api/v1/tasks/:id/complete'])

export interface BodyRule {
  limit: number
  /** True when the route may be called without a credential (register, login). */
  public: boolean
}

/** The rule for a matched route, or null when no route takes this body (it is never read). */
export function bodyRule(method: string, route: string | undefined, bulkLimit: number): BodyRule | null {
  if (!route || route.endsWith('*')) return null
  if (PUBLIC.has(route)) return { limit: AUTH_BODY_LIMIT, public: true }
  if (route.startsWith('/api/v1/auth/')) return { limit: AUTH_BODY_LIMIT, public: false }
  if (BULK.has(`${method} ${route}`)) return { limit: bulkLimit, public: false }
  return { limit: Math.min(DEFAULT_BODY_LIMIT, bulkLimit), public: false }
}

/** True when the request carries a body at all (a bodiless POST needs no credential check here). */
export function hasBody(request: Request): boolean {
  const length = request.headers.get('content-length')
  if (length !== null) return length.trim() !== '0'
  return request.body !== null
}
