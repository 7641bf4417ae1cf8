// Signing in: a password login, or the one-time link printed at first start (`/?login=TOKEN`),
// which is exchanged for a session and then removed from the address bar and the history.
import { api, dataOf, setToken } from './api'
import type { User } from './types'

export async function login(name: string, password: string): Promise<User> {
  const body = name.includes('@') ? { email: name, password } : { username: name, password }
  const data = await dataOf(api.POST('/api/v1/auth/login', { body }))
  setToken(data.session_token)
  return data.user
}

export async function register(username: string, email: string, password: string): Promise<User> {
  await dataOf(api.POST('/api/v1/auth/register', { body: { username, email, password } }))
  return login(username, password)
}

/** Spends `?login=TOKEN` if present. The token leaves the URL first, so a reload never replays it. */
export async function redeemLoginLink(): Promise<void> {
  const url = new URL(location.href)
  const token = url.searchParams.get('login')
  if (!token) return
  url.searchParams.delete('login')
  history.replaceState(null, '', url.pathname + url.search)
  try {
    const data = await dataOf(api.POST('/api/v1/auth/login-link', { body: { token } }))
    setToken(data.session_token)
    // A link is issued only to an admin without a password (first start, or after
    // `tasklab admin reset-link`): without one, signing out would lock them out.
    localStorage.setItem(NEEDS_PASSWORD, '1')
  } catch (err) {
    linkError = err instanceof Error ? err.message : String(err)
  }
}

/** Why the login link did not work, for the login view to say. */
export let linkError: string | null = null

const NEEDS_PASSWORD = 'tasklab.needsPassword'

/** True after signing in by a one-time link, until a password is set. */
export function needsPassword(): boolean {
  return localStorage.getItem(NEEDS_PASSWORD) === '1'
}

export function forgetPasswordNeed(): void {
  localStorage.removeItem(NEEDS_PASSWORD)
}

/** Sets the first password of an account that has none (POST /auth/password). */
export async function setFirstPassword(password: string): Promise<void> {
  await dataOf(api.POST('/api/v1/auth/password', { body: { new_password: password } }))
  forgetPasswordNeed()
}
