// /auth: register, login by username or email, me, refresh, logout, logout-all, the first-start
// login link, password change, and the failed-login limit.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { bootstrapAdmin } from '../../src/api/auth/sessions'
import { hashToken } from '../../src/api/auth/tokens'
import { type Harness, harness } from './harness'

let h: Harness
beforeAll(async () => {
  h = await harness()
})
afterAll(() => h.close())

const ok = (r: { status: number; body: { success: boolean } }, status = 200) => {
  expect(r.status).toBe(status)
  expect(r.body.success).toBe(true)
}
const fails = (
  r: { status: number; body: { success: boolean; error: { code: string } } },
  status: number,
  code: string,
) => {
  expect(r.status).toBe(status)
  expect(r.body).toMatchObject({ success: false, error: { code } })
  expect(typeof r.body.error.code).toBe('string')
}

describe('register and login', () => {
  test('register answers 201 with the user and never the hash', async () => {
    const r = await h.call('POST', '/api/v1/auth/register', {
      body: { username: 'ada', email: 'ada@example.com', password: 'password123' },
    })
    ok(r, 201)
    expect(r.body.data).toMatchObject({ username: 'ada', email: 'ada@example.com', role: 'user' })
    expect(r.text).not.toContain('argon2')
    const [row] = await h.db.sql`SELECT password_hash FROM users WHERE username = 'ada'`
    expect(row!.password_hash).toStartWith('$argon2id$')
  })

  test('a taken username or email is 409 USER_EXISTS naming the field', async () => {
    const dupName = await h.call('POST', '/api/v1/auth/register', {
      body: { username: 'ADA', email: 'other@example.com', password: 'password123' },
    })
    fails(dupName, 409, 'USER_EXISTS')
    expect(dupName.body.error.details?.field).toBe('username')
    const dupMail = await h.call('POST', '/api/v1/auth/register', {
      body: { username: 'ada2', email: 'Ada@Example.com', password: 'password123' },
    })
    fails(dupMail, 409, 'USER_EXISTS')
    expect(dupMail.body.error.details?.field).toBe('email')
  })

  test('a short password or bad email is 400 naming the field', async () => {
    const short = await h.call('POST', '/api/v1/auth/register', {
      body: { username: 'bob', email: 'bob@example.com', password: 'short' },
    })
    fails(short, 400, 'VALIDATION_ERROR')
    expect(short.body.error.details?.field).toBe('password')
    const mail = await h.call('POST', '/api/v1/auth/register', {
      body: { username: 'bob', email: 'not-an-email', password: 'password123' },
    })
    expect(mail.body.error.details?.field).toBe('email')
  })

  test('login by username and by email returns a token that only exists hashed', async () => {
    const byName = await h.call('POST', '/api/v1/auth/login', {
      body: { username: 'ada', password: 'password123' },
    })
    ok(byName)
    const { session_token, expires_at, user } = byName.body.data
    expect(session_token).toStartWith('tl_')
    expect(new Date(expires_at).getTime()).toBeGreaterThan(Date.now() + 6 * 24 * 3600_000)
    expect(user.username).toBe('ada')
    const stored = await h.db
      .sql`SELECT token_hash FROM sessions WHERE token_hash = ${hashToken(session_token)}`
    expect(stored).toHaveLength(1)
    const raw = await h.db.sql`SELECT 1 FROM sessions WHERE token_hash = ${session_token}`
    expect(raw).toHaveLength(0)
    ok(
      await h.call('POST', '/api/v1/auth/login', {
        body: { email: 'ADA@example.com', password: 'password123' },
      }),
    )
    ok(
      await h.call('POST', '/api/v1/auth/login', {
        body: { username: 'ada@example.com', password: 'password123' },
      }),
    )
  })

  test('a wrong password or unknown user is 401 INVALID_CREDENTIALS; no login field is 400', async () => {
    fails(
      await h.call('POST', '/api/v1/auth/login', { body: { username: 'ada', password: 'wrong-password' } }),
      401,
      'INVALID_CREDENTIALS',
    )
    fails(
      await h.call('POST', '/api/v1/auth/login', { body: { username: 'nobody', password: 'password123' } }),
      401,
      'INVALID_CREDENTIALS',
    )
    fails(
      await h.call('POST', '/api/v1/auth/login', { body: { password: 'password123' } }),
      400,
      'VALIDATION_ERROR',
    )
  })
})

describe('sessions', () => {
  test('me, refresh, logout', async () => {
    const { token } = await h.user('carol')
    const me = await h.call('GET', '/api/v1/auth/me', { token })
    ok(me)
    expect(me.body.data.username).toBe('carol')

    const refreshed = await h.call('POST', '/api/v1/auth/refresh', { token })
    ok(refreshed)
    const fresh = refreshed.body.data.session_token
    expect(fresh).not.toBe(token)
    fails(await h.call('GET', '/api/v1/auth/me', { token }), 401, 'UNAUTHORIZED')
    ok(await h.call('GET', '/api/v1/auth/me', { token: fresh }))

    ok(await h.call('POST', '/api/v1/auth/logout', { token: fresh }))
    fails(await h.call('GET', '/api/v1/auth/me', { token: fresh }), 401, 'UNAUTHORIZED')
  })

  test('logout-all ends every session of the account only', async () => {
    const a = await h.user('dave')
    const second = (
      await h.call('POST', '/api/v1/auth/login', {
        body: { username: 'dave', password: 'dave-password-123' },
      })
    ).body.data.session_token
    const other = await h.user('erin')
    const r = await h.call('POST', '/api/v1/auth/logout-all', { token: a.token })
    ok(r)
    expect(r.body.data.sessions_closed).toBe(2)
    fails(await h.call('GET', '/api/v1/auth/me', { token: second }), 401, 'UNAUTHORIZED')
    ok(await h.call('GET', '/api/v1/auth/me', { token: other.token }))
  })

  test('no token, a malformed header or an expired session is 401 with WWW-Authenticate', async () => {
    const none = await h.call('GET', '/api/v1/auth/me')
    fails(none, 401, 'UNAUTHORIZED')
    expect(none.headers.get('www-authenticate')).toBe('Bearer')
    fails(
      await h.call('GET', '/api/v1/auth/me', { headers: { authorization: 'Basic abc' } }),
      401,
      'UNAUTHORIZED',
    )
    const { token } = await h.user('frank')
    await h.db
      .sql`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE token_hash = ${hashToken(token)}`
    fails(await h.call('GET', '/api/v1/auth/me', { token }), 401, 'UNAUTHORIZED')
    for (const path of ['/api/v1/auth/logout', '/api/v1/auth/logout-all', '/api/v1/auth/refresh'])
      fails(await h.call('POST', path), 401, 'UNAUTHORIZED')
  })

  test('password change needs the current password', async () => {
    const { token } = await h.user('gina')
    const body = { current_password: 'wrong-one-123', new_password: 'a-new-password' }
    fails(await h.call('POST', '/api/v1/auth/password', { token, body }), 403, 'WRONG_PASSWORD')
    fails(
      await h.call('POST', '/api/v1/auth/password', { token, body: { new_password: 'a-new-password' } }),
      400,
      'VALIDATION_ERROR',
    )
    ok(
      await h.call('POST', '/api/v1/auth/password', {
        token,
        body: { ...body, current_password: 'gina-password-123' },
      }),
    )
    ok(await h.call('POST', '/api/v1/auth/login', { body: { username: 'gina', password: 'a-new-password' } }))
  })
})

describe('first-start admin', () => {
  test('one admin is created once, its link works once, and it can set a password', async () => {
    const made = await bootstrapAdmin(h.db.sql)
    expect(made).not.toBeNull()
    // A restart before the first login issues a fresh link and spends the old one.
    const again = await bootstrapAdmin(h.db.sql)
    expect(again!.user.id).toBe(made!.user.id)
    expect((await h.call('POST', '/api/v1/auth/login-link', { body: { token: made!.token } })).status).toBe(
      401,
    )
    const r = await h.call('POST', '/api/v1/auth/login-link', { body: { token: again!.token } })
    ok(r)
    expect(r.body.data.user.role).toBe('admin')
    fails(
      await h.call('POST', '/api/v1/auth/login-link', { body: { token: again!.token } }),
      401,
      'INVALID_LOGIN_LINK',
    )
    // The link token is not a session token.
    const token = r.body.data.session_token
    fails(await h.call('GET', '/api/v1/auth/me', { token: again!.token }), 401, 'UNAUTHORIZED')
    ok(await h.call('POST', '/api/v1/auth/password', { token, body: { new_password: 'admin-password-1' } }))
    ok(
      await h.call('POST', '/api/v1/auth/login', {
        body: { username: made!.user.username, password: 'admin-password-1' },
      }),
    )
    // With a password set, starts print no link.
    expect(await bootstrapAdmin(h.db.sql)).toBeNull()
    expect(await h.db.sql`SELECT 1 FROM users WHERE role = 'admin'`).toHaveLength(1)
  })
})

describe('failed-login limit', () => {
  test('5 failures slow the account down with 429 and Retry-After, other accounts still work', async () => {
    // Registered without logging in: this address is not one the account is known to use.
    await h.call('POST', '/api/v1/auth/register', {
      body: { username: 'hank', email: 'hank@example.com', password: 'hank-password-123' },
    })
    for (let i = 0; i < 5; i++)
      fails(
        await h.call('POST', '/api/v1/auth/login', {
          body: { username: 'hank', password: `wrong-${i}-xxxx` },
        }),
        401,
        'INVALID_CREDENTIALS',
      )
    const blocked = await h.call('POST', '/api/v1/auth/login', {
      body: { username: 'HANK', password: 'hank-password-123' },
    })
    fails(blocked, 429, 'TOO_MANY_ATTEMPTS')
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0)
    // A slow-down of seconds, not the old 15-minute lock-out.
    expect(Number(blocked.headers.get('retry-after'))).toBeLessThanOrEqual(30)
    ok(await h.call('POST', '/api/v1/auth/login', { body: { username: 'ada', password: 'password123' } }))
  })

  test('20 failures from one address slow that address down for every account', async () => {
    for (let i = 0; i < 20; i++)
      await h.call('POST', '/api/v1/auth/login', {
        body: { username: `ghost${i}`, password: 'nope-nope-nope' },
      })
    fails(
      await h.call('POST', '/api/v1/auth/login', { body: { username: 'ada', password: 'password123' } }),
      429,
      'TOO_MANY_ATTEMPTS',
    )
  })
})
