// The one place that reads process.env. Flags override environment variables, which override the
// defaults below; the result is validated once and frozen. Every error is a sentence naming the
// setting and what it accepts, so `tasklab` can print it and exit 2.
import { homedir } from 'node:os'
import { join } from 'node:path'
import { parseRange } from './handlers/outbound'

export class ConfigError extends Error {
  override name = 'ConfigError'
}

export type LogFormat = 'auto' | 'pretty' | 'json'
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export interface Config {
  databaseUrl: string | undefined
  dataDir: string
  server: {
    host: string
    port: number
    bodyLimitBytes: number
    corsOrigin: string | undefined
    workerToken: string | undefined
    /** Seconds a quiet connection stays open (the event stream is exempt). */
    idleTimeoutSecs: number
    /** Requests in flight per client address before 429 (open event streams count). */
    maxConnectionsPerAddress: number
  }
  worker: {
    id: string | undefined
    concurrency: number
    /** Tasks claimed ahead of free slots, as a multiple of concurrency; 0 claims only for free slots. */
    prefetch: number
    pollIntervalMs: number
    maxRetries: number
    retryBackoffBaseMs: number
    leaseMs: number
    shutdownGraceMs: number
    defaultTimeoutMs: number
    /** One JSON line per execution; torture tests count duplicate executions from it. */
    journalFile: string | undefined
    /** Running tasks per user (created_by) across all workers; undefined: no cap. */
    maxRunningPerUser: number | undefined
  }
  database: { poolSize: number }
  sandboxDir: string
  /** Private hosts/ranges the webhook handler may call anyway (local testing); empty by default. */
  webhook: { allowHosts: readonly string[] }
  /** A handler module file or a folder of them (--handlers); loaded by start and worker. */
  handlersPath: string | undefined
  chaos: { enabled: boolean }
  /** How long finished tasks are kept, in seconds; 0 keeps them for ever (src/queue/retention.ts). */
  retention: { completedSecs: number; cancelledSecs: number; failedSecs: number }
  log: { level: LogLevel; format: LogFormat }
}

type Source = 'flag' | 'env'
type Parser<T> = (raw: string, name: string) => T

interface Setting<T> {
  env: string
  flag: string
  parse: Parser<T>
  fallback: T
}

/** Flags, as given on the command line, keyed by name without dashes (`database-url`). */
export type Flags = Record<string, string | boolean | undefined>

const describe = (source: Source, name: string) =>
  source === 'flag' ? `The flag --${name}` : `The environment variable ${name}`

const positiveInt =
  (max = Number.MAX_SAFE_INTEGER): Parser<number> =>
  (raw, name) => {
    const n = Number(raw)
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max)
      throw new ConfigError(`${name} must be a whole number from 1 to ${max}; got "${raw}".`)
    return n
  }

/** Like positiveInt, but 0 is allowed (it switches a feature off). */
const wholeNumber =
  (max: number): Parser<number> =>
  (raw, name) => {
    const n = Number(raw)
    if (!/^\d+$/.test(raw.trim()) || n > max)
      throw new ConfigError(`${name} must be a whole number from 0 to ${max}; got "${raw}".`)
    return n
  }

/**
 * Claim-ahead depth, × concurrency (STARTER__WORKER__PREFETCH). 4 is where no-op processing
 * stopped gaining when measured (see the README's performance section); the time bound in
 * src/worker/claimer.ts keeps it from holding long tasks away from other workers.
 */
export const DEFAULT_PREFETCH = 4

/** Seconds (fractions allowed) in, milliseconds out. */
const seconds =
  (min: number, max: number): Parser<number> =>
  (raw, name) => {
    const n = Number(raw)
    if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max)
      throw new ConfigError(`${name} must be a number of seconds from ${min} to ${max}; got "${raw}".`)
    return Math.round(n * 1000)
  }

const boolean: Parser<boolean> = (raw, name) => {
  const v = raw.trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(v)) return true
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false
  throw new ConfigError(`${name} must be true or false; got "${raw}".`)
}

const oneOf =
  <T extends string>(...allowed: T[]): Parser<T> =>
  (raw, name) => {
    if ((allowed as string[]).includes(raw)) return raw as T
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}; got "${raw}".`)
  }

const text: Parser<string> = (raw, name) => {
  if (raw.trim() === '') throw new ConfigError(`${name} must not be empty.`)
  return raw
}

const databaseUrl: Parser<string> = (raw, name) => {
  try {
    const url = new URL(raw)
    if (url.protocol === 'postgres:' || url.protocol === 'postgresql:') return raw
  } catch {}
  throw new ConfigError(
    `${name} must be a postgres:// URL such as postgres://user@127.0.0.1:5432/tasklab; got "${raw}".`,
  )
}

export function defaultDataDir(env: Record<string, string | undefined>): string {
  const base = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share')
  return join(base, 'tasklab')
}

export function loadConfig(flags: Flags = {}, env: Record<string, string | undefined> = process.env): Config {
  const read = <T>(s: Setting<T>): T => {
    const flag = flags[s.flag]
    if (flag !== undefined) {
      // A bare boolean flag (`--chaos`) arrives as true.
      const raw = flag === true ? 'true' : flag === false ? 'false' : flag
      return s.parse(raw, describe('flag', s.flag))
    }
    const fromEnv = env[s.env]
    if (fromEnv !== undefined) return s.parse(fromEnv, describe('env', s.env))
    return s.fallback
  }
  const optional = <T>(s: Omit<Setting<T>, 'fallback'>): T | undefined =>
    read<T | undefined>({ ...s, fallback: undefined })

  const dataDir = read({
    env: 'STARTER__DATA_DIR',
    flag: 'data-dir',
    parse: text,
    fallback: defaultDataDir(env),
  })

  const config: Config = {
    databaseUrl: optional({ env: 'DATABASE_URL', flag: 'database-url', parse: databaseUrl }),
    dataDir,
    server: {
      host: read({ env: 'STARTER__SERVER__HOST', flag: 'host', parse: text, fallback: '127.0.0.1' }),
      port: read({ env: 'STARTER__SERVER__PORT', flag: 'port', parse: portNumber, fallback: 3000 }),
      bodyLimitBytes: read({
        env: 'STARTER__SERVER__BODY_LIMIT_BYTES',
        flag: 'body-limit-bytes',
        parse: positiveInt(),
        // A 1,000-task batch of 1 MiB payloads would be absurd; 8 MiB fits a batch of ordinary tasks.
        fallback: 8 * 1024 * 1024,
      }),
      corsOrigin: optional({ env: 'STARTER__SERVER__CORS_ORIGIN', flag: 'cors-origin', parse: text }),
      // The credential with which remote workers may register task types (POST /tasks/types).
      workerToken: optional({ env: 'STARTER__WORKER__TOKEN', flag: 'worker-token', parse: secret }),
      // Bun's default is 10 s; 0 (never) for every connection let idle sockets pile up (issue 12).
      idleTimeoutSecs: read({
        env: 'STARTER__SERVER__IDLE_TIMEOUT_SECS',
        flag: 'idle-timeout-secs',
        parse: positiveInt(255),
        fallback: 30,
      }),
      maxConnectionsPerAddress: read({
        env: 'STARTER__SERVER__MAX_CONNECTIONS_PER_ADDRESS',
        flag: 'max-connections-per-address',
        parse: positiveInt(100_000),
        fallback: 256,
      }),
    },
    worker: {
      id: optional({ env: 'STARTER__WORKER__ID', flag: 'id', parse: workerId }),
      concurrency: read({
        env: 'STARTER__WORKER__CONCURRENCY',
        flag: 'concurrency',
        parse: positiveInt(1000),
        fallback: 4,
      }),
      prefetch: read({
        env: 'STARTER__WORKER__PREFETCH',
        flag: 'prefetch',
        parse: wholeNumber(16),
        fallback: DEFAULT_PREFETCH,
      }),
      pollIntervalMs: read({
        env: 'STARTER__WORKER__POLL_INTERVAL_SECS',
        flag: 'poll-interval-secs',
        parse: seconds(0.05, 3600),
        fallback: 5000,
      }),
      maxRetries: read({
        env: 'STARTER__WORKER__MAX_RETRIES',
        flag: 'max-retries',
        parse: positiveInt(1000),
        fallback: 3,
      }),
      retryBackoffBaseMs: read({
        env: 'STARTER__WORKER__RETRY_BACKOFF_BASE_SECS',
        flag: 'retry-backoff-base-secs',
        parse: seconds(0, 86400),
        fallback: 2000,
      }),
      leaseMs: read({
        env: 'STARTER__WORKER__LEASE_SECS',
        flag: 'lease-secs',
        parse: seconds(1, 86400),
        fallback: 30000,
      }),
      shutdownGraceMs: read({
        env: 'STARTER__WORKER__SHUTDOWN_GRACE_SECS',
        flag: 'shutdown-grace-secs',
        parse: seconds(0, 3600),
        fallback: 10000,
      }),
      defaultTimeoutMs: read({
        env: 'STARTER__WORKER__TIMEOUT_SECS',
        flag: 'timeout-secs',
        parse: seconds(0.01, 86400),
        fallback: 300000,
      }),
      journalFile: optional({ env: 'STARTER__WORKER__JOURNAL_FILE', flag: 'journal-file', parse: text }),
      maxRunningPerUser: optional({
        env: 'STARTER__WORKER__MAX_RUNNING_PER_USER',
        flag: 'max-running-per-user',
        parse: positiveInt(1_000_000),
      }),
    },
    database: {
      poolSize: read({
        env: 'STARTER__DATABASE__POOL_SIZE',
        flag: 'pool-size',
        parse: positiveInt(200),
        fallback: 10,
      }),
    },
    sandboxDir: read({
      env: 'STARTER__HANDLERS__SANDBOX_DIR',
      flag: 'sandbox-dir',
      parse: text,
      fallback: join(dataDir, 'sandbox'),
    }),
    webhook: {
      allowHosts: read({
        env: 'STARTER__WEBHOOK__ALLOW_HOSTS',
        flag: 'webhook-allow-hosts',
        parse: hostList,
        fallback: [] as string[],
      }),
    },
    handlersPath: optional({ env: 'STARTER__HANDLERS__PATH', flag: 'handlers', parse: text }),
    chaos: {
      enabled: read({ env: 'STARTER__CHAOS__ENABLED', flag: 'chaos', parse: boolean, fallback: false }),
    },
    retention: {
      completedSecs: read({
        env: 'STARTER__RETENTION__COMPLETED_SECS',
        flag: 'retention-completed-secs',
        parse: retentionSecs,
        fallback: 7 * DAY_SECS,
      }),
      cancelledSecs: read({
        env: 'STARTER__RETENTION__CANCELLED_SECS',
        flag: 'retention-cancelled-secs',
        parse: retentionSecs,
        fallback: 7 * DAY_SECS,
      }),
      // Failures are kept longer: they are what someone comes back to investigate.
      failedSecs: read({
        env: 'STARTER__RETENTION__FAILED_SECS',
        flag: 'retention-failed-secs',
        parse: retentionSecs,
        fallback: 30 * DAY_SECS,
      }),
    },
    log: {
      level: read({
        env: 'STARTER__LOG__LEVEL',
        flag: 'log-level',
        parse: oneOf<LogLevel>('debug', 'info', 'warn', 'error'),
        fallback: 'info',
      }),
      format: read({
        env: 'STARTER__LOG__FORMAT',
        flag: 'log-format',
        parse: oneOf<LogFormat>('auto', 'pretty', 'json'),
        fallback: 'auto',
      }),
    },
  }
  return deepFreeze(config)
}

const DAY_SECS = 86_400
/** The longest retention accepted (10 years); the database's CHECK on per-type overrides agrees. */
export const MAX_RETENTION_SECS = 3650 * DAY_SECS

/** Whole seconds from 0 (keep for ever) to 10 years; the same rule for per-type overrides. */
export function retentionSecs(raw: string, name: string): number {
  const n = Number(raw)
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n > MAX_RETENTION_SECS)
    throw new ConfigError(
      `${name} must be a whole number of seconds from 0 (keep for ever) to ${MAX_RETENTION_SECS} (10 years); got "${raw}".`,
    )
  return n
}

function portNumber(raw: string, name: string): number {
  // 0 asks the OS for a free port (tests use it).
  if (raw.trim() === '0') return 0
  return positiveInt(65535)(raw, name)
}

/** "127.0.0.1, localhost, 10.0.0.0/8": host names, addresses and CIDR ranges. */
function hostList(raw: string, name: string): string[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  for (const item of items) {
    if (/^[A-Za-z0-9.-]{1,253}$/.test(item) && !/^[\d./]+$/.test(item)) continue
    try {
      parseRange(item)
    } catch (err) {
      throw new ConfigError(
        `${name} must be a comma list of host names, addresses or CIDR ranges such as 127.0.0.1,localhost,10.0.0.0/8; ${(err as Error).message}.`,
      )
    }
  }
  return items
}

function secret(raw: string, name: string): string {
  if (raw.length < 16 || raw.length > 512 || /\s/.test(raw))
    throw new ConfigError(`${name} must be 16 to 512 characters without spaces.`)
  return raw
}

function workerId(raw: string, name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(raw))
    throw new ConfigError(`${name} must be 1-64 letters, digits, dots, dashes or underscores; got "${raw}".`)
  return raw
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}

/** Every environment variable tasklab reads, for --help and the README. */
export const ENVIRONMENT = [
  ['DATABASE_URL', 'PostgreSQL URL; without it tasklab uses the embedded database'],
  ['STARTER__DATA_DIR', 'data directory (embedded database, sandbox)'],
  ['STARTER__SERVER__HOST', 'address the API binds (127.0.0.1)'],
  ['STARTER__SERVER__PORT', 'API and panel port (3000)'],
  ['STARTER__SERVER__BODY_LIMIT_BYTES', 'largest body of POST /tasks and /tasks/batch (8 MiB); others less'],
  ['STARTER__SERVER__CORS_ORIGIN', 'allowed CORS origin (none)'],
  ['STARTER__SERVER__IDLE_TIMEOUT_SECS', 'close a quiet connection after this long; not event streams (30)'],
  ['STARTER__SERVER__MAX_CONNECTIONS_PER_ADDRESS', 'requests in flight per client address, then 429 (256)'],
  ['STARTER__WORKER__TOKEN', 'credential remote workers send as Bearer to register task types (none)'],
  ['STARTER__WORKER__ID', 'worker id suffix, as --id'],
  ['STARTER__WORKER__CONCURRENCY', 'tasks run at once per worker (4)'],
  [
    'STARTER__WORKER__PREFETCH',
    `tasks a worker claims ahead, × concurrency; they show as running before they start (${DEFAULT_PREFETCH}; 0 = only for free slots)`,
  ],
  ['STARTER__WORKER__POLL_INTERVAL_SECS', 'fallback poll; LISTEN/NOTIFY wakes workers at once (5)'],
  ['STARTER__WORKER__MAX_RETRIES', 'default max attempts per task (3)'],
  ['STARTER__WORKER__RETRY_BACKOFF_BASE_SECS', 'default exponential backoff base (2)'],
  [
    'STARTER__WORKER__LEASE_SECS',
    'a running task is rescued this long after its worker stops heartbeating (30)',
  ],
  ['STARTER__WORKER__SHUTDOWN_GRACE_SECS', 'how long SIGTERM waits for running tasks (10)'],
  ['STARTER__WORKER__TIMEOUT_SECS', 'default per-attempt timeout (300)'],
  ['STARTER__WORKER__JOURNAL_FILE', 'append one JSON line per execution (none)'],
  ['STARTER__WORKER__MAX_RUNNING_PER_USER', "most running tasks of one user's, across all workers (no cap)"],
  ['STARTER__DATABASE__POOL_SIZE', 'connections per process (10)'],
  ['STARTER__HANDLERS__SANDBOX_DIR', 'the only folder file_cleanup may delete in (<data dir>/sandbox)'],
  [
    'STARTER__RETENTION__COMPLETED_SECS',
    'delete completed tasks this long after they finish; 0 keeps them (7 d)',
  ],
  [
    'STARTER__RETENTION__CANCELLED_SECS',
    'delete cancelled tasks this long after they end; 0 keeps them (7 d)',
  ],
  ['STARTER__RETENTION__FAILED_SECS', 'delete failed tasks this long after they fail; 0 keeps them (30 d)'],
  [
    'STARTER__WEBHOOK__ALLOW_HOSTS',
    'private hosts/ranges webhook may call, e.g. 127.0.0.1,localhost,10.0.0.0/8 (none: public only)',
  ],
  ['STARTER__HANDLERS__PATH', 'a handler module (.ts/.js) or a folder of them, for start and worker (none)'],
  ['STARTER__CHAOS__ENABLED', 'enable fault injection routes (false)'],
  ['STARTER__LOG__LEVEL', 'debug, info, warn or error (info)'],
  ['STARTER__LOG__FORMAT', 'auto (pretty on a terminal, JSON otherwise), pretty or json'],
] as const
