// Issue 12, items 3 and 4: the webhook handler called any address (localhost services, tasklab's
// own API, link-local metadata) and read endless replies into memory. Every target here is a
// loopback server this file starts; refusals are checked to happen before any connection.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { HandlerContext } from '../../src/handlers/contract'
import { PermanentError, RetryableError, validatePayload } from '../../src/handlers/contract'
import { forbiddenKind, outboundPolicy } from '../../src/handlers/outbound'
import { WEBHOOK_BODY_BYTES, webhook } from '../../src/handlers/webhook'
import { silentLogger } from '../../src/log'

let hits: string[] = []
let server: ReturnType<typeof Bun.serve>
let other: ReturnType<typeof Bun.serve>
let otherHits = 0

beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch(req) {
      const url = new URL(req.url)
      hits.push(`${url.pathname} host=${req.headers.get('host')}`)
      if (url.pathname === '/redirect')
        return new Response(null, { status: 302, headers: { location: `http://127.0.0.1:${other.port}/x` } })
      if (url.pathname === '/endless') {
        const chunk = new Uint8Array(64 * 1024).fill(97)
        return new Response(
          new ReadableStream({
            pull(c) {
              c.enqueue(chunk)
            },
          }),
        )
      }
      if (url.pathname === '/trickle')
        return new Response(
          new ReadableStream({
            async pull(c) {
              await Bun.sleep(50)
              c.enqueue(new Uint8Array([98]))
            },
          }),
        )
      if (url.pathname === '/emoji') return new Response(`${'a'.repeat(WEBHOOK_BODY_BYTES - 2)}😀😀`)
      return new Response('ok')
    },
  })
  other = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch() {
      otherHits++
      return new Response('reached')
    },
  })
})
afterAll(() => {
  server.stop(true)
  other.stop(true)
})

function run(allow: string[], payload: unknown, resolver?: (h: string) => Promise<string[]>) {
  const h = webhook(outboundPolicy(allow, resolver))
  const ctx: HandlerContext = {
    id: crypto.randomUUID(),
    taskType: 'webhook',
    attempt: 1,
    maxAttempts: 3,
    metadata: {},
    createdBy: null,
    createdAt: new Date(),
    signal: new AbortController().signal,
    log: silentLogger,
    sql: undefined as never,
  }
  return h.run(validatePayload(h.schema, payload), ctx) as Promise<{ status: number; body: string }>
}

describe('webhook targets (SSRF)', () => {
  test('loopback in every spelling is refused by default, before any connection', async () => {
    hits = []
    const port = server.port
    for (const url of [
      `http://127.0.0.1:${port}/api/v1/auth/login`,
      `http://localhost:${port}/`,
      `http://[::ffff:127.0.0.1]:${port}/`,
      `http://2130706433:${port}/`,
      `http://0x7f.1:${port}/`,
    ]) {
      const err = await run([], { url, method: 'GET' }).then(
        () => null,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(PermanentError)
      expect((err as Error).message).toContain('loopback')
      expect((err as Error).message).toContain('STARTER__WEBHOOK__ALLOW_HOSTS')
    }
    expect(hits).toEqual([])
  })

  test('the check is on the resolved address: a public-looking name that resolves inside is refused', async () => {
    const resolver = async (h: string) =>
      h === 'metadata.example' ? ['169.254.169.254'] : ['93.184.216.34', '10.0.0.5']
    await expect(run([], { url: 'http://metadata.example/latest/meta-data/' }, resolver)).rejects.toThrow(
      'resolves to 169.254.169.254, which is a link-local address',
    )
    // Every address counts, not only the first.
    await expect(run([], { url: 'http://mixed.example/' }, resolver)).rejects.toThrow('10.0.0.5')
  })

  test('private, link-local, multicast and unspecified ranges are refused; public addresses are not', () => {
    for (const ip of [
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '100.64.0.1',
      '169.254.169.254',
      '224.0.0.1',
      '0.0.0.0',
      '::',
      '::1',
      'fe80::1',
      'fd00::1',
      'ff02::1',
      '::ffff:10.0.0.1',
      '64:ff9b::7f00:1',
      '2002:7f00:1::',
    ])
      expect([ip, forbiddenKind(ip)]).not.toEqual([ip, null])
    for (const ip of ['93.184.216.34', '1.1.1.1', '2606:4700::1111', '172.32.0.1'])
      expect(forbiddenKind(ip)).toBeNull()
  })

  test('an allow list lets named addresses through, with the Host header of the URL', async () => {
    hits = []
    const r = await run(['127.0.0.1'], { url: `http://127.0.0.1:${server.port}/hello`, method: 'GET' })
    expect(r).toEqual({ status: 200, body: 'ok' })
    expect(hits).toEqual([`/hello host=127.0.0.1:${server.port}`])
    // A name on the list is looked up and called; one not on it is still refused.
    const resolver = async () => ['127.0.0.1']
    expect(
      (await run(['dev.local'], { url: `http://dev.local:${server.port}/n`, method: 'GET' }, resolver))
        .status,
    ).toBe(200)
    expect(hits.at(-1)).toBe(`/n host=dev.local:${server.port}`)
    await expect(
      run(['dev.local'], { url: `http://prod.local:${server.port}/`, method: 'GET' }, resolver),
    ).rejects.toThrow('loopback')
  })

  test("the task's headers cannot set the host or the framing", async () => {
    hits = []
    const r = await run(['127.0.0.1'], {
      url: `http://127.0.0.1:${server.port}/h`,
      method: 'GET',
      headers: { Host: 'internal.admin', 'Transfer-Encoding': 'chunked', 'x-ok': '1' },
    })
    expect(r.status).toBe(200)
    expect(hits).toEqual([`/h host=127.0.0.1:${server.port}`])
  })

  test('redirects are not followed: a 3xx is the answer', async () => {
    otherHits = 0
    const r = await run(['127.0.0.1'], { url: `http://127.0.0.1:${server.port}/redirect`, method: 'GET' })
    expect(r.status).toBe(302)
    expect(otherHits).toBe(0)
  })
})

describe('webhook replies', () => {
  test('an endless reply is read up to the cap and no further', async () => {
    const r = await run(['127.0.0.1'], {
      url: `http://127.0.0.1:${server.port}/endless`,
      method: 'GET',
      timeout_ms: 20_000,
    })
    expect(r.status).toBe(200)
    expect(r.body.length).toBe(WEBHOOK_BODY_BYTES)
  })

  test('one timeout covers the whole exchange, the body included', async () => {
    const err = await run(['127.0.0.1'], {
      url: `http://127.0.0.1:${server.port}/trickle`,
      method: 'GET',
      timeout_ms: 300,
    }).then(
      () => null,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(RetryableError)
    expect((err as Error).message).toBe('Webhook timed out after 300 ms')
  })

  test('a reply cut at the cap never leaves half a character', async () => {
    const r = await run(['127.0.0.1'], { url: `http://127.0.0.1:${server.port}/emoji`, method: 'GET' })
    expect(r.body.isWellFormed()).toBe(true)
    expect(r.body.startsWith('a'.repeat(WEBHOOK_BODY_BYTES - 2))).toBe(true)
  })
})
