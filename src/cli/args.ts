// Command-line parsing: `tasklab <command> [--flag value | --flag=value | --switch] [positional]`.
// Small enough that a library would add more than it saves; every mistake is a sentence.
import { ConfigError, type Flags } from '../config'
import { closest } from './suggest'

export interface Parsed {
  command: string
  positional: string[]
  flags: Flags
}

/** Flags that take no value. */
const SWITCHES = new Set(['help', 'version', 'chaos', 'json', 'spawn', 'no-worker', 'quick'])

export function parseArgs(argv: string[], known: ReadonlySet<string>, forCommand = 'start'): Parsed {
  const flags: Flags = {}
  const positional: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '-h') flags.help = true
    else if (arg === '-v') flags.version = true
    else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq)
      if (!known.has(name) && !SWITCHES.has(name)) {
        const near = closest(name, [...known, ...SWITCHES])
        throw new ConfigError(
          `Unknown option --${name}${near ? `; did you mean --${near}?` : '.'} See tasklab ${forCommand} --help.`,
        )
      }
      if (SWITCHES.has(name)) {
        if (eq !== -1) flags[name] = arg.slice(eq + 1)
        else flags[name] = true
        continue
      }
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1)
      if (value === undefined || (eq === -1 && value.startsWith('--')))
        throw new ConfigError(`The option --${name} needs a value.`)
      flags[name] = value
    } else positional.push(arg)
  }
  const command = positional.shift() ?? 'start'
  return { command, positional, flags }
}
