// /auth: register, login (username or email), the first-start login link, logout, logout-all, me,
// refresh and password change.
import { Type as T } from '@sinclair/typebox'
import { Elysia, t } from 'elysia'
import { Ok, route } from '../contract'
import type { ApiDeps } from '../deps'
import { ok } from '../envelope'
import { ApiError, badRequest } from '../errors'
import { authenticate } from './guard'
import { ACCOUNT_RULE, ADDRESS_RULE, FailureLimiter } from './rate-limit'
import { Session, SessionsClosed, User } from './schemas'
import { closeAllSessions, closeSession, exchangeLoginLink, openSession, refreshSession } from './sessions'
import { bearer } from './tokens'
import { checkPassword, createUser, findByLogin, publicUser, setPassword } from './users'

const Str = (max: number, description?: string) => t.String({ minLength: 1, maxLength: max, description })

function tooMany(ms: number): ApiError {
  const s = Math.ceil(ms / 1000)
  return new ApiError(
    429,
    'TOO_MANY_ATTEMPTS',
    `Too many failed logins; try again in ${s} seconds.`,
    { retry_after_s: s },
    { 'retry-after': String(s) },
  )
}

export function authPlugin(deps: ApiDeps) {
  const { sql } = deps
  const perAccount = new FailureLimiter(ACCOUNT_RULE)
  const perAddress = new FailureLimiter(ADDRESS_RULE)

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
        const address = server?.requestIP(request)?.address ?? 'local'
        const account = `account:${login.toLowerCase()}`
        const wait = Math.max(perAccount.blockedFor(account), perAddress.blockedFor(`address:${address}`))
        if (wait > 0) throw tooMany(wait)
        const row = await findByLogin(sql, login)
        if (!(await checkPassword(row, body.password))) {
          perAccount.fail(account)
          perAddress.fail(`address:${address}`)
          throw new ApiError(401, 'INVALID_CREDENTIALS', 'The username/email or password is wrong.')
        }
        perAccount.clear(account)
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
        await setPassword(sql, caller.user.id, body.current_password, body.new_password)
        return ok(null, 'Password changed.')
      },
      {
        body: t.Object({ current_password: t.Optional(Str(128)), new_password: Str(128) }),
        ...route('auth', 'Set or change the password (current_password not needed when none is set yet)', {
          answer: Ok(T.Null()),
          auth: true,
          errors: [403],
        }),
      },
    )
}
