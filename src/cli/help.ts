import { allSettings, type Group, type Setting } from '../config'
import { VERSION } from '../version'

/** Help text and defaults are Markdown in the settings table; the terminal gets them plain. */
const plain = (markdown: string) => markdown.replaceAll('`', '')

/** One setting as two lines: the flag and what it does, then its variable and default. */
function optionLines(s: Setting<unknown>): string {
  const flag = `  --${s.flag}${s.kind.arg ? ` ${s.kind.arg}` : ''}`
  const pad = ' '.repeat(30)
  const head = flag.length < 30 ? flag.padEnd(30) + plain(s.help) : `${flag}\n${pad}${plain(s.help)}`
  return `${head}\n${pad}(${s.env}; default ${plain(s.shown)})`
}

/** The options of one --help section, generated from the settings table in src/config.ts. */
export function options(group: Group): string {
  return allSettings()
    .filter((s) => s.group === group)
    .map(optionLines)
    .join('\n')
}

const COMMON = `Common options:
${options('common')}
  -h, --help                  this help;  -v, --version  the version`

const DATABASE = `Database:
  With --database-url or DATABASE_URL, any PostgreSQL 14 or newer (created if missing, migrated
  at start). Without one, an embedded PostgreSQL 18 server, run by tasklab as its child process and
  kept in <data dir>/pgdata, where the data dir is --data-dir, else $XDG_DATA_HOME/tasklab, else
  ~/.local/share/tasklab; the banner prints a URL psql accepts. One tasklab owns it:
  a second start on the same data dir is refused, and \`tasklab worker\` with the same data dir joins it.`

/** Exit codes shared by the commands that run until stopped. */
const LONG_RUNNING_EXITS = `  0    stopped by SIGTERM or SIGINT after draining (running tasks finished or handed back)
  1    runtime failure: database unreachable, port in use, the embedded data dir in use by another tasklab
  2    bad option, environment variable or command line (the message names it)
  130  a second SIGTERM/SIGINT while draining: exited at once`

/** A command's page: its own text, then the common options, the database note and its exit codes. */
function page(body: string, exits: string, database = true): string {
  return `${body}\n\n${COMMON}${database ? `\n\n${DATABASE}` : ''}\n\nExit codes:\n${exits}`
}

const WORKER_OPTS = options('worker')
const SERVER_OPTS = options('server')
const HANDLERS_OPTS = options('handlers')
/** Every process runs the maintenance passes (retention, vacuum), so start, serve and worker all take these. */
const RETENTION_OPTS = options('retention')

export const COMMAND_HELP: Record<string, string> = {
  start: page(
    `tasklab start — API, control panel and an in-process worker, in one process (the default command).

Usage: tasklab [start] [options]
${SERVER_OPTS}
${WORKER_OPTS}
${HANDLERS_OPTS}
${RETENTION_OPTS}

Examples:
  tasklab                                   # embedded database, http://127.0.0.1:3000
  tasklab start --port 8080 --data-dir ./tasklab-data
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/tasklab tasklab start --port 8080 --concurrency 8`,
    LONG_RUNNING_EXITS,
  ),
  serve: page(
    `tasklab serve — API and control panel only; run workers separately (tasklab worker).

Usage: tasklab serve [options]
${SERVER_OPTS}
Worker settings serve uses too (the retry defaults of new tasks, the lease its rescue loop reads):
${WORKER_OPTS}
${RETENTION_OPTS}

Examples:
  tasklab serve --database-url postgres://postgres@127.0.0.1:5432/tasklab
  STARTER__SERVER__HOST=0.0.0.0 STARTER__SERVER__PORT=3000 tasklab serve`,
    LONG_RUNNING_EXITS,
  ),
  worker: page(
    `tasklab worker — a worker only. Run as many as you like, on one machine or many, against one PostgreSQL.
Without DATABASE_URL it joins the embedded PostgreSQL that \`tasklab start\` runs in the same data dir.

Usage: tasklab worker [--id N] [options]
${WORKER_OPTS}
${HANDLERS_OPTS}
${RETENTION_OPTS}

Examples:
  tasklab worker --id 1                     # joins the embedded database of a running tasklab start
  export DATABASE_URL=postgres://postgres@db.internal:5432/tasklab
  tasklab worker --id 1
  STARTER__WORKER__CONCURRENCY=8 tasklab worker --id 2 --lease-secs 60
  tasklab worker --id 3 --webhook-allow-hosts 127.0.0.1,localhost   # webhooks may call this machine`,
    `  0    stopped by SIGTERM or SIGINT after draining (running tasks finished or handed back)
  1    runtime failure (database unreachable at start)
  2    bad option or environment variable, or no database URL and no embedded one running to join
  130  a second SIGTERM/SIGINT while draining: exited at once`,
  ),
  chaos: page(
    `tasklab chaos — scripted chaos with invariant checks; exits 1 when one breaks.

Usage: tasklab chaos <scenario> (--url URL --token T | --spawn) [options]
Scenarios:
  flood        N tasks as fast as the API takes them; all complete
  worker-kill  kill a random worker every 1.5 s (and start a replacement); all complete, rescues counted
  db-restart   the embedded PostgreSQL really restarts (down 3 s); on a URL's server, the database's
               connections are cut for 3 s; /health/ready goes 503 and back; all complete
  poison       a tenth of the tasks fail permanently; exactly those land in the dead letter queue
  breaker      a type fails until its breaker opens; its tasks wait; fault lifted; it closes; all complete
  hang         a quarter of the attempts hang past their timeout; they time out and retry; none stuck
  bloat        a transaction left open during a flood: GET /storage names it, dead rows pile up, VACUUM
               reclaims them once it ends; prints dead rows and idle-claim cost before/during/after
  all          every scenario above in turn, except bloat
Options:
  --url URL                 a running tasklab started with --chaos (purely through its HTTP API)
  --token T                 an admin session token for --url
  --spawn                   start its own \`serve --chaos\` and N \`worker --chaos\` processes
                            (DATABASE_URL / --database-url, else a fresh database on the embedded
                            PostgreSQL a running \`tasklab start\` owns in the same --data-dir)
  --tasks N                 tasks per scenario (100)
  --workers N               worker processes with --spawn (3)
  --concurrency N           tasks per worker with --spawn (8)
  --lease-secs S            lease of spawned workers (2), so rescues come within ~3 s
  --json                    print the report as JSON
  --database-url URL        with --url: the instance's database, for db-restart and bloat

Examples:
  tasklab chaos all --spawn --tasks 300 --workers 3
  tasklab chaos worker-kill --url http://127.0.0.1:3000 --token $TOKEN --tasks 500`,
    `  0    every invariant held
  1    an invariant broke (the report says which), or the run failed
  2    bad scenario, option or environment variable`,
    false,
  ),
  'init-handler': `tasklab init-handler — write an example handler module and the typed handler contract.

Usage: tasklab init-handler <type> [--dir DIR]
  --dir DIR                 where to write (the current folder)
Writes DIR/<type>.ts (a complete handler: retries, honours its signal, reports a permanent error)
and DIR/tasklab-handler.d.ts (the types of a handler and its ctx, so an editor completes them).
An existing <type>.ts is never overwritten.

Examples:
  tasklab init-handler resize_image --dir ./handlers
  tasklab start --handlers ./handlers

Exit codes:
  0    written
  1    the files could not be written
  2    bad type name (or a built-in one), <type>.ts exists already, or a bad option`,
  why: page(
    `tasklab why — why a task is not running (or what it is doing), asked of a running tasklab.

Usage: tasklab why <task id> --url URL --token T [--json]
  --url URL                 the running tasklab (http://127.0.0.1:3000)
  --token T                 a session token (POST /api/v1/auth/login); users see their own tasks
  --json                    print the API's answer as JSON

Each line is one reason, with its code: SCHEDULED, BACKOFF, TYPE_PAUSED, TYPE_INACTIVE, BREAKER_OPEN,
NO_WORKER, WORKERS_BUSY, USER_CAP, RUNNING, CANCEL_REQUESTED, TERMINAL or READY.

Examples:
  tasklab why 0b6f1c2e-1d2a-4c3b-9e8f-7a6b5c4d3e2f --url http://127.0.0.1:3000 --token $TOKEN`,
    `  0    answered
  1    the task was not found (or is not yours), or tasklab could not be reached
  2    no task id or no --token`,
    false,
  ),
  admin: page(
    `tasklab admin reset-link — let an admin back in: clears their password, ends their sessions and
prints a new one-time login link. Works through the database, on a running or a stopped tasklab,
without a restart; the panel asks for a new password once the link is used.

Usage: tasklab admin reset-link [--user NAME] [--url URL] [--database-url URL | --data-dir DIR]
  --user NAME               which admin, when there are several
  --url URL                 the panel's address for the link (http://<host>:<port> from the configuration)

Examples:
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/tasklab tasklab admin reset-link
  tasklab admin reset-link --user admin --url https://tasklab.example.com`,
    `  0    a link was printed
  1    the database could not be reached
  2    no such admin, several admins and no --user, or a bad option`,
  ),
  migrate: page(
    `tasklab migrate — apply the database migrations and exit (start, serve and worker also migrate at start).

Usage: tasklab migrate [--database-url URL | --data-dir DIR]

Examples:
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/tasklab tasklab migrate
  tasklab migrate --data-dir ./tasklab-data    # the embedded database, while no tasklab uses it`,
    `  0    migrations applied, or the database was already up to date
  1    failed: database unreachable, its schema newer than this tasklab, or the data dir in use
  2    bad option or environment variable`,
  ),
}

export function mainHelp(): string {
  return `tasklab ${VERSION} — learn, run and torture-test a PostgreSQL-backed task queue.

Usage: tasklab [command] [options]

Commands:
  start        API + control panel + in-process worker (default)
  serve        API + control panel only
  worker       a worker only; many may run against one PostgreSQL
  migrate      apply migrations and exit
  init-handler write an example handler module (TypeScript) and its typed contract
  chaos        run a chaos scenario against tasklab and check its invariants
  why ID       why a task is not running (or what it is doing)
  admin reset-link  a new one-time admin login link, without a restart
  help CMD     help for one command

${COMMON}

${DATABASE}

Environment (flags override these, these override defaults):
${allSettings()
  .map((s) => `  ${s.env.padEnd(42)} ${plain(s.help)} (default ${plain(s.shown)})`)
  .join('\n')}

Exit codes: 0 success, 1 runtime failure, 2 bad command line or configuration, 130 second signal
(tasklab help CMD lists them per command).

Examples:
  tasklab                                   # everything in one process, embedded database
  docker compose up -d && DATABASE_URL=postgres://postgres:tasklab@127.0.0.1:5432/tasklab tasklab serve
  DATABASE_URL=... tasklab worker --id 1    # on as many machines as you like`
}
