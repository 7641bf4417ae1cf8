// The settings issue 12 adds: parsed once with sentences naming them, and shown in --help.
import { expect, test } from 'bun:test'
import { COMMAND_HELP, mainHelp } from '../../src/cli/help'
import { ConfigError, loadConfig } from '../../src/config'

test('STARTER__WEBHOOK__ALLOW_HOSTS takes names, addresses and CIDR ranges; nothing by default', () => {
  expect(loadConfig({}, {}).webhook.allowHosts).toEqual([])
  expect(
    loadConfig({}, { STARTER__WEBHOOK__ALLOW_HOSTS: '127.0.0.1, localhost,10.0.0.0/8,::1' }).webhook
      .allowHosts,
  ).toEqual(['127.0.0.1', 'localhost', '10.0.0.0/8', '::1'])
  expect(loadConfig({ 'webhook-allow-hosts': 'dev.local' }, {}).webhook.allowHosts).toEqual(['dev.local'])
  for (const bad of ['10.0.0.0/33', '300.1.2.3', 'a b'])
    expect(() => loadConfig({}, { STARTER__WEBHOOK__ALLOW_HOSTS: bad })).toThrow(ConfigError)
  expect(() => loadConfig({}, { STARTER__WEBHOOK__ALLOW_HOSTS: '10.0.0.0/33' })).toThrow(
    'STARTER__WEBHOOK__ALLOW_HOSTS',
  )
})

test('idle timeout and connections per address have defaults and bounds', () => {
  expect(loadConfig({}, {}).server).toMatchObject({ idleTimeoutSecs: 30, maxConnectionsPerAddress: 256 })
  expect(() => loadConfig({}, { STARTER__SERVER__IDLE_TIMEOUT_SECS: '0' })).toThrow(
    'STARTER__SERVER__IDLE_TIMEOUT_SECS',
  )
  expect(() => loadConfig({}, { STARTER__SERVER__IDLE_TIMEOUT_SECS: '300' })).toThrow('from 1 to 255')
})

test('--help shows the webhook allow list with an example, and the new server settings', () => {
  for (const command of ['start', 'worker']) {
    expect(COMMAND_HELP[command]).toContain('--webhook-allow-hosts')
    expect(COMMAND_HELP[command]).toContain('127.0.0.1,localhost,10.0.0.0/8')
  }
  expect(COMMAND_HELP.serve).toContain('--idle-timeout-secs')
  expect(mainHelp()).toContain('STARTER__WEBHOOK__ALLOW_HOSTS')
  expect(mainHelp()).toContain('STARTER__SERVER__MAX_CONNECTIONS_PER_ADDRESS')
})
