import { describe, expect, test } from 'bun:test'
import {
  admits,
  CLOSED,
  isPristine,
  onFailure,
  onSuccess,
  probeAt,
  toHalfOpen,
} from '../../src/queue/breaker'

const s = { failureThreshold: 3, successThreshold: 2, cooldownMs: 1000 }
const t0 = new Date('2026-01-01T00:00:00Z')
const later = (ms: number) => new Date(t0.getTime() + ms)

describe('circuit breaker', () => {
  test('closed → open after N consecutive failures', () => {
    let b = CLOSED
    b = onFailure(b, s, t0)
    b = onFailure(b, s, t0)
    expect(b.state).toBe('closed')
    expect(admits(b, s, t0)).toBe('all')
    b = onFailure(b, s, t0)
    expect(b).toEqual({ state: 'open', failures: 3, successes: 0, openedAt: t0 })
    expect(admits(b, s, later(999))).toBe('none')
  })

  test('a success resets the consecutive count while closed', () => {
    const b = onSuccess(onFailure(onFailure(CLOSED, s, t0), s, t0), s)
    expect(b).toEqual(CLOSED)
    expect(onFailure(b, s, t0).state).toBe('closed')
  })

  test('open → probes after the cool-down → half-open → closed after M successes', () => {
    let b = onFailure(onFailure(onFailure(CLOSED, s, t0), s, t0), s, t0)
    expect(probeAt(b, s)).toEqual(later(1000))
    expect(admits(b, s, later(1000))).toBe('probe')
    b = toHalfOpen(b)
    expect(b.state).toBe('half_open')
    expect(admits(b, s, later(1000))).toBe('probe')
    b = onSuccess(b, s)
    expect(b.state).toBe('half_open')
    b = onSuccess(b, s)
    expect(b).toEqual(CLOSED)
    expect(isPristine(b)).toBe(true)
  })

  test('a failure while half-open opens it again with a fresh cool-down', () => {
    const open = onFailure(onFailure(onFailure(CLOSED, s, t0), s, t0), s, t0)
    const again = onFailure(toHalfOpen(open), s, later(5000))
    expect(again.state).toBe('open')
    expect(again.openedAt).toEqual(later(5000))
    expect(admits(again, s, later(5500))).toBe('none')
  })

  test('a late success while open changes nothing', () => {
    const open = onFailure(onFailure(onFailure(CLOSED, s, t0), s, t0), s, t0)
    expect(onSuccess(open, s)).toBe(open)
  })
})
