// Issue 12, items 5, 6 and the 413 of item 9: what a request may cost before it is routed and
// authenticated, idle sockets, and connections per address.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { jsonShapeProblem, MAX_JSON_CONTAINERS } from '../../src/api/http/body'
import { AUTH_BODY_LIMIT } from '../../src/api/http/limits'
import { listenLimits } from '../../src/api/server'
import { waitFor } from '../helpers/wait'
import { BODY_LIMIT, type Harness, harness } from './harness'

let h: Harness
let token: string
let base: string
beforeAll(async () => {
  h = await harness({
    STARTER__SERVER__IDLE_TIMEOUT_SECS: '1',
    STARTER__SERVER__MAX_CONNECTIONS_PER_ADDRESS: '3',
  })
  token = (await h.user('hardy')).token
  h.app.listen({ hostname: '127.0.0.1', port: 0, reusePort: false, ...listenLimits(h.deps.config) })
  base = `http://127.0.0.1:${h.app.server!.port}`
})
afterAll(async () => {
  await h.app.stop(true)
  await h.close()
})

/** A body of `total` bytes of `[{},{},…]` that counts how much of it was pulled. */
function countedBody(total: number) {
  const chunk = new TextEncoder().encode('{},'.repeat(20_000))
  const state = { pulled: 0 }
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (state.pulled === 0) c.enqueue(new TextEncoder().encode('['))
      if (state.pulled >= total) {
        c.enqueue(new TextEncoder().encode('{}]'))
        return c.close()
      }
      state.pulled += chunk.byteLength
      c.enqueue(chunk)
    },
  })
  return { stream, state }
}

const post = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
  h.app.handle(
    new Request(`http://localhost${path}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...headers },
    }),
  )

describe('bodies are read only after routing and authentication', () => {
  test('8 MB to an unknown route: 404 without reading it', async () => {
    const { stream, state } = countedBody(8 * 1024 * 1024)
    const res = await post('/api/v1/no-such-route', stream)
    expect(res.status).toBe(404)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')
    expect(state.pulled).toBeLessThan(256 * 1024)
  })

  test('a body to a route that needs a credential, without one: 401 without reading it', async () => {
    const { stream, state } = countedBody(8 * 1024 * 1024)
    const res = await post('/api/v1/tasks/batch', stream)
    expect(res.status).toBe(401)
    expect(state.pulled).toBeLessThan(256 * 1024)
    const { stream: s2, state: st2 } = countedBody(8 * 1024 * 1024)
    expect((await post('/api/v1/tasks/batch', s2, { authorization: 'Bearer tl_not-a-session' })).status).toBe(
      401,
    )
    expect(st2.pulled).toBeLessThan(256 * 1024)
  })

  test('per-route limits: the login route takes 16 KiB, with the envelope', async () => {
    const res = await post(
      '/api/v1/auth/login',
      JSON.stringify({ username: 'hardy', password: 'x'.repeat(AUTH_BODY_LIMIT) }),
    )
    expect(res.status).toBe(413)
    expect(await res.json()).toMatchObject({
      success: false,
      error: { code: 'PAYLOAD_TOO_LARGE', details: { limit_bytes: AUTH_BODY_LIMIT } },
    })
    // Other routes without task payloads take less than the task routes.
    const patch = await h.app.handle(
      new Request('http://localhost/api/v1/tasks/dead-letter/retry', {
        method: 'POST',
        body: JSON.stringify({ ids: [], pad: 'x'.repeat(BODY_LIMIT / 2) }),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      }),
    )
    expect(patch.status).toBe(413)
  })

  test('JSON over the depth or object count is refused from the text, before it is built', async () => {
    expect(jsonShapeProblem(`${'['.repeat(33)}${']'.repeat(33)}`)).toContain('nested more than 32')
    expect(jsonShapeProblem('["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]')).toBeNull() // brackets in a string
    expect(jsonShapeProblem(`"\\\\"${'['.repeat(2)}1]]`)).toBeNull()
    const many = `{"task_type":"email","payload":{"a":[${'{},'.repeat(MAX_JSON_CONTAINERS)}{}]}}`
    const res = await post('/api/v1/tasks', many, { authorization: `Bearer ${token}` })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
      'objects and arrays',
    )
  })
})

describe('over a real socket', () => {
  test('a body far over the limit gets the JSON 413 envelope, not a bare 413', async () => {
    const res = await fetch(`${base}/api/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: `{"x":"${'a'.repeat(BODY_LIMIT * 3)}"}`,
    })
    expect(res.status).toBe(413)
    expect(await res.json()).toMatchObject({ success: false, error: { code: 'PAYLOAD_TOO_LARGE' } })
  })

  test('answers of every kind give their place back (the cap here is 3)', async () => {
    const json = { 'content-type': 'application/json' }
    for (let i = 0; i < 3; i++) {
      expect((await fetch(`${base}/api/v1/nope`)).status).toBe(404)
      expect((await fetch(`${base}/api/v1/tasks`, { method: 'PUT' })).status).toBe(405)
      expect(
        (await fetch(`${base}/api/v1/tasks`, { method: 'POST', headers: json, body: '{"a":1}' })).status,
      ).toBe(401)
      const auth = { ...json, authorization: `Bearer ${token}` }
      expect(
        (await fetch(`${base}/api/v1/tasks`, { method: 'POST', headers: auth, body: '{nope' })).status,
      ).toBe(400)
      expect(
        (
          await fetch(`${base}/api/v1/auth/login`, {
            method: 'POST',
            headers: json,
            body: 'x'.repeat(20_000),
          })
        ).status,
      ).toBe(413)
      expect((await fetch(`${base}/`)).status).toBe(200)
    }
    expect((await fetch(`${base}/api/v1/health/live`)).status).toBe(200)
  })

  test('an idle keep-alive connection is closed by the idle timeout', async () => {
    let closed = false
    let answered = false
    const socket = await Bun.connect({
      hostname: '127.0.0.1',
      port: h.app.server!.port!,
      socket: {
        open(s) {
          s.write('GET /api/v1/health/live HTTP/1.1\r\nHost: localhost\r\n\r\n')
        },
        data() {
          answered = true
        },
        close() {
          closed = true
        },
      },
    })
    await waitFor('the answer', () => answered)
    // Bun checks idle sockets every few seconds: a 1 s timeout closes it within ~4 s.
    await waitFor('the server to close the idle socket', () => closed, { timeoutMs: 20_000 })
    socket.end()
  }, 30_000)

  test('the event stream outlives the idle timeout; past the per-address cap comes a 429 envelope', async () => {
    const streams = await Promise.all(
      [1, 2, 3].map(async () => {
        const c = new AbortController()
        const res = await fetch(`${base}/api/v1/events?access_token=${token}`, { signal: c.signal })
        expect(res.status).toBe(200)
        return { c, reader: res.body!.getReader() }
      }),
    )
    // Three `counts` frames a second apart: the stream stayed open across idle timeouts of 1 s.
    const dec = new TextDecoder()
    let text = ''
    while ((text.match(/event: counts/g) ?? []).length < 3)
      text += dec.decode((await streams[0]!.reader.read()).value)
    const over = await fetch(`${base}/api/v1/health/live`)
    expect(over.status).toBe(429)
    expect(over.headers.get('retry-after')).toBe('1')
    expect(await over.json()).toMatchObject({ success: false, error: { code: 'TOO_MANY_CONNECTIONS' } })
    // Closing a stream frees its place.
    streams[2]!.c.abort()
    await waitFor(
      'a place to free up',
      async () => (await fetch(`${base}/api/v1/health/live`)).status === 200,
    )
    for (const s of streams.slice(0, 2)) s.c.abort()
  })
})
