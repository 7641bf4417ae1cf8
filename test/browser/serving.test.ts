// The panel plugin run from source (`bun src/main.ts`, no compiled bundle): the HTML import has no
// embedded files, so the plugin builds the bundle in memory once and serves it like the binary does.
// The compiled path is covered end to end by panel.test.ts.
import { expect, test } from 'bun:test'
import { Elysia } from 'elysia'
import { panel } from '../../src/api/panel'

const app = new Elysia().use(panel())
const get = (path: string, headers: Record<string, string> = {}) =>
  app.handle(new Request(`http://panel.test${path}`, { headers }))

test('serves index.html on / and on client routes, with hashed assets cached for good', async () => {
  const res = await get('/')
  expect(res.status).toBe(200)
  expect(res.headers.get('cache-control')).toBe('no-cache')
  const html = await res.text()
  expect(html).toContain('<div id="app">')
  const assets = [...html.matchAll(/(?:src|href)="(\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!)
  expect(assets.map((a) => a.split('.').pop()).sort()).toEqual(['css', 'js'])
  for (const a of assets) {
    const asset = await get(a, { 'accept-encoding': 'gzip, br' })
    expect(asset.status).toBe(200)
    expect(asset.headers.get('content-encoding')).toBe('gzip')
    expect(asset.headers.get('cache-control')).toContain('immutable')
    expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(100)
  }
  for (const path of ['/tasks', '/dead-letter', `/tasks/${crypto.randomUUID()}`, '/tasks/new'])
    expect((await get(path)).status).toBe(200)
})

test('answers 304 to a matching ETag', async () => {
  const first = await get('/')
  const again = await get('/', { 'if-none-match': first.headers.get('etag')! })
  expect(again.status).toBe(304)
})

test('leaves /api, file-like names and deeper paths to the API (404)', async () => {
  for (const path of ['/api', '/favicon.ico', '/nope.js', '/a/b']) expect((await get(path)).status).toBe(404)
})
