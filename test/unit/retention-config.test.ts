// STARTER__RETENTION__*_SECS: defaults, overrides, and bad values refused with a sentence naming
// the variable (exit 2 from the real command line).
import { describe, expect, test } from 'bun:test'
import { ConfigError, loadConfig } from '../../src/config'
import { spawnTasklab } from '../helpers/proc'

describe('retention settings', () => {
  test('7 days for completed and cancelled, 30 for failed; 0 keeps for ever', () => {
    expect(loadConfig({}, {}).retention).toEqual({
      completedSecs: 604_800,
      cancelledSecs: 604_800,
      failedSecs: 2_592_000,
    })
    const c = loadConfig(
      { 'retention-failed-secs': '60' },
      { STARTER__RETENTION__COMPLETED_SECS: '0', STARTER__RETENTION__FAILED_SECS: '5' },
    )
    expect(c.retention).toEqual({ completedSecs: 0, cancelledSecs: 604_800, failedSecs: 60 })
  })

  test.each(['-1', 'abc', '1.5', '', '315360001'])(
    '%p is refused with a sentence naming the variable',
    (raw) => {
      expect(() => loadConfig({}, { STARTER__RETENTION__CANCELLED_SECS: raw })).toThrow(ConfigError)
      expect(() => loadConfig({}, { STARTER__RETENTION__CANCELLED_SECS: raw })).toThrow(
        /^The environment variable STARTER__RETENTION__CANCELLED_SECS must be a whole number of seconds from 0 \(keep for ever\) to 315360000 \(10 years\)/,
      )
    },
  )

  test('tasklab exits 2 on a bad retention value', async () => {
    const child = spawnTasklab(['serve'], { env: { STARTER__RETENTION__FAILED_SECS: '-5' } })
    expect(await child.waitExit(20_000)).toBe(2)
    expect(child.output()).toContain('STARTER__RETENTION__FAILED_SECS must be a whole number of seconds')
  })
})
