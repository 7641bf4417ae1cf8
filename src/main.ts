#!/usr/bin/env bun
// tasklab's entry point: parse the command line, load the configuration once, run the command.
import { runAdmin } from './cli/admin'
import { parseArgs } from './cli/args'
import { explainDatabaseError } from './cli/db-error'
import { COMMAND_HELP, mainHelp } from './cli/help'
import { runRole } from './cli/run'
import { closest } from './cli/suggest'
import { runWhy } from './cli/why'
import { type Command, type Config, ConfigError, loadConfig, settingFlags, unknownVariables } from './config'
import { connect } from './db/connect'
import { migrate } from './db/migrate'
import { resolveDatabase } from './db/resolve'
import { initHandler } from './handlers/modules/init'
import { runChaos } from './lab/command'
import { createLogger } from './log'
import { VERSION } from './version'

/** Flags of a command that are not settings (the settings' flags come from src/config.ts). */
const COMMAND_FLAGS: Record<Command, string[]> = {
  start: [],
  serve: [],
  worker: [],
  migrate: [],
  chaos: ['url', 'token', 'tasks', 'workers', 'concurrency', 'lease-secs'],
  'init-handler': ['dir'],
  why: ['url', 'token'],
  admin: ['url', 'user'],
}
const FLAGS: Record<string, string[]> = {
  ...Object.fromEntries(
    Object.entries(COMMAND_FLAGS).map(([c, own]) => [c, [...settingFlags(c as Command), ...own]]),
  ),
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
    throw new ConfigError(`Unknown command "${command}"${didYouMean(command, Object.keys(FLAGS))}`)
  }
  const args = parseArgs(argv, new Set(known), command)
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
    if (topic && !COMMAND_HELP[topic])
      throw new ConfigError(`No help for "${topic}"${didYouMean(topic, Object.keys(COMMAND_HELP))}`)
    process.stdout.write(`${(topic && COMMAND_HELP[topic]) || mainHelp()}\n`)
    return 0
  }
  // A misspelt variable would otherwise be silently ignored: warn, naming the closest known one.
  for (const warning of unknownVariables(process.env)) process.stderr.write(`tasklab: warning: ${warning}\n`)
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
  try {
    return await run(args.command, config)
  } catch (err) {
    const source = args.flags['database-url'] !== undefined ? '--database-url' : 'DATABASE_URL'
    throw (config.databaseUrl && explainDatabaseError(err, config.databaseUrl, source)) || err
  }
}

function didYouMean(word: string, candidates: string[]): string {
  const near = closest(word, candidates)
  return `; ${near ? `did you mean "${near}"? ` : ''}the choices are ${candidates.join(', ')} (see tasklab --help).`
}

async function run(command: string, config: Config): Promise<number> {
  const log = createLogger(config.log)
  switch (command) {
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
      await runRole(command, config, log)
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
