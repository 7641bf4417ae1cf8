// The verified-token cache (src/api/auth/token-cache.ts): a hit costs no query, a logout is seen at
// once by this process and, through NOTIFY, by another process (here: a second pool) — never after
// the 5 s the cache would otherwise keep it.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { closeAllSessions, closeSession, openSession, userOfToken } from '../../src/api/auth/sessions'
import { TOKEN_CACHE_MS } from '../../src/api/auth/token-cache'
import { hashToken } from '../../src/api/auth/tokens'
import { createUser, setPassword } from '../../src/api/auth/users'
import { connect, type Sql } from '../../src/db/connect'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { waitFor } from '../helpers/wait'

let db: TestDatabase
let other: Sql
beforeAll(async () => {
  db = await createTestDatabase()
  other = connect(db.url, { max: 2 })
})
afterAll(async () => {
  await other.end({ timeout: 1 })
  await db.drop()
})

const newUser = (name: string) =>
  createUser(db.sql, { username: name, email: `${name}@x.test`, password: 'password-123' })

test('a verified token is answered from the cache; logout evicts it at once', async () => {
  const user = await newUser('cache_a')
  const { session_token } = await openSession(db.sql, user)
  expect((await userOfToken(db.sql, session_token))?.id).toBe(user.id)
  // A row removed behind tasklab's back (no NOTIFY) is not looked up again: the answer is cached.
  const [row] = await db.sql`DELETE FROM sessions WHERE user_id = ${user.id} RETURNING *`
  expect((await userOfToken(db.sql, session_token))?.id).toBe(user.id)
  await db.sql`INSERT INTO sessions ${db.sql(row!)}`
  // tasklab's own logout evicts before it returns.
  await closeSession(db.sql, session_token)
  expect(await userOfToken(db.sql, session_token)).toBeNull()
})

test("another process's logout and logout-all reach this cache through NOTIFY, well within the cache time", async () => {
  const user = await newUser('cache_b')
  const one = await openSession(db.sql, user)
  const two = await openSession(db.sql, user)
  expect(await userOfToken(db.sql, one.session_token)).not.toBeNull()
  expect(await userOfToken(db.sql, two.session_token)).not.toBeNull()
  // Within 4 s: sooner than the 5 s cache time could have expired it.
  expect(TOKEN_CACHE_MS).toBeGreaterThan(4000)
  await closeSession(other, one.session_token)
  await waitFor('the logout', async () => (await userOfToken(db.sql, one.session_token)) === null, {
    timeoutMs: 4000,
    intervalMs: 10,
  })
  expect(await userOfToken(db.sql, two.session_token)).not.toBeNull()
  await closeAllSessions(other, user.id)
  await waitFor('the logout-all', async () => (await userOfToken(db.sql, two.session_token)) === null, {
    timeoutMs: 4000,
    intervalMs: 10,
  })
})

test("a password change, here or in another process, ends the other sessions' cached tokens too", async () => {
  const user = await newUser('cache_c')
  const kept = await openSession(db.sql, user)
  const mine = await openSession(db.sql, user)
  const theirs = await openSession(db.sql, user)
  for (const s of [kept, mine]) expect(await userOfToken(db.sql, s.session_token)).not.toBeNull()
  expect(await userOfToken(other, theirs.session_token)).not.toBeNull()
  // Changed through this pool: this pool's cache forgets at once, the other pool's through NOTIFY.
  expect(
    await setPassword(db.sql, user.id, 'password-123', 'password-456', hashToken(kept.session_token)),
  ).toBe(2)
  expect(await userOfToken(db.sql, mine.session_token)).toBeNull()
  await waitFor(
    'the password change',
    async () => (await userOfToken(other, theirs.session_token)) === null,
    { timeoutMs: 4000, intervalMs: 10 },
  )
  expect((await userOfToken(db.sql, kept.session_token))?.id).toBe(user.id)
})
