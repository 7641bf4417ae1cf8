// Two users and an admin: every task route tried across users. Another user's task is 404, exactly
// like a missing id; lists, stats and the dead letter queue are scoped in SQL before pagination.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Task } from '../../src/queue/task'
import { insertTask } from '../helpers/factory'
import { type Harness, harness } from './harness'

let h: Harness
let alice: { token: string; id: string }
let bob: { token: string; id: string }
let admin: { token: string; id: string }
let aliceFailed: Task[]
let bobFailed: Task[]

beforeAll(async () => {
  h = await harness()
  alice = await h.user('alice')
  bob = await h.user('bob')
  admin = await h.admin()
  // Interleaved creation: a filter applied after LIMIT would show the wrong pages.
  aliceFailed = []
  bobFailed = []
  for (let i = 0; i < 6; i++) {
    aliceFailed.push(
      await insertTask(h.db.sql, { task_type: 'email', status: 'failed', created_by: alice.id }),
    )
    bobFailed.push(await insertTask(h.db.sql, { task_type: 'email', status: 'failed', created_by: bob.id }))
  }
})
afterAll(() => h.close())

const notFound = (r: { status: number; body: { error: { code: string } } }) => {
  expect(r.status).toBe(404)
  expect(r.body.error.code).toBe('TASK_NOT_FOUND')
}

describe("a user and another user's task", () => {
  test('GET, events, cancel, retry and delete all answer 404, and change nothing', async () => {
    const pending = await insertTask(h.db.sql, { task_type: 'email', created_by: alice.id })
    const failed = aliceFailed[0]!
    const before = await h.counts()
    notFound(await h.call('GET', `/api/v1/tasks/${pending.id}`, { token: bob.token }))
    notFound(await h.call('GET', `/api/v1/tasks/${pending.id}/events`, { token: bob.token }))
    notFound(await h.call('POST', `/api/v1/tasks/${pending.id}/cancel`, { token: bob.token }))
    notFound(await h.call('POST', `/api/v1/tasks/${failed.id}/retry`, { token: bob.token }))
    notFound(await h.call('DELETE', `/api/v1/tasks/${failed.id}`, { token: bob.token }))
    expect(await h.counts()).toEqual(before)
    const [row] = await h.db.sql<Task[]>`SELECT * FROM tasks WHERE id = ${pending.id}`
    expect(row!.status).toBe('pending')
    // The same answer as a missing id: the message differs only by the id.
    const missing = await h.call('GET', '/api/v1/tasks/00000000-0000-4000-8000-000000000000', {
      token: bob.token,
    })
    expect(missing.body.error.code).toBe('TASK_NOT_FOUND')
  })

  test('the owner and the admin can act on it', async () => {
    const t = await insertTask(h.db.sql, { task_type: 'email', created_by: alice.id })
    expect((await h.call('GET', `/api/v1/tasks/${t.id}`, { token: alice.token })).status).toBe(200)
    expect((await h.call('GET', `/api/v1/tasks/${t.id}/events`, { token: admin.token })).status).toBe(200)
    const c = await h.call('POST', `/api/v1/tasks/${t.id}/cancel`, { token: admin.token })
    expect(c.body.data.status).toBe('cancelled')
    const [ev] = await h.db
      .sql`SELECT actor FROM task_events WHERE task_id = ${t.id} AND to_status = 'cancelled'`
    expect(ev!.actor).toBe(`user:${admin.id}`)
    expect((await h.call('POST', `/api/v1/tasks/${t.id}/retry`, { token: alice.token })).status).toBe(200)
  })

  test('an idempotency key is per user: the same key makes two tasks for two users', async () => {
    const a = await h.call('POST', '/api/v1/tasks', {
      token: alice.token,
      body: { task_type: 'email' },
      headers: { 'idempotency-key': 'k1' },
    })
    const b = await h.call('POST', '/api/v1/tasks', {
      token: bob.token,
      body: { task_type: 'email' },
      headers: { 'idempotency-key': 'k1' },
    })
    expect(a.status).toBe(201)
    expect(b.status).toBe(201)
    expect(b.body.data.id).not.toBe(a.body.data.id)
  })
})

describe('lists are scoped before LIMIT', () => {
  test('dead-letter pages hold only own tasks and the total is own', async () => {
    const seen: string[] = []
    for (const offset of [0, 2, 4]) {
      const r = await h.call('GET', `/api/v1/tasks/dead-letter?limit=2&offset=${offset}`, {
        token: alice.token,
      })
      expect(r.body.data).toHaveLength(2)
      expect(r.body.meta.total).toBe(6)
      seen.push(...r.body.data.map((t) => t.id))
    }
    expect(seen.sort()).toEqual(aliceFailed.map((t) => t.id).sort())
  })

  test('GET /tasks and stats: own for users, everything for the admin', async () => {
    const a = await h.call('GET', '/api/v1/tasks?limit=1000', { token: alice.token })
    expect(a.body.data.every((t) => t.created_by === alice.id)).toBe(true)
    const all = await h.call('GET', '/api/v1/tasks?limit=1000', { token: admin.token })
    const [{ n }] = (await h.db.sql`SELECT count(*)::int AS n FROM tasks`) as unknown as [{ n: number }]
    expect(all.body.meta.total).toBe(n)
    const sa = await h.call('GET', '/api/v1/tasks/stats', { token: alice.token })
    const sadmin = await h.call('GET', '/api/v1/tasks/stats', { token: admin.token })
    expect(sa.body.data.total).toBe(a.body.meta.total)
    expect(sadmin.body.data.total).toBe(n)
    const dl = await h.call('GET', '/api/v1/tasks/dead-letter?limit=1000', { token: admin.token })
    expect(dl.body.data.some((t) => t.created_by === bob.id)).toBe(true)
  })

  test("bulk dead-letter actions by ids skip another user's tasks; by filter touch only own", async () => {
    const r = await h.call('POST', '/api/v1/tasks/dead-letter/retry', {
      token: bob.token,
      body: { ids: [aliceFailed[1]!.id, bobFailed[1]!.id] },
    })
    expect(r.body.data.ids).toEqual([bobFailed[1]!.id])
    const del = await h.call('DELETE', '/api/v1/tasks/dead-letter', {
      token: bob.token,
      body: { filter: {} },
    })
    expect(del.body.data.ids.sort()).toEqual(
      bobFailed
        .filter((_, i) => i !== 1)
        .map((t) => t.id)
        .sort(),
    )
    const left = await h.db
      .sql`SELECT count(*)::int AS n FROM tasks WHERE created_by = ${alice.id} AND status = 'failed'`
    expect(left[0]!.n).toBeGreaterThanOrEqual(5)
  })
})

describe('admin-only routes', () => {
  test('a user may not patch types (403); the admin may', async () => {
    const r = await h.call('PATCH', '/api/v1/tasks/types/email', {
      token: alice.token,
      body: { paused: true },
    })
    expect(r.status).toBe(403)
    expect(r.body.error.code).toBe('FORBIDDEN')
    const ok = await h.call('PATCH', '/api/v1/tasks/types/email', {
      token: admin.token,
      body: { paused: false },
    })
    expect(ok.status).toBe(200)
  })
})
