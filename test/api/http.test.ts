// The HTTP layer: unknown routes, wrong methods, body parsing and limits, headers, CORS, the 500
// path, health and the OpenAPI document.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { API_PREFIX } from '../../src/api/app'
import { BODY_LIMIT, type Harness, harness } from './harness'

let h: Harness
let token: string

beforeAll(async () => {
  h = await harness()
  token = (await h.user('hugo')).token
})
afterAll(() => h.close())

const expectError = (
  r: { status: number; body: { success: boolean; error: { code: string; message: string } } },
  status: number,
  code: string,
) => {
  expect(r.status).toBe(status)
  expect(r.body.success).toBe(false)
  expect(r.body.error.code).toBe(code)
  expect(r.body.error.message.length).toBeGreaterThan(10)
}

describe('routing', () => {
  test('an unknown /api route is a JSON 404', async () => {
    expectError(await h.call('GET', '/api/v1/nope'), 404, 'NOT_FOUND')
    expectError(await h.call('GET', '/api/nope'), 404, 'NOT_FOUND')
    expectError(
      await h.call('POST', '/api/v1/tasks/00000000-0000-4000-8000-000000000000/explode', { token }),
      404,
      'NOT_FOUND',
    )
  })

  test('a known path with the wrong method is 405 with Allow', async () => {
    const put = await h.call('PUT', '/api/v1/tasks', { token })
    expectError(put, 405, 'METHOD_NOT_ALLOWED')
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST')
    const patch = await h.call('PATCH', '/api/v1/tasks/00000000-0000-4000-8000-000000000000', { token })
    expectError(patch, 405, 'METHOD_NOT_ALLOWED')
    expect(patch.headers.get('allow')).toBe('DELETE, GET, HEAD')
    expectError(await h.call('DELETE', '/api/v1/health'), 405, 'METHOD_NOT_ALLOWED')
  })

  test('a fixed path shadows a parameter route: its Allow is its own, and the others are 405', async () => {
    // /tasks/stats and /tasks/types are not task ids: DELETE there used to reach DELETE /tasks/:id.
    for (const method of ['PUT', 'DELETE', 'POST']) {
      const r = await h.call(method, '/api/v1/tasks/stats', { token })
      expectError(r, 405, 'METHOD_NOT_ALLOWED')
      expect(r.headers.get('allow')).toBe('GET, HEAD')
    }
    const types = await h.call('DELETE', '/api/v1/tasks/types', { token })
    expectError(types, 405, 'METHOD_NOT_ALLOWED')
    expect(types.headers.get('allow')).toBe('GET, HEAD, POST')
    const one = await h.call('DELETE', '/api/v1/tasks/types/email', { token })
    expectError(one, 405, 'METHOD_NOT_ALLOWED')
    expect(one.headers.get('allow')).toBe('GET, HEAD, PATCH')
    expect((await h.call('GET', '/api/v1/tasks/stats', { token })).status).toBe(200)
  })

  test('a non-UUID id is 400 naming id', async () => {
    const r = await h.call('GET', '/api/v1/tasks/123', { token })
    expectError(r, 400, 'VALIDATION_ERROR')
    expect(r.body.error.details?.field).toBe('id')
  })
})

describe('bodies', () => {
  test('malformed JSON is 400 MALFORMED_JSON', async () => {
    expectError(
      await h.call('POST', '/api/v1/tasks', { token, raw: '{"task_type": "email",' }),
      400,
      'MALFORMED_JSON',
    )
  })

  test('a wrong content type is 415', async () => {
    const r = await h.call('POST', '/api/v1/tasks', {
      token,
      raw: 'task_type=email',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expectError(r, 415, 'UNSUPPORTED_MEDIA_TYPE')
    expectError(
      await h.call('POST', '/api/v1/tasks', { token, raw: '{}', headers: { 'content-type': 'text/plain' } }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    )
  })

  test('a body over the limit is 413, by Content-Length and while streaming a chunked body', async () => {
    const big = `{"task_type":"email","payload":{"x":"${'a'.repeat(BODY_LIMIT)}"}}`
    expectError(await h.call('POST', '/api/v1/tasks', { token, raw: big }), 413, 'PAYLOAD_TOO_LARGE')
    const chunk = new TextEncoder().encode('a'.repeat(64 * 1024))
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent > BODY_LIMIT * 2) return c.close()
        sent += chunk.byteLength
        c.enqueue(chunk)
      },
    })
    const res = await h.app.handle(
      new Request('http://localhost/api/v1/tasks', {
        method: 'POST',
        body: stream,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      }),
    )
    expect(res.status).toBe(413)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE')
    // Reading stopped at the limit, not at the end of the stream.
    expect(sent).toBeLessThan(BODY_LIMIT * 2)
  })

  test('deep nesting is 400', async () => {
    const deep = `{"task_type":"email","payload":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}`
    expectError(await h.call('POST', '/api/v1/tasks', { token, raw: deep }), 400, 'VALIDATION_ERROR')
  })

  test('a POST without a body to a route without one is fine', async () => {
    const res = await h.app.handle(
      new Request('http://localhost/api/v1/auth/refresh', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      }),
    )
    expect(res.status).toBe(200)
    token = ((await res.json()) as { data: { session_token: string } }).data.session_token
  })
})

describe('headers', () => {
  test('security headers and a request id on successes and errors; no CORS by default', async () => {
    for (const r of [
      await h.call('GET', '/api/v1/health/live'),
      await h.call('GET', '/api/v1/nope', { headers: { origin: 'https://evil.example' } }),
    ]) {
      expect(r.headers.get('x-content-type-options')).toBe('nosniff')
      expect(r.headers.get('x-frame-options')).toBe('DENY')
      expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
      expect(r.headers.get('access-control-allow-origin')).toBeNull()
    }
    const echoed = await h.call('GET', '/api/v1/health/live', { headers: { 'x-request-id': 'abc-123' } })
    expect(echoed.headers.get('x-request-id')).toBe('abc-123')
  })

  test('CORS only for the configured origin', async () => {
    const c = await harness({ STARTER__SERVER__CORS_ORIGIN: 'https://panel.example' })
    try {
      const pre = await c.call('OPTIONS', '/api/v1/tasks', {
        headers: { origin: 'https://panel.example', 'access-control-request-method': 'POST' },
      })
      expect(pre.status).toBe(204)
      expect(pre.headers.get('access-control-allow-origin')).toBe('https://panel.example')
      const other = await c.call('GET', '/api/v1/health/live', {
        headers: { origin: 'https://evil.example' },
      })
      expect(other.headers.get('access-control-allow-origin')).toBeNull()
    } finally {
      await c.close()
    }
  })
})

describe('unexpected errors', () => {
  test('are 500 INTERNAL_ERROR with the request id and no internals', async () => {
    await h.db.sql`ALTER TABLE tasks RENAME TO tasks_away`
    try {
      const r = await h.call('GET', '/api/v1/tasks', { token, headers: { 'x-request-id': 'req-500' } })
      expectError(r, 500, 'INTERNAL_ERROR')
      expect(r.body.error.details).toEqual({ request_id: 'req-500' })
      expect(r.text).not.toContain('relation')
      expect(r.text).not.toContain('tasks_away')
    } finally {
      await h.db.sql`ALTER TABLE tasks_away RENAME TO tasks`
    }
  })
})

describe('health', () => {
  test('/health, /health/live and /health/ready answer 200 with the database up', async () => {
    const r = await h.call('GET', '/api/v1/health')
    expect(r.status).toBe(200)
    expect(r.body.data).toMatchObject({ status: 'ok', database: 'up' })
    expect((await h.call('GET', '/api/v1/health/live')).body.data.status).toBe('alive')
    expect((await h.call('GET', '/api/v1/health/ready')).body.data.status).toBe('ready')
  })
})

describe('OpenAPI', () => {
  test('the document lists every API route with its schemas, and the UI is served', async () => {
    const r = await h.call('GET', `${API_PREFIX}/openapi.json`)
    expect(r.status).toBe(200)
    // The document itself, not an envelope.
    const paths = (r.body as unknown as { paths: unknown }).paths as Record<
      string,
      Record<
        string,
        { parameters?: { name: string; in: string }[]; requestBody?: unknown; responses?: unknown }
      >
    >
    const routes = h.app.routes.filter(
      (x) => x.path.startsWith(API_PREFIX) && !/\/(docs|openapi\.json)$|\/docs\/assets\//.test(x.path),
    )
    expect(routes.length).toBeGreaterThanOrEqual(29)
    for (const route of routes) {
      const p = route.path.replace(/:(\w+)/g, '{$1}')
      const op = paths[p]?.[route.method.toLowerCase()]
      expect(op, `${route.method} ${p}`).toBeDefined()
      expect(op!.responses, `${route.method} ${p} responses`).toBeDefined()
    }
    const create = paths['/api/v1/tasks']!.post!.requestBody as {
      content: Record<string, { schema: { properties: Record<string, unknown>; required: string[] } }>
    }
    const schema = create.content['application/json']!.schema
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['task_type', 'payload', 'priority', 'scheduled_at', 'idempotency_key']),
    )
    expect(schema.required).toContain('task_type')
    const list = paths['/api/v1/tasks']!.get!.parameters!.map((x) => x.name)
    expect(list).toEqual(
      expect.arrayContaining([
        'status',
        'task_type',
        'priority',
        'created_after',
        'created_before',
        'q',
        'limit',
        'offset',
      ]),
    )
    expect(paths['/api/v1/tasks/{id}']!.get!.parameters).toContainEqual(
      expect.objectContaining({ name: 'id', in: 'path' }),
    )
    const ui = await h.call('GET', `${API_PREFIX}/docs`)
    expect(ui.status).toBe(200)
    expect(ui.text).toContain('openapi.json')
    // The UI's script and style come from the binary, not a CDN (this machine has no internet).
    expect(ui.text).not.toMatch(/https?:\/\/(unpkg|cdn\.jsdelivr)/)
    for (const asset of [...ui.text.matchAll(/(?:src|href)="(\/api\/v1\/docs\/assets\/[^"]+)"/g)].map(
      (m) => m[1]!,
    )) {
      const res = await h.call('GET', asset)
      expect(res.status).toBe(200)
      expect(res.text.length).toBeGreaterThan(100_000)
    }
    expect(ui.text).toContain('/api/v1/docs/assets/swagger-ui-bundle.js')
  })
})
