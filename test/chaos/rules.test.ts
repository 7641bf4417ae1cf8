// Fault rules: validation, storage and expiry, and how a worker's hooks turn them into faults.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ChaosError } from '../../src/faults/errors'
import { createChaosHooks, decide, faultsFor } from '../../src/faults/inject'
import { createFault, deleteFault, type FaultRule, listFaults, validateFault } from '../../src/faults/rules'
import { PermanentError, RetryableError } from '../../src/handlers/contract'
import { silentLogger } from '../../src/log'
import type { Task } from '../../src/queue/task'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { registerTypes } from '../helpers/factory'
import { waitFor } from '../helpers/wait'

const rule = (r: Partial<FaultRule>): FaultRule => ({
  id: crypto.randomUUID(),
  task_type: 'email',
  kind: 'fail',
  probability: 1,
  permanent: false,
  latency_ms: null,
  match: null,
  message: null,
  created_at: new Date(),
  expires_at: new Date(Date.now() + 60_000),
  created_by: null,
  ...r,
})

const fieldOf = (fn: () => unknown): string | undefined => {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(ChaosError)
    return ((err as ChaosError).details as { field: string }).field
  }
  return undefined
}

describe('validateFault', () => {
  test('names the field of every refusal', () => {
    expect(fieldOf(() => validateFault({ kind: 'fail' }))).toBe('task_type')
    expect(fieldOf(() => validateFault({ task_type: 'Email!', kind: 'fail' }))).toBe('task_type')
    expect(fieldOf(() => validateFault({ task_type: 'email', kind: 'explode' }))).toBe('kind')
    expect(fieldOf(() => validateFault({ task_type: 'email', kind: 'fail', probability: 0 }))).toBe(
      'probability',
    )
    expect(fieldOf(() => validateFault({ task_type: 'email', kind: 'fail', probability: 1.5 }))).toBe(
      'probability',
    )
    expect(fieldOf(() => validateFault({ task_type: 'email', kind: 'hang', permanent: true }))).toBe(
      'permanent',
    )
    expect(fieldOf(() => validateFault({ task_type: 'email', kind: 'latency' }))).toBe('latency_ms')
    expect(fieldOf(() => validateFault({ task_type: 'email', kind: 'fail', latency_ms: 5 }))).toBe(
      'latency_ms',
    )
    expect(fieldOf(() => validateFault({ task_type: 'email', kind: 'fail', match: [1] }))).toBe('match')
    expect(fieldOf(() => validateFault({ task_type: 'email', kind: 'fail', expires_in_secs: 0 }))).toBe(
      'expires_in_secs',
    )
    expect(fieldOf(() => validateFault({ task_type: 'email', kind: 'fail', expires_in_secs: 86_401 }))).toBe(
      'expires_in_secs',
    )
    expect(
      fieldOf(() => validateFault({ task_type: 'email', kind: 'fail', expires_at: '2001-01-01T00:00:00Z' })),
    ).toBe('expires_at')
  })

  test('defaults: probability 1, retryable, ten minutes', () => {
    const now = Date.parse('2030-01-01T00:00:00Z')
    const f = validateFault({ task_type: '*', kind: 'fail' }, now)
    expect(f).toMatchObject({
      task_type: '*',
      probability: 1,
      permanent: false,
      latency_ms: null,
      match: null,
    })
    expect(f.expires_at.getTime()).toBe(now + 600_000)
  })
})

describe('which rules hit an attempt', () => {
  const task = { task_type: 'email', metadata: { run: 'a', poison: true } }

  test('by type or *, unexpired, with a matching metadata subset', () => {
    const now = Date.now()
    const rules = [
      rule({ id: 'type' }),
      rule({ id: 'any', task_type: '*' }),
      rule({ id: 'other', task_type: 'webhook' }),
      rule({ id: 'expired', expires_at: new Date(now - 1) }),
      rule({ id: 'match', match: { poison: true } }),
      rule({ id: 'nomatch', match: { poison: false } }),
    ]
    expect(faultsFor(rules, task, now).map((r) => r.id)).toEqual(['type', 'any', 'match'])
  })

  test('probability is rolled per rule; latencies add; crash beats hang beats fail; permanent beats retryable', () => {
    const at = (x: number) => () => x
    expect(decide([rule({ probability: 0.4 })], at(0.5)).action).toBeNull()
    expect(decide([rule({ probability: 0.4 })], at(0.3)).action?.kind).toBe('fail')
    const lat = [rule({ kind: 'latency', latency_ms: 30 }), rule({ kind: 'latency', latency_ms: 12 })]
    expect(decide(lat, at(0))).toEqual({ latencyMs: 42, action: null })
    const all = [rule({}), rule({ kind: 'hang' }), rule({ kind: 'crash' })]
    expect(decide(all, at(0)).action?.kind).toBe('crash')
    expect(decide(all.slice(0, 2), at(0)).action?.kind).toBe('hang')
    const fails = decide([rule({}), rule({ permanent: true })], at(0)).action
    expect(fails).toMatchObject({ kind: 'fail', permanent: true })
  })
})

describe('rules in the database', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
    await registerTypes(db.sql, 'email', 'delay_task')
  })
  afterAll(async () => {
    await db.drop()
  })

  test('a rule for an unregistered type is refused', async () => {
    const err = await createFault(db.sql, { task_type: 'nope', kind: 'fail' }, null).catch((e) => e)
    expect(err).toBeInstanceOf(ChaosError)
    expect(err.code).toBe('TASK_TYPE_NOT_REGISTERED')
  })

  test('a rule expires by itself: gone from the list, and no longer applied by a worker that still caches it', async () => {
    // Reload only when told: the expiry must work from the cache alone.
    const hooks = createChaosHooks({ sql: db.sql, log: silentLogger, refreshMs: 3_600_000 })
    try {
      const r = await createFault(
        db.sql,
        { task_type: 'email', kind: 'fail', permanent: true, expires_in_secs: 0.6 },
        null,
      )
      await hooks.refresh()
      expect(hooks.rules.map((x) => x.id)).toEqual([r.id])
      expect((await listFaults(db.sql)).map((x) => x.id)).toEqual([r.id])
      const task = { id: crypto.randomUUID(), task_type: 'email', metadata: {} } as unknown as Task
      const signal = new AbortController().signal
      await expect(hooks.beforeRun(task, signal)).rejects.toBeInstanceOf(PermanentError)
      await waitFor('the rule to expire', async () => (await listFaults(db.sql)).length === 0, {
        timeoutMs: 5000,
        intervalMs: 50,
      })
      expect(hooks.rules.map((x) => x.id)).toEqual([r.id]) // still cached
      await hooks.beforeRun(task, signal) // and no longer applied
      const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM chaos_faults`
      expect(row!.n).toBe(0) // listing deletes expired rules on the way
    } finally {
      hooks.stop()
    }
  })

  test('workers reload on a control message and on their timer; deleting a rule stops it', async () => {
    const told = createChaosHooks({ sql: db.sql, log: silentLogger, refreshMs: 3_600_000 })
    const timed = createChaosHooks({ sql: db.sql, log: silentLogger, refreshMs: 100 })
    try {
      await told.refresh()
      const r = await createFault(db.sql, { task_type: 'email', kind: 'fail', match: { drill: 1 } }, null)
      expect(told.rules).toHaveLength(0)
      told.onControl({ kind: 'faults' }, { id: 'w' })
      await waitFor('the told worker to reload', () => told.rules.length === 1)
      await waitFor('the timed worker to reload', () => timed.rules.length === 1)
      const task = { id: crypto.randomUUID(), task_type: 'email', metadata: { drill: 1 } } as unknown as Task
      await expect(told.beforeRun(task, new AbortController().signal)).rejects.toBeInstanceOf(RetryableError)
      await deleteFault(db.sql, r.id)
      told.onControl({ kind: 'faults' }, { id: 'w' })
      await waitFor('the told worker to drop the rule', () => told.rules.length === 0)
      await told.beforeRun(task, new AbortController().signal)
      await expect(deleteFault(db.sql, r.id)).rejects.toMatchObject({ code: 'FAULT_NOT_FOUND' })
    } finally {
      told.stop()
      timed.stop()
    }
  })

  test('a hang ends only with the attempt signal; a kill message reaches only its worker', async () => {
    const killed: string[] = []
    const hooks = createChaosHooks({
      sql: db.sql,
      log: silentLogger,
      refreshMs: 3_600_000,
      kill: (why) => killed.push(why),
    })
    try {
      const r = await createFault(
        db.sql,
        { task_type: 'delay_task', kind: 'hang', match: { hang: true } },
        null,
      )
      await hooks.refresh()
      const ctl = new AbortController()
      // A hang waits on the attempt's signal: the hook starting to listen for its abort is the event
      // that shows it hangs; a hook that returned or threw instead wins the race below.
      const listening = new Promise<'listening'>((resolve) => {
        const listen = ctl.signal.addEventListener.bind(ctl.signal)
        ctl.signal.addEventListener = ((...args: Parameters<typeof listen>) => {
          listen(...args)
          if (args[0] === 'abort') resolve('listening')
        }) as typeof listen
      })
      const task = {
        id: crypto.randomUUID(),
        task_type: 'delay_task',
        metadata: { hang: true },
      } as unknown as Task
      let settled = false
      const hung = hooks.beforeRun(task, ctl.signal).finally(() => {
        settled = true
      })
      const first = await Promise.race([
        listening,
        hung.then(
          () => 'returned',
          (err) => `threw ${err}`,
        ),
      ])
      expect(first).toBe('listening')
      expect(settled).toBe(false)
      ctl.abort(new Error('timed out'))
      await expect(hung).rejects.toThrow('timed out')
      await deleteFault(db.sql, r.id)

      hooks.onControl({ kind: 'kill', worker: 'other' }, { id: 'me' })
      expect(killed).toHaveLength(0)
      hooks.onControl({ kind: 'kill', worker: 'me' }, { id: 'me' })
      expect(killed).toHaveLength(1)
    } finally {
      hooks.stop()
    }
  })
})
