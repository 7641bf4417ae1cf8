// Payloads are validated at creation against the type's schema, whoever registered it (a built-in
// worker, a handler module, an HTTP worker): 400 naming the field, and no row written.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { builtinHandlers } from '../../src/handlers'
import { upsertTypes } from '../../src/queue/registry'
import { type Harness, harness, WORKER_TOKEN } from './harness'

let h: Harness
let user: { token: string }

const ORDER_SCHEMA = {
  type: 'object',
  required: ['sku', 'quantity'],
  properties: {
    sku: { type: 'string', minLength: 1 },
    quantity: { type: 'integer', minimum: 1 },
    gift: { type: 'object', properties: { note: { type: 'string' } } },
  },
  additionalProperties: false,
}

beforeAll(async () => {
  h = await harness()
  user = await h.user('paula')
  const r = await h.call('POST', '/api/v1/tasks/types', {
    token: WORKER_TOKEN,
    body: { task_type: 'ship_order', description: 'ships an order', payload_schema: ORDER_SCHEMA },
  })
  expect(r.status).toBe(201)
  expect(r.body.data.payload_schema).toEqual(ORDER_SCHEMA)
})
afterAll(() => h.close())

const create = (body: unknown) => h.call('POST', '/api/v1/tasks', { token: user.token, body })

describe('POST /tasks with a registered schema', () => {
  test('a valid payload is created', async () => {
    const r = await create({ task_type: 'ship_order', payload: { sku: 'A-1', quantity: 2 } })
    expect(r.status).toBe(201)
  })

  test.each([
    [{ quantity: 2 }, 'payload.sku', /is required/],
    [{ sku: 'A-1', quantity: 0 }, 'payload.quantity', />= 1/],
    [{ sku: 'A-1', quantity: 'two' }, 'payload.quantity', /integer/],
    [{ sku: 'A-1', quantity: 1, colour: 'red' }, 'payload.colour', /not allowed/],
    [{ sku: 'A-1', quantity: 1, gift: { note: 5 } }, 'payload.gift.note', /string/],
  ])('%j is a 400 naming %s, and no row is written', async (payload, field, message) => {
    const before = (await h.counts()).tasks
    const r = await create({ task_type: 'ship_order', payload })
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('VALIDATION_ERROR')
    expect(r.body.error.details?.field).toBe(field)
    expect(r.body.error.message).toMatch(message)
    expect((await h.counts()).tasks).toBe(before)
  })

  test('a batch with one bad payload is refused whole, naming its index', async () => {
    const before = (await h.counts()).tasks
    const r = await h.call('POST', '/api/v1/tasks/batch', {
      token: user.token,
      body: {
        tasks: [
          { task_type: 'ship_order', payload: { sku: 'A', quantity: 1 } },
          { task_type: 'ship_order', payload: { sku: 'B' } },
        ],
      },
    })
    expect(r.status).toBe(400)
    expect(r.body.error.details?.field).toBe('tasks[1].payload.quantity')
    expect((await h.counts()).tasks).toBe(before)
  })

  test('re-registering a schema applies to the next task at once', async () => {
    const r = await h.call('POST', '/api/v1/tasks/types', {
      token: WORKER_TOKEN,
      body: { task_type: 'ship_order', payload_schema: { ...ORDER_SCHEMA, required: ['sku'] } },
    })
    expect(r.status).toBe(200)
    expect((await create({ task_type: 'ship_order', payload: { sku: 'A-1' } })).status).toBe(201)
  })

  test('a schema that is not JSON Schema is refused at registration', async () => {
    const r = await h.call('POST', '/api/v1/tasks/types', {
      token: WORKER_TOKEN,
      body: { task_type: 'broken_schema', payload_schema: { type: 'nonsense' } },
    })
    expect(r.status).toBe(400)
    expect(r.body.error.details?.field).toBe('payload_schema')
  })
})

describe('built-in types', () => {
  test('their TypeBox schemas, as stored, reject a bad payload at creation', async () => {
    const builtins = builtinHandlers({ sandboxDir: '/nonexistent' })
    await upsertTypes(
      h.db.sql,
      builtins.map((b) => ({
        name: b.type,
        description: b.description,
        payload_schema: JSON.parse(JSON.stringify(b.schema)),
        example_payload: b.example,
      })),
    )
    for (const b of builtins)
      expect((await create({ task_type: b.type, payload: b.example })).status).toBe(201)
    const before = (await h.counts()).tasks
    const r = await create({ task_type: 'delay_task', payload: { delay_seconds: 'soon' } })
    expect(r.status).toBe(400)
    expect(r.body.error.details?.field).toBe('payload.delay_seconds')
    expect((await h.counts()).tasks).toBe(before)
  })
})
