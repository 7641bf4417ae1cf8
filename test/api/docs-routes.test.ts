// The API reference must list the routes the app really has, and no route written anywhere in the
// README or docs/ may be one that does not exist: both are read from the app's own route table.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { API_PREFIX } from '../../src/api/app'
import { codeSpans, docFiles, markedBlock, proseOf, tableRows } from '../helpers/markdown'
import { type Harness, harness } from './harness'

const METHOD_AND_PATH = /^(GET|POST|PUT|PATCH|DELETE|HEAD) (\/\S*)/

let h: Harness
/** `METHOD /path` of every API route, without the /api/v1 prefix, parameters as `:name`. */
let routes: string[]

beforeAll(async () => {
  // With chaos on, so that its routes are in the table too.
  h = await harness({ STARTER__CHAOS__ENABLED: 'true' })
  routes = h.app.routes
    .filter((r) => r.path.startsWith(`${API_PREFIX}/`) && !r.path.endsWith('*'))
    .map((r) => `${r.method} ${r.path.slice(API_PREFIX.length)}`)
    .sort()
})
afterAll(() => h.close())

/** `METHOD /path` as the docs write it: `{id}` for a parameter, with or without /api/v1, maybe a query. */
function normalise(method: string, path: string): string {
  const bare = path.startsWith(API_PREFIX) ? path.slice(API_PREFIX.length) : path
  return `${method} ${bare.split('?')[0]!.replace(/\{(\w+)\}/g, ':$1')}`
}

/** A route as a pattern: a parameter matches any one segment, written `{name}` or a value (`email`). */
const pattern = (route: string) =>
  new RegExp(`^${route.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/:\w+/g, '[^/]+')}$`)

describe('docs/api.md', () => {
  test('its route table lists exactly the routes of the app', async () => {
    const block = markedBlock(await Bun.file('docs/api.md').text(), 'routes')
    if (block === undefined) throw new Error('docs/api.md has no routes:start/routes:end markers')
    const listed = tableRows(block)
      .map((cells) => METHOD_AND_PATH.exec((cells[0] ?? '').replace(/^`|`$/g, '')))
      .filter((m) => m !== null)
      .map((m) => normalise(m[1]!, m[2]!))
      .sort()
    expect(listed).toEqual(routes)
  })

  test('every `METHOD /path` written in README.md or docs/*.md is a route of the app', async () => {
    const known = routes.map(pattern)
    const unknown: string[] = []
    for (const file of docFiles())
      for (const span of codeSpans(proseOf(await Bun.file(file).text()))) {
        const m = METHOD_AND_PATH.exec(span)
        if (!m || !m[2]!.startsWith('/')) continue
        const route = normalise(m[1]!, m[2]!)
        if (!known.some((re) => re.test(route))) unknown.push(`${file}: ${span}`)
      }
    expect(unknown).toEqual([])
  })
})
