// /api/v1/chaos through app.handle: absent without --chaos, admin only with it.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { CONTROL_CHANNEL } from '../../src/queue/notify'
import { registerWorker } from '../../src/queue/workers'
import { type Harness, harness } from '../api/harness'
import { waitFor } from '../helpers/wait'

const RULE = { task_type: 'email', kind: 'fail', probability: 0.5 }
const ROUTES = [
  ['GET', '/api/v1/chaos/faults'],
  ['POST', '/api/v1/chaos/faults'],
  ['DELETE', `/api/v1/chaos/faults/${crypto.randomUUID()}`],
  ['POST', '/api/v1/chaos/workers/w1/kill'],
] as const

async function ruleCount(h: Harness): Promise<number> {
  const [row] = await h.db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM chaos_faults`
  return row!.n
}

describe('chaos off (the default)', () => {
  let h: Harness
  let admin: string
  beforeAll(async () => {
    h = await harness()
    admin = (await h.admin()).token
  })
  afterAll(async () => {
    await h.close()
  })

  test('every chaos route is the ordinary 404, even for an admin, and nothing is stored', async () => {
    for (const [method, path] of ROUTES) {
      const r = await h.call(method, path, { token: admin, body: method === 'POST' ? RULE : undefined })
      expect([method, path, r.status, r.body.error.code]).toEqual([method, path, 404, 'NOT_FOUND'])
    }
    expect(await ruleCount(h)).toBe(0)
  })
})

describe('chaos on', () => {
  let h: Harness
  let admin: string
  let user: string
  beforeAll(async () => {
    h = await harness({ STARTER__CHAOS__ENABLED: 'true' })
    admin = (await h.admin()).token
    user = (await h.user('carol')).token
  })
  afterAll(async () => {
    await h.close()
  })

  test('admin only: 401 without a token, 403 for a user, on every route', async () => {
    for (const [method, path] of ROUTES) {
      const body = method === 'POST' && path.endsWith('faults') ? RULE : undefined
      expect((await h.call(method, path, { body })).status).toBe(401)
      const r = await h.call(method, path, { token: user, body })
      expect([path, r.status, r.body.error.code]).toEqual([path, 403, 'FORBIDDEN'])
    }
    expect(await ruleCount(h)).toBe(0)
  })

  test('create, list, delete; a deleted or malformed id is refused', async () => {
    const created = await h.call('POST', '/api/v1/chaos/faults', {
      token: admin,
      body: { ...RULE, match: { drill: true } },
    })
    expect(created.status).toBe(201)
    expect(created.body.data).toMatchObject({
      task_type: 'email',
      kind: 'fail',
      probability: 0.5,
      permanent: false,
      match: { drill: true },
    })
    const id = created.body.data.id
    const list = await h.call('GET', '/api/v1/chaos/faults', { token: admin })
    expect(list.body.data.map((r: { id: string }) => r.id)).toEqual([id])
    expect((await h.call('DELETE', `/api/v1/chaos/faults/${id}`, { token: admin })).status).toBe(200)
    const again = await h.call('DELETE', `/api/v1/chaos/faults/${id}`, { token: admin })
    expect([again.status, again.body.error.code]).toEqual([404, 'FAULT_NOT_FOUND'])
    const bad = await h.call('DELETE', '/api/v1/chaos/faults/not-a-uuid', { token: admin })
    expect(bad.status).toBe(400)
  })

  test('bad rules are 400 with the field named; an unknown type is TASK_TYPE_NOT_REGISTERED', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ task_type: 'email', kind: 'explode' }, 'kind'],
      [{ task_type: 'email', kind: 'latency' }, 'latency_ms'],
      [{ task_type: 'email', kind: 'hang', permanent: true }, 'permanent'],
      [{ task_type: 'email', kind: 'fail', probability: 2 }, 'probability'],
      [{ task_type: 'email', kind: 'fail', expires_in_secs: 0 }, 'expires_in_secs'],
    ]
    for (const [body, field] of cases) {
      const r = await h.call('POST', '/api/v1/chaos/faults', { token: admin, body })
      expect([field, r.status, r.body.error.code]).toEqual([field, 400, 'VALIDATION_ERROR'])
      expect(JSON.stringify(r.body.error)).toContain(field)
    }
    const unknown = await h.call('POST', '/api/v1/chaos/faults', {
      token: admin,
      body: { task_type: 'nope', kind: 'fail' },
    })
    expect([unknown.status, unknown.body.error.code]).toEqual([400, 'TASK_TYPE_NOT_REGISTERED'])
  })

  test('a rule disappears from GET /chaos/faults when it expires', async () => {
    const r = await h.call('POST', '/api/v1/chaos/faults', {
      token: admin,
      body: { ...RULE, expires_in_secs: 0.5 },
    })
    expect(r.status).toBe(201)
    const listed = async () =>
      (await h.call('GET', '/api/v1/chaos/faults', { token: admin })).body.data.map(
        (x: { id: string }) => x.id,
      )
    expect(await listed()).toContain(r.body.data.id)
    await waitFor('the rule to expire', async () => !(await listed()).includes(r.body.data.id), {
      timeoutMs: 5000,
      intervalMs: 50,
    })
  })

  test('kill: 404 for a worker that is not alive, else a control message naming it', async () => {
    const missing = await h.call('POST', '/api/v1/chaos/workers/ghost/kill', { token: admin })
    expect([missing.status, missing.body.error.code]).toEqual([404, 'WORKER_NOT_FOUND'])
    await registerWorker(h.db.sql, {
      id: 'victim-1',
      host: 'h',
      pid: 1,
      concurrency: 1,
      leaseMs: 30_000,
      types: ['email'],
    })
    const heard: string[] = []
    const sub = await h.db.sql.listen(CONTROL_CHANNEL, (p) => heard.push(p))
    try {
      const r = await h.call('POST', '/api/v1/chaos/workers/victim-1/kill', { token: admin })
      expect(r.status).toBe(200)
      await waitFor('the kill message', () => heard.some((p) => JSON.parse(p).kind === 'kill'))
      expect(heard.map((p) => JSON.parse(p)).filter((m) => m.kind === 'kill')).toEqual([
        { kind: 'kill', worker: 'victim-1' },
      ])
    } finally {
      await sub.unlisten()
    }
  })

  test('kill: a remote (HTTP) worker is refused with a sentence saying why', async () => {
    await h.db.sql`
      INSERT INTO workers (id, host, pid, concurrency, lease_ms, task_types, kind)
      VALUES ('py-remote', 'h', 0, 1, 30000, '{email}', 'remote')`
    const r = await h.call('POST', '/api/v1/chaos/workers/py-remote/kill', { token: admin })
    expect([r.status, r.body.error.code]).toEqual([409, 'WORKER_REMOTE'])
    expect(r.body.error.message).toContain('kill -9')
  })
})
