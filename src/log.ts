// One line per event: readable colours on a terminal, JSON lines otherwise (for log shippers and
// for tests that parse a child process's output).
import type { LogFormat, LogLevel } from './config'

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }
const COLOUR: Record<LogLevel, string> = {
  debug: '\x1b[90m',
  info: '\x1b[36m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
}

export type Fields = Record<string, unknown>

export interface Logger {
  debug(msg: string, fields?: Fields): void
  info(msg: string, fields?: Fields): void
  warn(msg: string, fields?: Fields): void
  error(msg: string, fields?: Fields): void
  child(fields: Fields): Logger
  /** Whether a line of this level would be written; callers skip building fields that would be dropped. */
  enabled?(level: LogLevel): boolean
}

export function createLogger(
  opts: { level: LogLevel; format: LogFormat },
  base: Fields = {},
  out: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Logger {
  const json = opts.format === 'json' || (opts.format === 'auto' && !process.stderr.isTTY)
  const min = ORDER[opts.level]
  const write = (level: LogLevel, msg: string, fields: Fields | undefined, base: Fields) => {
    if (ORDER[level] < min) return
    const all = { ...base, ...fields }
    if (json) {
      out(JSON.stringify({ time: new Date().toISOString(), level, msg, ...all }, errorReplacer))
      return
    }
    const time = new Date().toISOString().slice(11, 23)
    const rest = Object.entries(all)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v, errorReplacer)}`)
      .join(' ')
    out(
      `\x1b[90m${time}\x1b[0m ${COLOUR[level]}${level.padEnd(5)}\x1b[0m ${msg}${rest ? ` \x1b[90m${rest}\x1b[0m` : ''}`,
    )
  }
  // A child shares the settings read above: the worker makes one per attempt, and reading the
  // terminal's state plus five new closures each time was ~2 % of a no-op attempt's CPU.
  const make = (base: Fields): Logger => ({
    debug: (m, f) => write('debug', m, f, base),
    info: (m, f) => write('info', m, f, base),
    warn: (m, f) => write('warn', m, f, base),
    error: (m, f) => write('error', m, f, base),
    child: (fields) => make({ ...base, ...fields }),
    enabled: (level) => ORDER[level] >= min,
  })
  return make(base)
}

function errorReplacer(_key: string, value: unknown) {
  return value instanceof Error ? { name: value.name, message: value.message } : value
}

/** For tests and library use: drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
  enabled: () => false,
}
