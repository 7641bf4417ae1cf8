// The committed client types (src/api/client/schema.d.ts) are what openapi-typescript makes of the
// routes' current OpenAPI document: a route, field or schema changed without
// `bun scripts/api-types.ts` fails here, before a client compiles against stale types.
import { expect, test } from 'bun:test'
import { API_TYPES_FILE, apiTypes } from '../../scripts/api-types'

test('src/api/client/schema.d.ts is generated from the current routes', async () => {
  const committed = await Bun.file(API_TYPES_FILE).text()
  const generated = await apiTypes()
  // A diff of the first differing line says what moved, rather than two 3,000-line strings.
  const a = committed.split('\n')
  const b = generated.split('\n')
  const at = Array.from({ length: Math.max(a.length, b.length) }, (_, i) => i).find((i) => a[i] !== b[i])
  const first = at === undefined ? null : { line: at + 1, committed: a[at], generated: b[at] }
  expect(first, 'run `bun scripts/api-types.ts`').toBeNull()
})
