// The panel's only door to the server: the public API under /api/v1 through the one typed client
// (src/api/client: openapi-fetch over the types generated from the OpenAPI document), with the
// session token as a Bearer header. `answer(api.GET(…))` is the success envelope
// {success, data, message, meta?}; an error envelope throws ApiError.
import { API_PREFIX, ApiError, answer, createApi, dataOf } from '../../src/api/client'

export { ApiError, answer, dataOf }
export const BASE = API_PREFIX
const TOKEN_KEY = 'tasklab.token'

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

export const api = createApi({
  // Same origin: openapi-fetch joins '' and the route into a relative URL the browser resolves.
  baseUrl: '',
  token: getToken,
  // A wrong password is a 401 of the login itself, not a lost session.
  onUnauthorized: (route) => {
    if (!route.startsWith(`${BASE}/auth/login`)) onUnauthorized()
  },
})
