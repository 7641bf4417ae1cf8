// The settings table in src/config.ts is the one list of settings: the parser, every --help page
// and the table of docs/configuration.md are generated from it; these tests fail when one of them drifts.
import { describe, expect, test } from 'bun:test'
import { COMMAND_HELP, mainHelp } from '../../src/cli/help'
import { settingsTable, TABLE_END, TABLE_START } from '../../src/cli/settings-doc'
import { closest } from '../../src/cli/suggest'
import { allSettings, type Command, loadConfig, settingFlags, unknownVariables } from '../../src/config'

const settings = allSettings()

describe('the settings table', () => {
  test('the configuration table of docs/configuration.md is the generated one (bun scripts/settings-table.ts)', async () => {
    const page = await Bun.file('docs/configuration.md').text()
    const block = page.split(TABLE_START)[1]?.split(TABLE_END)[0]?.trim()
    expect(block).toBe(settingsTable())
  })

  test('names every variable and flag once', () => {
    expect(new Set(settings.map((s) => s.env)).size).toBe(settings.length)
    expect(new Set(settings.map((s) => s.flag)).size).toBe(settings.length)
  })

  test('the main --help lists every variable; each command page lists every flag it accepts', () => {
    for (const s of settings) expect(mainHelp()).toContain(`  ${s.env} `)
    for (const command of ['start', 'serve', 'worker', 'migrate'] as Command[])
      for (const flag of settingFlags(command)) expect(COMMAND_HELP[command]).toContain(`--${flag}`)
  })

  test('each variable reaches the config: a valid value given to it changes the parsed config', () => {
    const samples: Record<string, string> = {
      DATABASE_URL: 'postgres://u@h:1/d',
      STARTER__SERVER__PORT: '8123',
      STARTER__WORKER__TOKEN: 'a-token-of-sixteen-chars',
      STARTER__CHAOS__ENABLED: 'true',
      STARTER__LOG__LEVEL: 'debug',
      STARTER__LOG__FORMAT: 'json',
      STARTER__WORKER__ID: 'n7',
      STARTER__WEBHOOK__ALLOW_HOSTS: '127.0.0.1,localhost,10.0.0.0/8',
      STARTER__MAINTENANCE__VACUUM: 'off',
    }
    const base = JSON.stringify(loadConfig({}, { HOME: '/h' }))
    for (const s of settings) {
      const raw = samples[s.env] ?? (s.kind.arg === 'N' ? '7' : s.kind.arg === 'S' ? '7' : '/elsewhere')
      const changed = JSON.stringify(loadConfig({}, { HOME: '/h', [s.env]: raw }))
      expect({ env: s.env, changed: changed !== base }).toEqual({ env: s.env, changed: true })
      // …and so does its flag, in the same way.
      expect(JSON.stringify(loadConfig({ [s.flag]: raw }, { HOME: '/h' }))).toBe(changed)
    }
  })

  test('a default that depends on another setting follows it', () => {
    expect(loadConfig({}, { STARTER__DATA_DIR: '/d' }).sandboxDir).toBe('/d/sandbox')
    expect(loadConfig({ 'data-dir': '/f' }, {}).sandboxDir).toBe('/f/sandbox')
  })
})

describe('misspellings', () => {
  test('an unknown STARTER__ variable is named, with the closest known one', () => {
    expect(
      unknownVariables({ STARTER__WORKER__CONCURENCY: '8', STARTER__WORKER__CONCURRENCY: '8', HOME: '/' }),
    ).toEqual([
      'Unknown environment variable STARTER__WORKER__CONCURENCY is ignored; did you mean STARTER__WORKER__CONCURRENCY?',
    ])
    expect(unknownVariables({ STARTER__NOTHING_LIKE_IT: '1' })).toEqual([
      'Unknown environment variable STARTER__NOTHING_LIKE_IT is ignored.',
    ])
  })

  test('closest() suggests only near words', () => {
    expect(closest('prot', settingFlags('start'))).toBe('port')
    expect(closest('concurency', settingFlags('worker'))).toBe('concurrency')
    expect(closest('x', settingFlags('start'))).toBeUndefined()
    expect(closest('bogus', Object.keys(COMMAND_HELP))).toBeUndefined()
  })
})

test('each command accepts the flags it did before the table', () => {
  // The chaos lab spawns `worker --chaos`; serve takes the worker settings for its rescue loop.
  expect(settingFlags('worker')).toContain('chaos')
  expect(settingFlags('serve')).toEqual(
    expect.arrayContaining(['chaos', 'lease-secs', 'max-retries', 'port']),
  )
  expect(settingFlags('migrate')).toEqual([
    'database-url',
    'data-dir',
    'pool-size',
    'log-level',
    'log-format',
  ])
  expect(settingFlags('worker')).not.toContain('port')
  // Handler modules run where tasks run; every process runs the retention pass.
  expect(settingFlags('start')).toContain('handlers')
  expect(settingFlags('worker')).toContain('handlers')
  expect(settingFlags('serve')).not.toContain('handlers')
  for (const command of ['start', 'serve', 'worker'] as Command[])
    expect(settingFlags(command)).toEqual(
      expect.arrayContaining(['retention-completed-secs', 'webhook-allow-hosts', 'max-running-per-user']),
    )
  expect(settingFlags('init-handler')).toEqual([])
  // why only calls the API; admin reset-link opens the database itself.
  expect(settingFlags('why')).toEqual([])
  expect(settingFlags('admin')).toEqual(settingFlags('migrate'))
})
