// Headers every answer carries: a request id (the client's X-Request-Id when it is sane, else a
// new one), nosniff, frame deny, no referrer, and CORS only for the one origin configured.
const SAFE_ID = /^[A-Za-z0-9._-]{1,64}$/

export function requestIdOf(request: Request): string {
  const given = request.headers.get('x-request-id')
  return given && SAFE_ID.test(given) ? given : crypto.randomUUID()
}

export function securityHeaders(requestId: string): Record<string, string> {
  return {
    'x-request-id': requestId,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  }
}

/** CORS headers for a request from `origin`, when it is the configured one (or `*`). */
export function corsHeaders(allowed: string | undefined, origin: string | null): Record<string, string> {
  if (!allowed || !origin || (allowed !== '*' && allowed !== origin)) return {}
  return {
    'access-control-allow-origin': allowed === '*' ? '*' : origin,
    'access-control-allow-headers': 'authorization, content-type, idempotency-key, x-request-id',
    'access-control-allow-methods': 'GET, POST, PATCH, DELETE, OPTIONS',
    'access-control-expose-headers': 'x-request-id, x-total-count, retry-after',
    'access-control-max-age': '600',
    vary: 'origin',
  }
}
