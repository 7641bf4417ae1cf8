#!/usr/bin/env bun
// tasklab's entry point: parse the command line, load the configuration once, run the command.
import { runChaos } from './chaos/command'
import { runAdmin } from './cli/admin'
import { parseArgs } from './cli/args'
import { COMMAND_HELP, mainHelp } from './cli/help'
import { runRole } from './cli/run'
import { runWhy } from './cli/why'
import { ConfigError, loadConfig } from './config'
import { connect } from './db/connect'
import { migrate } from './db/migrate'
import { resolveDatabase } from './db/resolve'
import { initHandler } from './handlers/modules/init'
import { createLogger } from './log'
import { VERSION } from './version'

const COMMON = ['database-url', 'data-dir', 'log-level', 'log-format', 'pool-size']
const SERVER = [
  'host',
  'port',
  'body-limit-bytes',
  'cors-origin',
  'worker-token',
  'idle-timeout-secs',
  'max-connections-per-address',
  'chaos',
]
const WORKER = [
  'id',
  'concurrency',
  'poll-interval-secs',
  'max-retries',
  'retry-backoff-base-secs',
  'lease-secs',
  'shutdown-grace-secs',
  'timeout-secs',
  'sandbox-dir',
  'webhook-allow-hosts',
  'journal-file',
  'max-running-per-user',
]
// Every process runs the retention pass (src/queue/retention.ts), so each takes its settings.
const RETENTION = ['retention-completed-secs', 'retention-cancelled-secs', 'retention-failed-secs']
const FLAGS: Record<string, string[]> = {
  start: [...COMMON, ...SERVER, ...WORKER, ...RETENTION, 'handlers'],
  serve: [...COMMON, ...SERVER, ...WORKER, ...RETENTION],
  worker: [...COMMON, ...WORKER, 'chaos', ...RETENTION, 'handlers'],
  'init-handler': ['dir'],
  migrate: COMMON,
  chaos: [...COMMON, 'url', 'token', 'tasks', 'workers', 'concurrency', 'lease-secs'],
  why: ['url', 'token'],
  admin: [...COMMON, 'url', 'user'],
  help: [],
}

async function main(argv: string[]): Promise<number> {
  const command = argv.find((a) => !a.startsWith('-')) ?? 'start'
  const known = FLAGS[command]
  if (!known) {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(`${mainHelp()}\n`)
      return 0
    }
    throw new ConfigError(
      `Unknown command "${command}"; the commands are ${Object.keys(FLAGS).join(', ')} (see tasklab --help).`,
    )
  }
  const args = parseArgs(argv, new Set(known))
  if (args.flags.version) {
    process.stdout.write(`tasklab ${VERSION}\n`)
    return 0
  }
  if (args.command === 'help' || args.flags.help) {
    const topic =
      args.command === 'help'
        ? args.positional[0]
        : argv.find((a) => !a.startsWith('-'))
          ? args.command
          : undefined
    process.stdout.write(`${(topic && COMMAND_HELP[topic]) || mainHelp()}\n`)
    return 0
  }
  if (args.command === 'chaos')
    return runChaos(args.positional, args.flags, loadConfig(args.flags), process.env)
  if (args.command === 'init-handler') return initHandler(args.positional, args.flags)
  if (args.command === 'why') return runWhy(args.positional, args.flags)
  if (args.command === 'admin') {
    const config = loadConfig(args.flags)
    return runAdmin(args.positional, args.flags, config, createLogger(config.log))
  }
  if (args.positional.length > 0)
    throw new ConfigError(`Unexpected argument "${args.positional[0]}"; see tasklab ${args.command} --help.`)

  const config = loadConfig(args.flags)
  const log = createLogger(config.log)
  switch (args.command) {
    case 'migrate': {
      const db = await resolveDatabase(config, log)
      const sql = connect(db.url, { max: 1, applicationName: 'tasklab-migrate' })
      const applied = await migrate(sql)
      await sql.end()
      await db.close()
      process.stdout.write(
        applied.length ? `applied ${applied.map((m) => m.name).join(', ')}\n` : 'database is up to date\n',
      )
      return 0
    }
    case 'start':
    case 'serve':
    case 'worker':
      await runRole(args.command, config, log)
      return -1 // keeps running; exits from its signal handler
    default:
      return 0
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code)
  },
  (err) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`tasklab: ${err.message}\n`)
      process.exit(2)
    }
    process.stderr.write(`tasklab: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  },
)
