import { ENVIRONMENT } from '../config'
import { VERSION } from '../version'

const COMMON = `Common options:
  --database-url URL        PostgreSQL to use (env DATABASE_URL)
  --data-dir DIR            data directory (env STARTER__DATA_DIR)
  --log-level LEVEL         debug, info, warn, error
  --log-format FORMAT       auto, pretty, json
  -h, --help                this help;  -v, --version  the version`

const WORKER_OPTS = `  --concurrency N           tasks at once (STARTER__WORKER__CONCURRENCY, 4)
  --poll-interval-secs S    fallback poll (STARTER__WORKER__POLL_INTERVAL_SECS, 5)
  --max-retries N           default max attempts (STARTER__WORKER__MAX_RETRIES, 3)
  --retry-backoff-base-secs S  default backoff base (STARTER__WORKER__RETRY_BACKOFF_BASE_SECS, 2)
  --lease-secs S            lease before a silent worker's task is rescued (30)
  --shutdown-grace-secs S   how long SIGTERM waits for running tasks (10)
  --timeout-secs S          default per-attempt timeout (300)
  --sandbox-dir DIR         the only folder file_cleanup may touch`

const SERVER_OPTS = `  --host HOST               bind address (STARTER__SERVER__HOST, 127.0.0.1)
  --port PORT               port (STARTER__SERVER__PORT, 3000)
  --chaos                   enable fault injection (STARTER__CHAOS__ENABLED)`

export const COMMAND_HELP: Record<string, string> = {
  start: `tasklab start — API, control panel and an in-process worker, in one process (the default command).

Usage: tasklab [start] [options]
${SERVER_OPTS}
${WORKER_OPTS}

Examples:
  tasklab
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/tasklab tasklab start --port 8080 --concurrency 8`,
  serve: `tasklab serve — API and control panel only; run workers separately.

Usage: tasklab serve [options]
${SERVER_OPTS}

Example:
  tasklab serve --database-url postgres://postgres@127.0.0.1:5432/tasklab`,
  worker: `tasklab worker — a worker only. Run as many as you like, on one machine or many, against one PostgreSQL.

Usage: tasklab worker [--id N] [options]
  --id N                    a name for this worker (its full id adds host and pid)
${WORKER_OPTS}

Examples:
  tasklab worker --id 1
  STARTER__WORKER__CONCURRENCY=8 tasklab worker --id 2`,
  chaos: `tasklab chaos — scripted chaos with invariant checks; exits 1 when one breaks.

Usage: tasklab chaos <scenario> (--url URL --token T | --spawn) [options]
Scenarios:
  flood        N tasks as fast as the API takes them; all complete
  worker-kill  kill a random worker every 1.5 s (and start a replacement); all complete, rescues counted
  db-restart   cut every connection to the database for 3 s; /health/ready goes 503 and back; all complete
  poison       a tenth of the tasks fail permanently; exactly those land in the dead letter queue
  breaker      a type fails until its breaker opens; its tasks wait; fault lifted; it closes; all complete
  hang         a quarter of the attempts hang past their timeout; they time out and retry; none stuck
  all          every scenario in turn
Options:
  --url URL                 a running tasklab started with --chaos (purely through its HTTP API)
  --token T                 an admin session token for --url
  --spawn                   start its own \`serve --chaos\` and N \`worker --chaos\` processes
                            (DATABASE_URL / --database-url, else a fresh database on 127.0.0.1:5432)
  --tasks N                 tasks per scenario (100)
  --workers N               worker processes with --spawn (3)
  --concurrency N           tasks per worker with --spawn (8)
  --lease-secs S            lease of spawned workers (2), so rescues come within ~3 s
  --json                    print the report as JSON
  --database-url URL        with --url: the instance's database, for db-restart

Examples:
  tasklab chaos all --spawn --tasks 300 --workers 3
  tasklab chaos worker-kill --url http://127.0.0.1:3000 --token $TOKEN --tasks 500`,
  migrate: `tasklab migrate — apply the database migrations and exit.

Usage: tasklab migrate [--database-url URL]`,
}

export function mainHelp(): string {
  return `tasklab ${VERSION} — learn, run and torture-test a PostgreSQL-backed task queue.

Usage: tasklab [command] [options]

Commands:
  start        API + control panel + in-process worker (default)
  serve        API + control panel only
  worker       a worker only; many may run against one PostgreSQL
  migrate      apply migrations and exit
  chaos        run a chaos scenario against tasklab and check its invariants
  help CMD     help for one command

${COMMON}

Environment (flags override these, these override defaults):
${ENVIRONMENT.map(([k, v]) => `  ${k.padEnd(42)} ${v}`).join('\n')}

Exit codes: 0 success, 1 runtime failure, 2 bad command line or configuration, 130 second signal.`
}
