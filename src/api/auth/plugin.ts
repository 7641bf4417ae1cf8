// /auth: register, login (username or email), the first-start login link, logout, logout-all, me,
// refresh and password change.
import { Type as T } from '@sinclair/typebox'
import { Elysia, t } from 'elysia'
import { Ok, route } from '../contract'
import type { ApiDeps } from '../deps'
import { ok } from '../envelope'
import { ApiError, badRequest } from '../errors'
import { authenticate } from './guard'
import { ACCOUNT_RULE, LoginThrottle, SlowDown } from './rate-limit'
import { PasswordChanged, Session, SessionsClosed, User } from './schemas'
import { closeAllSessions, closeSession, exchangeLoginLink, openSession, refreshSession } from './sessions'
import { bearer, hashToken } from './tokens'
import { checkPassword, createUser, findByLogin, publicUser, setPassword } from './users'

const Str = (max: number, description?: string) => t.String({ minLength: 1, maxLength: max, description })

function tooMany(ms: number, what = 'failed logins'): ApiError {
  const s = Math.ceil(ms / 1000)
  return new ApiError(
    429,
    'TOO_MANY_ATTEMPTS',
    `Too many ${what}; try again in ${s} second${s === 1 ? '' : 's'}.`,
    { retry_after_s: s },
    { 'retry-after': String(s) },
  )
}

export function authPlugin(deps: ApiDeps) {
  const { sql } = deps
  const logins = new LoginThrottle()
  // Wrong current passwords, per account: a stolen session must not become a way to guess the
  // password at full speed.
  const passwordChecks = new SlowDown(ACCOUNT_RULE)
  const addressOf = (
    request: Request,
    server: { requestIP(r: Request): { address: string } | null } | null,
  ) => server?.requestIP(request)?.address ?? 'local'

  return new Elysia({ name: 'tasklab-auth', prefix: '/auth' })
    .post(
      '/register',
      async ({ body, set }) => {
        const user = await createUser(sql, {
          username: body.username,
          email: body.email,
          password: body.password,
        })
        set.status = 201
        return ok(publicUser(user), `Account ${user.username} created; log in with POST /api/v1/auth/login.`)
      },
      {
        body: t.Object({ username: Str(32), email: Str(254), password: Str(128) }),
        ...route('auth', 'Create an account (role user)', { answer: Ok(User), status: 201, errors: [409] }),
      },
    )
    .post(
      '/login',
      async ({ body, request, server }) => {
        const login = body.username ?? body.email
        if (!login) throw badRequest('username', 'Send username or email, and password.')
        const address = addressOf(request, server)
        const { key, row } = await findByLogin(sql, login)
        // Keyed on the account itself, so every spelling of a login shares one count.
        const account = row ? `user:${row.id}` : `login:${key}`
        const wait = logins.waitFor(account, address)
        if (wait > 0) throw tooMany(wait)
        if (!(await checkPassword(row, body.password))) {
          logins.failed(account, address)
          throw new ApiError(401, 'INVALID_CREDENTIALS', 'The username/email or password is wrong.')
        }
        logins.succeeded(account, address)
        return ok(await openSession(sql, publicUser(row!)), 'Logged in.')
      },
      {
        body: t.Object({ username: t.Optional(Str(254)), email: t.Optional(Str(254)), password: Str(128) }),
        ...route('auth', 'Log in with username or email; returns a bearer session_token', {
          answer: Ok(Session),
          errors: [401, 429],
        }),
      },
    )
    .post(
      '/login-link',
      async ({ body }) => ok(await exchangeLoginLink(sql, body.token), 'Logged in with the login link.'),
      {
        body: t.Object({ token: Str(512, 'the token from the login link printed at first start') }),
        ...route('auth', 'Exchange a one-time login link token for a session', {
          answer: Ok(Session),
          errors: [401],
        }),
      },
    )
    .post(
      '/logout',
      async ({ headers }) => {
        await authenticate(sql, headers.authorization)
        await closeSession(sql, bearer(headers.authorization)!)
        return ok(null, 'Logged out.')
      },
      route('auth', 'End this session', { answer: Ok(T.Null()), auth: true }),
    )
    .post(
      '/logout-all',
      async ({ headers }) => {
        const caller = await authenticate(sql, headers.authorization)
        const n = await closeAllSessions(sql, caller.user.id)
        return ok({ sessions_closed: n }, `Logged out of ${n} session(s).`)
      },
      route('auth', 'End every session of this account', { answer: Ok(SessionsClosed), auth: true }),
    )
    .get(
      '/me',
      async ({ headers }) => ok((await authenticate(sql, headers.authorization)).user),
      route('auth', 'The account behind the token', { answer: Ok(User), auth: true }),
    )
    .post(
      '/refresh',
      async ({ headers }) => {
        const caller = await authenticate(sql, headers.authorization)
        return ok(
          await refreshSession(sql, bearer(headers.authorization)!, caller.user),
          'Session renewed; the old token no longer works.',
        )
      },
      route('auth', 'Swap the token for a new one with a fresh expiry', { answer: Ok(Session), auth: true }),
    )
    .post(
      '/password',
      async ({ headers, body }) => {
        const caller = await authenticate(sql, headers.authorization)
        const wait = passwordChecks.waitFor(caller.user.id)
        if (wait > 0) throw tooMany(wait, 'wrong current passwords')
        const token = bearer(headers.authorization)!
        let ended: number
        try {
          ended = await setPassword(
            sql,
            caller.user.id,
            body.current_password,
            body.new_password,
            hashToken(token),
          )
        } catch (err) {
          if (err instanceof ApiError && err.code === 'WRONG_PASSWORD') passwordChecks.fail(caller.user.id)
          throw err
        }
        return ok(
          { other_sessions_closed: ended },
          `Password changed; ${ended} other session(s) ended, including their live event streams.`,
        )
      },
      {
        body: t.Object({ current_password: t.Optional(Str(128)), new_password: Str(128) }),
        ...route('auth', 'Set or change the password (current_password not needed when none is set yet)', {
          answer: Ok(PasswordChanged),
          auth: true,
          errors: [403, 429],
        }),
      },
    )
}
