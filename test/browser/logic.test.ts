// The panel's pure pieces, without a browser: how events become attempts, how the dead letter queue
// is grouped, and how a retry strategy is put into words.
import { expect, test } from 'bun:test'
import type { Task, TaskEvent } from '../../web/lib/types'
import { groupByError } from '../../web/views/dead-letter'
import { actorOf, attemptsOf, currentError, describeStrategy } from '../../web/views/task-detail'

const ev = (
  at: number,
  from: TaskEvent['from_status'],
  to: TaskEvent['to_status'],
  attempt: number,
  extra: Partial<TaskEvent> = {},
): TaskEvent => ({
  id: String(at),
  task_id: 'task-1',
  task_type: 'email',
  at: new Date(1_700_000_000_000 + at).toISOString(),
  from_status: from,
  to_status: to,
  attempt,
  worker_id: null,
  error: null,
  actor: 'worker',
  ...extra,
})

test('attempts come from the events, newest first, with worker, duration and error', () => {
  const attempts = attemptsOf([
    ev(0, null, 'pending', 0, { actor: 'user:1' }),
    ev(10, 'pending', 'running', 1, { worker_id: 'w1' }),
    ev(60, 'running', 'retrying', 1, { worker_id: 'w1', error: 'Email service error' }),
    ev(200, 'retrying', 'running', 2, { worker_id: 'w2' }),
    ev(230, 'running', 'failed', 2, { worker_id: 'w2', error: 'Email service error' }),
    ev(900, 'failed', 'pending', 0, { actor: 'user:1' }),
    ev(910, 'pending', 'running', 1, { worker_id: 'w1' }),
  ])
  // Numbered across the manual retry, which restarted the task's own counter at 1.
  expect(attempts.map((a) => [a.n, a.tryOf, a.retries, a.worker, a.outcome, a.error])).toEqual([
    [3, 1, 1, 'w1', null, null],
    [2, 2, 0, 'w2', 'failed', 'Email service error'],
    [1, 1, 0, 'w1', 'retrying', 'Email service error'],
  ])
  expect(new Date(attempts[1]!.end!).getTime() - new Date(attempts[1]!.start).getTime()).toBe(30)
})

test('the dead letter queue groups by error, largest group first', () => {
  const t = (id: string, error: string | null, type = 'email') =>
    ({ id, task_type: type, last_error: error, updated_at: '2026-01-01T00:00:00Z' }) as Task
  const groups = groupByError([
    t('1', 'boom'),
    t('2', 'Invalid payload', 'data_processing'),
    t('3', 'boom', 'webhook'),
    t('4', null),
  ])
  expect(groups.map((g) => [g.error, g.tasks.length, g.types])).toEqual([
    ['boom', 2, ['email', 'webhook']],
    ['Invalid payload', 1, ['data_processing']],
    ['(no error recorded)', 1, ['email']],
  ])
})

test('retry strategies are put into words with their delays', () => {
  expect(
    describeStrategy({
      type: 'exponential',
      base_delay_ms: 1000,
      multiplier: 2,
      max_delay_ms: 300_000,
      max_attempts: 3,
    }),
  ).toBe('Exponential backoff, up to 3 attempts; waits 2 s, 4 s between attempts.')
  expect(describeStrategy({ type: 'fixed', interval_ms: 100, max_attempts: 1 })).toBe(
    'Fixed interval, up to 1 attempt; no retries.',
  )
  expect(describeStrategy(null)).toBe('none')
})

test('the rescue is named as the rescue, and a healed error gets no banner', () => {
  const rescued = ev(60, 'running', 'retrying', 1, {
    worker_id: 'w-dead',
    error: 'worker lost',
    actor: 'rescue',
  })
  expect(actorOf(rescued)).toBe('rescue (lease of w-dead expired)')
  expect(attemptsOf([ev(10, 'pending', 'running', 1, { worker_id: 'w-dead' }), rescued])[0]).toMatchObject({
    worker: 'w-dead',
    endedBy: 'rescue',
  })
  expect(actorOf(ev(70, 'retrying', 'running', 2, { worker_id: 'w2' }))).toBe('w2')
  const base = { last_error: 'worker lost', current_attempt: 2, max_attempts: 3 } as Task
  expect(currentError({ ...base, status: 'completed' })).toBeNull()
  expect(currentError({ ...base, status: 'pending' })).toBeNull()
  expect(currentError({ ...base, status: 'failed' })).toEqual({ label: 'Failed with', tone: 'error' })
  expect(currentError({ ...base, status: 'retrying' })?.label).toBe('Attempt 2 failed with')
})

test('a type without an example starts the create form from its schema', async () => {
  const { skeleton, startingPayload } = await import('../../web/lib/schema')
  const schema = {
    type: 'object',
    required: ['text', 'mode', 'count', 'opts', 'tags'],
    properties: {
      text: { type: 'string' },
      mode: { enum: ['fast', 'slow'] },
      count: { type: 'integer', minimum: 1 },
      opts: { type: 'object', required: ['dry'], properties: { dry: { type: 'boolean' } } },
      tags: { type: 'array', items: { type: 'string' } },
      optional: { type: 'string' },
    },
  }
  expect(skeleton(schema)).toEqual({ text: '', mode: 'fast', count: 1, opts: { dry: false }, tags: [] })
  expect(startingPayload(null, schema)).toEqual(skeleton(schema))
  expect(startingPayload({}, schema)).toEqual(skeleton(schema))
  expect(startingPayload({ text: 'hi' }, schema)).toEqual({ text: 'hi' })
})
