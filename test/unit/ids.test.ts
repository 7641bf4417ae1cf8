import { expect, test } from 'bun:test'
import { uuidv7 } from '../../src/queue/ids'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

test('task ids are UUIDv7: version 7, RFC variant, the millisecond first', () => {
  const at = Date.UTC(2030, 0, 31, 12, 0, 0, 123)
  const id = uuidv7(at)
  expect(id).toMatch(UUID)
  expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at)
})

test('ids of one process only grow, also many in one millisecond and past the 4,096 counter', () => {
  const now = Date.now() + 60_000
  const ids = Array.from({ length: 10_000 }, () => uuidv7(now))
  expect([...ids].sort()).toEqual(ids)
  expect(new Set(ids).size).toBe(ids.length)
  for (const id of ids) expect(id).toMatch(UUID)
  // A clock that steps back does not reorder them either.
  const later = uuidv7(now - 5000)
  expect(later > ids.at(-1)!).toBe(true)
})
