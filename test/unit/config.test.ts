import { describe, expect, test } from 'bun:test'
import { parseArgs } from '../../src/cli/args'
import { ConfigError, loadConfig } from '../../src/config'

describe('config', () => {
  test("defaults are the seed's", () => {
    const c = loadConfig({}, { HOME: '/home/x' })
    expect(c.worker).toMatchObject({
      concurrency: 4,
      pollIntervalMs: 5000,
      maxRetries: 3,
      retryBackoffBaseMs: 2000,
      leaseMs: 30_000,
    })
    expect(c.server).toMatchObject({ host: '127.0.0.1', port: 3000 })
    expect(c.databaseUrl).toBeUndefined()
    expect(c.dataDir).toBe('/home/x/.local/share/tasklab')
    expect(c.chaos.enabled).toBe(false)
  })

  test("the seed's STARTER__ variables take effect", () => {
    const c = loadConfig(
      {},
      {
        STARTER__WORKER__CONCURRENCY: '8',
        STARTER__WORKER__POLL_INTERVAL_SECS: '0.5',
        STARTER__WORKER__MAX_RETRIES: '5',
        STARTER__WORKER__RETRY_BACKOFF_BASE_SECS: '1.5',
        STARTER__SERVER__HOST: '0.0.0.0',
        STARTER__SERVER__PORT: '8080',
        STARTER__CHAOS__ENABLED: 'true',
        XDG_DATA_HOME: '/data',
      },
    )
    expect(c.worker).toMatchObject({
      concurrency: 8,
      pollIntervalMs: 500,
      maxRetries: 5,
      retryBackoffBaseMs: 1500,
    })
    expect(c.server).toMatchObject({ host: '0.0.0.0', port: 8080 })
    expect(c.chaos.enabled).toBe(true)
    expect(c.dataDir).toBe('/data/tasklab')
  })

  test('the per-user running cap is off by default, set by env or flag, and refuses 0', () => {
    expect(loadConfig({}, {}).worker.maxRunningPerUser).toBeUndefined()
    expect(loadConfig({}, { STARTER__WORKER__MAX_RUNNING_PER_USER: '3' }).worker.maxRunningPerUser).toBe(3)
    expect(loadConfig({ 'max-running-per-user': '5' }, {}).worker.maxRunningPerUser).toBe(5)
    expect(() => loadConfig({}, { STARTER__WORKER__MAX_RUNNING_PER_USER: '0' })).toThrow(
      /STARTER__WORKER__MAX_RUNNING_PER_USER/,
    )
  })

  test('flags override environment variables', () => {
    const c = loadConfig(
      { concurrency: '2', port: '0', chaos: true },
      { STARTER__WORKER__CONCURRENCY: '8', STARTER__SERVER__PORT: '9' },
    )
    expect(c.worker.concurrency).toBe(2)
    expect(c.server.port).toBe(0)
    expect(c.chaos.enabled).toBe(true)
  })

  test('STARTER__WORKER__PREFETCH: default 4, 0 switches claim-ahead off, the flag wins', () => {
    expect(loadConfig({}, {}).worker.prefetch).toBe(4)
    expect(loadConfig({}, { STARTER__WORKER__PREFETCH: '0' }).worker.prefetch).toBe(0)
    expect(loadConfig({ prefetch: '2' }, { STARTER__WORKER__PREFETCH: '0' }).worker.prefetch).toBe(2)
    expect(() => loadConfig({}, { STARTER__WORKER__PREFETCH: '17' })).toThrow(
      'The environment variable STARTER__WORKER__PREFETCH must be a whole number from 0 to 16; got "17".',
    )
    expect(() => loadConfig({}, { STARTER__WORKER__PREFETCH: '-1' })).toThrow(ConfigError)
  })

  test('the result is frozen', () => {
    const c = loadConfig({}, {})
    expect(Object.isFrozen(c.worker)).toBe(true)
    expect(() => {
      ;(c.worker as { concurrency: number }).concurrency = 99
    }).toThrow()
  })

  test.each([
    [
      { STARTER__WORKER__CONCURRENCY: 'abc' },
      'The environment variable STARTER__WORKER__CONCURRENCY must be a whole number from 1 to 1000; got "abc".',
    ],
    [
      { STARTER__WORKER__CONCURRENCY: '0' },
      'STARTER__WORKER__CONCURRENCY must be a whole number from 1 to 1000',
    ],
    [
      { STARTER__WORKER__POLL_INTERVAL_SECS: '-1' },
      'STARTER__WORKER__POLL_INTERVAL_SECS must be a number of seconds',
    ],
    [{ STARTER__SERVER__PORT: '70000' }, 'STARTER__SERVER__PORT must be a whole number from 1 to 65535'],
    [{ STARTER__CHAOS__ENABLED: 'maybe' }, 'STARTER__CHAOS__ENABLED must be true or false'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL must be a postgres:// URL'],
    [{ STARTER__LOG__LEVEL: 'loud' }, 'STARTER__LOG__LEVEL must be one of debug, info, warn, error'],
  ])('refuses %j with a sentence naming the variable', (env, message) => {
    expect(() => loadConfig({}, env)).toThrow(ConfigError)
    expect(() => loadConfig({}, env)).toThrow(message)
  })

  test('a bad flag names the flag', () => {
    expect(() => loadConfig({ concurrency: 'x' }, {})).toThrow(
      'The flag --concurrency must be a whole number',
    )
  })
})

describe('command line', () => {
  const known = new Set(['port', 'id', 'database-url'])
  test('command, flags in both spellings, switches', () => {
    expect(parseArgs(['worker', '--id', '3', '--port=9', '--chaos'], known)).toEqual({
      command: 'worker',
      positional: [],
      flags: { id: '3', port: '9', chaos: true },
    })
    expect(parseArgs([], known).command).toBe('start')
  })

  test('unknown options and missing values are sentences', () => {
    expect(() => parseArgs(['--nope'], known)).toThrow('Unknown option --nope')
    expect(() => parseArgs(['worker', '--id'], known)).toThrow('The option --id needs a value.')
  })
})
