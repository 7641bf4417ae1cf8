// The panel's only door to the server: the public API under /api/v1, with the session token as a
// Bearer header. Every answer is the envelope {success, data, message} or {success:false, error}.

export const BASE = '/api/v1'
const TOKEN_KEY = 'tasklab.token'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message)
  }
}

export interface Page<T> {
  data: T
  total?: number
  message: string | null
}

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY)
}

export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token)
  else localStorage.removeItem(TOKEN_KEY)
}

/** Called when the server says the session is gone; the app swaps to the login view. */
let onUnauthorized: () => void = () => {}
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn
}

export function authHeaders(): Record<string, string> {
  const t = getToken()
  return t ? { authorization: `Bearer ${t}` } : {}
}

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Page<T>> {
  const res = await fetch(BASE + path, {
    method,
    headers: {
      ...authHeaders(),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  let json: Record<string, unknown> | null = null
  try {
    json = (await res.json()) as Record<string, unknown>
  } catch {
    // A non-JSON answer (a proxy's error page) is reported below with the status alone.
  }
  if (!res.ok || !json || json.success === false) {
    const err = (json?.error ?? {}) as { code?: string; message?: string; details?: unknown }
    if (res.status === 401 && !path.startsWith('/auth/login')) onUnauthorized()
    throw new ApiError(
      res.status,
      err.code ?? `HTTP_${res.status}`,
      err.message ?? `${method} ${path} answered ${res.status}`,
      err.details,
    )
  }
  const meta = (json.meta ?? {}) as { total?: number }
  const total = (json.total as number | undefined) ?? meta.total
  return { data: json.data as T, total, message: (json.message as string | null) ?? null }
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown, headers?: Record<string, string>) =>
    request<T>('POST', path, body ?? {}, headers),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
  del: <T>(path: string, body?: unknown) => request<T>('DELETE', path, body),
}

/** Query string from an object, dropping empty values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams()
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v))
  const s = u.toString()
  return s ? `?${s}` : ''
}
