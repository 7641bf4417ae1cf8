// The one place that reads process.env. Every setting is one entry of SETTINGS below: its
// environment variable, flag, default, parser and help text. The config parser (loadConfig), the
// --help pages (src/cli/help.ts), the warnings for unknown STARTER__* variables and the README's
// configuration table (src/cli/settings-doc.ts, checked by test/unit/settings.test.ts) are all
// generated from it, so adding a setting is adding one entry.
//
// Flags override environment variables, which override the defaults; the result is validated once
// and frozen. Every error is a sentence naming the setting and what it accepts, so `tasklab` can
// print it and exit 2.
import { homedir } from 'node:os'
import { join } from 'node:path'
import { closest } from './cli/suggest'
import { parseRange } from './handlers/outbound'

export class ConfigError extends Error {
  override name = 'ConfigError'
}

export type LogFormat = 'auto' | 'pretty' | 'json'
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type Env = Record<string, string | undefined>

/** Flags, as given on the command line, keyed by name without dashes (`database-url`). */
export type Flags = Record<string, string | boolean | undefined>

/** The commands that read configuration; a setting's flag is accepted by the ones it lists. */
export type Command = 'start' | 'serve' | 'worker' | 'migrate' | 'chaos' | 'init-handler' | 'why' | 'admin'

/** How a value is read: the parser, the placeholder in --help (`N`) and what it accepts, for the docs. */
export interface Kind<T> {
  parse(raw: string, name: string): T
  arg: string
  accepts: string
}

export interface Setting<T> {
  env: string
  /** Without dashes; `--${flag}` on the command line. */
  flag: string
  kind: Kind<T>
  /** The value when neither flag nor variable is set; a function when it depends on others. */
  fallback: NoInfer<T> | ((ctx: { env: Env; get(env: string): unknown }) => NoInfer<T>)
  /** The default as the docs print it (`4`, `8 MiB`, `none`). */
  shown: string
  /** One line for --help and the docs; Markdown backticks are stripped for the terminal. */
  help: string
  /** Which --help section lists it, and which commands accept the flag. */
  group: Group
}

export type Group = 'common' | 'server' | 'worker' | 'handlers' | 'retention'
export const GROUP_COMMANDS: Record<Group, readonly Command[]> = {
  // admin reset-link opens the database itself; why only calls the API (--url, --token).
  common: ['start', 'serve', 'worker', 'migrate', 'chaos', 'admin'],
  server: ['start', 'serve'],
  // serve takes the worker settings too: its maintenance loop rescues by the lease.
  worker: ['start', 'serve', 'worker'],
  // Handler modules run where tasks run: start's in-process worker and tasklab worker.
  handlers: ['start', 'worker'],
  // Every process runs the maintenance passes (src/maintenance/: retention, the queue's vacuum),
  // so each takes their settings.
  retention: ['start', 'serve', 'worker'],
}

// ---- kinds of values ----

const positiveInt = (max = Number.MAX_SAFE_INTEGER): Kind<number> => ({
  arg: 'N',
  accepts: max === Number.MAX_SAFE_INTEGER ? 'whole number ≥ 1' : `whole number 1–${max}`,
  parse(raw, name) {
    const n = Number(raw)
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max)
      throw new ConfigError(`${name} must be a whole number from 1 to ${max}; got "${raw}".`)
    return n
  },
})

const port: Kind<number> = {
  arg: 'PORT',
  accepts: '0–65535 (0: any free port)',
  parse(raw, name) {
    // 0 asks the OS for a free port (tests use it).
    if (raw.trim() === '0') return 0
    return positiveInt(65535).parse(raw, name)
  },
}

/** Like positiveInt, but 0 is allowed (it switches a feature off). */
const wholeNumber = (max: number): Kind<number> => ({
  arg: 'N',
  accepts: `whole number 0–${max}`,
  parse(raw, name) {
    const n = Number(raw)
    if (!/^\d+$/.test(raw.trim()) || n > max)
      throw new ConfigError(`${name} must be a whole number from 0 to ${max}; got "${raw}".`)
    return n
  },
})

/**
 * Claim-ahead depth, × concurrency (STARTER__WORKER__PREFETCH). 4 is where no-op processing
 * stopped gaining when measured (see the README's performance section); the time bound in
 * src/worker/claimer.ts keeps it from holding long tasks away from other workers.
 */
export const DEFAULT_PREFETCH = 4

/** Seconds (fractions allowed) in, milliseconds out. */
const seconds = (min: number, max: number): Kind<number> => ({
  arg: 'S',
  accepts: `seconds ${min}–${max}`,
  parse(raw, name) {
    const n = Number(raw)
    if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max)
      throw new ConfigError(`${name} must be a number of seconds from ${min} to ${max}; got "${raw}".`)
    return Math.round(n * 1000)
  },
})

const boolean: Kind<boolean> = {
  arg: '',
  accepts: 'true/false',
  parse(raw, name) {
    const v = raw.trim().toLowerCase()
    if (['1', 'true', 'yes', 'on'].includes(v)) return true
    if (['0', 'false', 'no', 'off', ''].includes(v)) return false
    throw new ConfigError(`${name} must be true or false; got "${raw}".`)
  },
}

const oneOf = <T extends string>(...allowed: T[]): Kind<T> => ({
  arg: allowed.join('|'),
  accepts: allowed.join(', '),
  parse(raw, name) {
    if ((allowed as string[]).includes(raw)) return raw as T
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}; got "${raw}".`)
  },
})

const text = (arg: string): Kind<string> => ({
  arg,
  accepts: 'text',
  parse(raw, name) {
    if (raw.trim() === '') throw new ConfigError(`${name} must not be empty.`)
    return raw
  },
})

const postgresUrl: Kind<string> = {
  arg: 'URL',
  accepts: 'postgres:// URL',
  parse(raw, name) {
    try {
      const url = new URL(raw)
      if (url.protocol === 'postgres:' || url.protocol === 'postgresql:') return raw
    } catch {}
    throw new ConfigError(
      `${name} must be a postgres:// URL such as postgres://user@127.0.0.1:5432/tasklab; got "${raw}".`,
    )
  },
}

const secret: Kind<string> = {
  arg: 'T',
  accepts: '16–512 characters, no spaces',
  parse(raw, name) {
    if (raw.length < 16 || raw.length > 512 || /\s/.test(raw))
      throw new ConfigError(`${name} must be 16 to 512 characters without spaces.`)
    return raw
  },
}

const workerId: Kind<string> = {
  arg: 'N',
  accepts: '1–64 of A–Z a–z 0–9 . _ -',
  parse(raw, name) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(raw))
      throw new ConfigError(
        `${name} must be 1-64 letters, digits, dots, dashes or underscores; got "${raw}".`,
      )
    return raw
  },
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

/** Whole seconds, kept as seconds (not milliseconds like `seconds`). */
const retention: Kind<number> = {
  arg: 'S',
  accepts: `whole seconds 0–${MAX_RETENTION_SECS} (0: keep for ever)`,
  parse: retentionSecs,
}

/** "127.0.0.1, localhost, 10.0.0.0/8": host names, addresses and CIDR ranges. */
const hostList: Kind<readonly string[]> = {
  arg: 'LIST',
  accepts: 'comma list of host names, addresses, CIDR ranges',
  parse(raw, name) {
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
  },
}

const setting = <T>(s: Setting<T>): Setting<T> => s
/** A setting with no default: undefined unless set. */
const optional = <T>(s: Omit<Setting<T | undefined>, 'fallback'>): Setting<T | undefined> => ({
  ...s,
  fallback: undefined,
})

export function defaultDataDir(env: Env): string {
  const base = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share')
  return join(base, 'tasklab')
}

// ---- the table: the shape of this object is the shape of Config ----

export const SETTINGS = {
  databaseUrl: optional({
    env: 'DATABASE_URL',
    flag: 'database-url',
    kind: postgresUrl,
    shown: 'none: the embedded database in `<data dir>/pgdata`',
    help: 'PostgreSQL ≥ 14 to use; the database is created if missing',
    group: 'common',
  }),
  dataDir: setting({
    env: 'STARTER__DATA_DIR',
    flag: 'data-dir',
    kind: text('DIR'),
    fallback: ({ env }) => defaultDataDir(env),
    shown: '`$XDG_DATA_HOME/tasklab` or `~/.local/share/tasklab`',
    help: 'data directory (embedded database, sandbox)',
    group: 'common',
  }),
  server: {
    host: setting({
      env: 'STARTER__SERVER__HOST',
      flag: 'host',
      kind: text('HOST'),
      fallback: '127.0.0.1',
      shown: '`127.0.0.1`',
      help: 'bind address',
      group: 'server',
    }),
    port: setting({
      env: 'STARTER__SERVER__PORT',
      flag: 'port',
      kind: port,
      fallback: 3000,
      shown: '`3000`',
      help: 'API and panel port (`0` = any free port)',
      group: 'server',
    }),
    bodyLimitBytes: setting({
      env: 'STARTER__SERVER__BODY_LIMIT_BYTES',
      flag: 'body-limit-bytes',
      kind: positiveInt(),
      // A 1,000-task batch of 1 MiB payloads would be absurd; 8 MiB fits a batch of ordinary tasks.
      fallback: 8 * 1024 * 1024,
      shown: '8 MiB',
      help: 'largest body of `POST /tasks` and `/tasks/batch`; auth routes take 16 KiB, other routes 256 KiB',
      group: 'server',
    }),
    corsOrigin: optional({
      env: 'STARTER__SERVER__CORS_ORIGIN',
      flag: 'cors-origin',
      kind: text('ORIGIN'),
      shown: 'none',
      help: 'allowed CORS origin',
      group: 'server',
    }),
    workerToken: optional({
      env: 'STARTER__WORKER__TOKEN',
      flag: 'worker-token',
      kind: secret,
      shown: 'none',
      help: 'credential remote workers send as Bearer to register types and speak the HTTP worker protocol (docs/http-workers.md)',
      group: 'server',
    }),
    /** Seconds a quiet connection stays open (the event stream is exempt). */
    idleTimeoutSecs: setting({
      env: 'STARTER__SERVER__IDLE_TIMEOUT_SECS',
      flag: 'idle-timeout-secs',
      kind: positiveInt(255),
      // Bun's default is 10 s; 0 (never) for every connection let idle sockets pile up (issue 12).
      fallback: 30,
      shown: '`30`',
      help: 'close a quiet connection after this many seconds; not event streams',
      group: 'server',
    }),
    /** Requests in flight per client address before 429 (open event streams count). */
    maxConnectionsPerAddress: setting({
      env: 'STARTER__SERVER__MAX_CONNECTIONS_PER_ADDRESS',
      flag: 'max-connections-per-address',
      kind: positiveInt(100_000),
      fallback: 256,
      shown: '`256`',
      help: 'requests in flight per client address (event streams count), then 429',
      group: 'server',
    }),
  },
  worker: {
    id: optional({
      env: 'STARTER__WORKER__ID',
      flag: 'id',
      kind: workerId,
      shown: '`0`',
      help: "this worker's name; its full id adds host and pid",
      group: 'worker',
    }),
    concurrency: setting({
      env: 'STARTER__WORKER__CONCURRENCY',
      flag: 'concurrency',
      kind: positiveInt(1000),
      fallback: 4,
      shown: '`4`',
      help: 'tasks one worker runs at once',
      group: 'worker',
    }),
    /** Tasks claimed ahead of free slots, as a multiple of concurrency; 0 claims only for free slots. */
    prefetch: setting({
      env: 'STARTER__WORKER__PREFETCH',
      flag: 'prefetch',
      kind: wholeNumber(16),
      fallback: DEFAULT_PREFETCH,
      shown: `\`${DEFAULT_PREFETCH}\``,
      help: 'tasks a worker claims ahead, × concurrency; they show as running before they start (`0`: only for free slots)',
      group: 'worker',
    }),
    pollIntervalMs: setting({
      env: 'STARTER__WORKER__POLL_INTERVAL_SECS',
      flag: 'poll-interval-secs',
      kind: seconds(0.05, 3600),
      fallback: 5000,
      shown: '`5`',
      help: 'fallback poll; new work wakes workers at once through LISTEN/NOTIFY',
      group: 'worker',
    }),
    maxRetries: setting({
      env: 'STARTER__WORKER__MAX_RETRIES',
      flag: 'max-retries',
      kind: positiveInt(1000),
      fallback: 3,
      shown: '`3`',
      help: 'default max attempts of a task',
      group: 'worker',
    }),
    retryBackoffBaseMs: setting({
      env: 'STARTER__WORKER__RETRY_BACKOFF_BASE_SECS',
      flag: 'retry-backoff-base-secs',
      kind: seconds(0, 86400),
      fallback: 2000,
      shown: '`2`',
      help: 'base of the default exponential backoff',
      group: 'worker',
    }),
    leaseMs: setting({
      env: 'STARTER__WORKER__LEASE_SECS',
      flag: 'lease-secs',
      kind: seconds(1, 86400),
      fallback: 30000,
      shown: '`30`',
      help: 'a running task whose worker stops heartbeating is rescued after this',
      group: 'worker',
    }),
    shutdownGraceMs: setting({
      env: 'STARTER__WORKER__SHUTDOWN_GRACE_SECS',
      flag: 'shutdown-grace-secs',
      kind: seconds(0, 3600),
      fallback: 10000,
      shown: '`10`',
      help: 'how long SIGTERM waits for running tasks before handing them back',
      group: 'worker',
    }),
    defaultTimeoutMs: setting({
      env: 'STARTER__WORKER__TIMEOUT_SECS',
      flag: 'timeout-secs',
      kind: seconds(0.01, 86400),
      fallback: 300000,
      shown: '`300`',
      help: "default per-attempt timeout (a task's `timeout_ms`, then its type's, win)",
      group: 'worker',
    }),
    /** One JSON line per execution; torture tests count duplicate executions from it. */
    journalFile: optional({
      env: 'STARTER__WORKER__JOURNAL_FILE',
      flag: 'journal-file',
      kind: text('FILE'),
      shown: 'none',
      help: 'append one JSON line per execution (`task_id`, `attempt`, `worker`, `at`) for duplicate counts',
      group: 'worker',
    }),
    /** Running tasks per user (created_by) across all workers; undefined: no cap. */
    maxRunningPerUser: optional({
      env: 'STARTER__WORKER__MAX_RUNNING_PER_USER',
      flag: 'max-running-per-user',
      kind: positiveInt(1_000_000),
      shown: 'none: no cap',
      help: 'most tasks of one user (`created_by`) running at once over all workers, enforced in the claim',
      group: 'worker',
    }),
  },
  database: {
    poolSize: setting({
      env: 'STARTER__DATABASE__POOL_SIZE',
      flag: 'pool-size',
      kind: positiveInt(200),
      fallback: 10,
      shown: '`10`',
      help: 'database connections per process',
      group: 'common',
    }),
  },
  sandboxDir: setting({
    env: 'STARTER__HANDLERS__SANDBOX_DIR',
    flag: 'sandbox-dir',
    kind: text('DIR'),
    fallback: ({ get }) => join(get('STARTER__DATA_DIR') as string, 'sandbox'),
    shown: '`<data dir>/sandbox`',
    help: 'the only folder `file_cleanup` may delete in',
    group: 'worker',
  }),
  /** Private hosts/ranges the webhook handler may call anyway (local testing); empty by default. */
  webhook: {
    allowHosts: setting({
      env: 'STARTER__WEBHOOK__ALLOW_HOSTS',
      flag: 'webhook-allow-hosts',
      kind: hostList,
      fallback: [],
      shown: 'none: public addresses only',
      help: 'private hosts/ranges `webhook` may call anyway, e.g. `127.0.0.1,localhost,10.0.0.0/8`',
      group: 'worker',
    }),
  },
  /** A handler module file or a folder of them (--handlers); loaded by start and worker. */
  handlersPath: optional({
    env: 'STARTER__HANDLERS__PATH',
    flag: 'handlers',
    kind: text('PATH'),
    shown: 'none',
    help: 'your handler module (.ts/.js) or a folder of them; `start` reloads a changed module (docs/handlers.md)',
    group: 'handlers',
  }),
  chaos: {
    enabled: setting({
      env: 'STARTER__CHAOS__ENABLED',
      flag: 'chaos',
      kind: boolean,
      fallback: false,
      shown: '`false`',
      help: 'enable fault injection (admin only); workers too, to obey the rules',
      group: 'worker',
    }),
  },
  /** How long finished tasks are kept, in seconds; 0 keeps them for ever (src/queue/retention.ts). */
  retention: {
    completedSecs: setting({
      env: 'STARTER__RETENTION__COMPLETED_SECS',
      flag: 'retention-completed-secs',
      kind: retention,
      fallback: 7 * DAY_SECS,
      shown: '`604800` (7 d)',
      help: 'delete completed tasks this long after they finish; `0` keeps them',
      group: 'retention',
    }),
    cancelledSecs: setting({
      env: 'STARTER__RETENTION__CANCELLED_SECS',
      flag: 'retention-cancelled-secs',
      kind: retention,
      fallback: 7 * DAY_SECS,
      shown: '`604800` (7 d)',
      help: 'delete cancelled tasks this long after they end; `0` keeps them',
      group: 'retention',
    }),
    // Failures are kept longer: they are what someone comes back to investigate.
    failedSecs: setting({
      env: 'STARTER__RETENTION__FAILED_SECS',
      flag: 'retention-failed-secs',
      kind: retention,
      fallback: 30 * DAY_SECS,
      shown: '`2592000` (30 d)',
      help: 'delete failed tasks (the dead letter queue) this long after they fail; `0` keeps them',
      group: 'retention',
    }),
  },
  maintenance: {
    // auto: vacuum the queue's hot tables when the server's autovacuum is off for them
    // (src/maintenance/vacuum.ts); with autovacuum on it does nothing either way.
    vacuum: setting({
      env: 'STARTER__MAINTENANCE__VACUUM',
      flag: 'maintenance-vacuum',
      kind: oneOf<'auto' | 'off'>('auto', 'off'),
      fallback: 'auto',
      shown: '`auto`',
      help: '`auto`: when autovacuum is off for the queue tables, tasklab vacuums them once dead rows pass a threshold; `off`: never',
      group: 'retention',
    }),
  },
  log: {
    level: setting({
      env: 'STARTER__LOG__LEVEL',
      flag: 'log-level',
      kind: oneOf<LogLevel>('debug', 'info', 'warn', 'error'),
      fallback: 'info',
      shown: '`info`',
      help: 'least severe log line printed',
      group: 'common',
    }),
    format: setting({
      env: 'STARTER__LOG__FORMAT',
      flag: 'log-format',
      kind: oneOf<LogFormat>('auto', 'pretty', 'json'),
      fallback: 'auto',
      shown: '`auto`',
      help: '`pretty` on a terminal, `json` lines otherwise',
      group: 'common',
    }),
  },
}

type ConfigOf<T> = { [K in keyof T]: T[K] extends Setting<infer V> ? V : ConfigOf<T[K]> }
/** The typed configuration: SETTINGS with each entry replaced by its value. */
export type Config = ConfigOf<typeof SETTINGS>

function isSetting(v: unknown): v is Setting<unknown> {
  return typeof v === 'object' && v !== null && 'env' in v && 'kind' in v
}

/** Every setting, in table order. */
export function allSettings(tree: object = SETTINGS): Setting<unknown>[] {
  return Object.values(tree).flatMap((v) => (isSetting(v) ? [v] : allSettings(v as object)))
}

/** The flags a command accepts from the settings table. */
export function settingFlags(command: Command): string[] {
  return allSettings()
    .filter((s) => GROUP_COMMANDS[s.group].includes(command))
    .map((s) => s.flag)
}

export function loadConfig(flags: Flags = {}, env: Env = process.env): Config {
  const byEnv = new Map(allSettings().map((s) => [s.env, s]))
  const resolved = new Map<string, unknown>()
  const get = (name: string): unknown => {
    if (resolved.has(name)) return resolved.get(name)
    const s = byEnv.get(name)
    if (!s) throw new Error(`no setting ${name}`)
    const value = read(s)
    resolved.set(name, value)
    return value
  }
  const read = (s: Setting<unknown>): unknown => {
    const flag = flags[s.flag]
    if (flag !== undefined) {
      // A bare boolean flag (`--chaos`) arrives as true.
      const raw = flag === true ? 'true' : flag === false ? 'false' : flag
      return s.kind.parse(raw, `The flag --${s.flag}`)
    }
    const fromEnv = env[s.env]
    if (fromEnv !== undefined) return s.kind.parse(fromEnv, `The environment variable ${s.env}`)
    return typeof s.fallback === 'function' ? s.fallback({ env, get }) : s.fallback
  }
  const build = (tree: object): object =>
    Object.fromEntries(
      Object.entries(tree).map(([k, v]) => [k, isSetting(v) ? get(v.env) : build(v as object)]),
    )
  return deepFreeze(build(SETTINGS) as Config)
}

/**
 * One warning per STARTER__* variable that no setting reads (a typo would otherwise be silently
 * ignored), naming the closest known variable when there is one.
 */
export function unknownVariables(env: Env): string[] {
  const known = allSettings().map((s) => s.env)
  return Object.keys(env)
    .filter((k) => k.startsWith('STARTER__') && !known.includes(k))
    .sort()
    .map((k) => {
      const near = closest(k, known)
      return `Unknown environment variable ${k} is ignored${near ? `; did you mean ${near}?` : '.'}`
    })
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
