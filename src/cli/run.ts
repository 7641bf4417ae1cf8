// The long-running commands: start (API + worker), serve (API), worker. Each opens the runtime,
// starts its parts, and drains them on SIGTERM/SIGINT; a second signal exits at once.

import { assertPortFree, type Server, startServer } from '../api/server'
import type { Config } from '../config'
import { isConnectionError } from '../db/connect'
import { createChaosHooks } from '../faults/inject'
import { BUILTIN_TYPES, builtinHandlers } from '../handlers'
import { HandlerModules } from '../handlers/modules/live'
import type { Logger } from '../log'
import { startMaintenance } from '../maintenance/maintenance'
import { upsertTypes } from '../queue/registry'
import { openRuntime, type Runtime } from '../runtime'
import { VERSION } from '../version'
import { Worker } from '../worker/runner'

export type Role = 'start' | 'serve' | 'worker'

export function createWorker(
  rt: Runtime,
  extra: Partial<ConstructorParameters<typeof Worker>[0]> = {},
): Worker {
  const c = rt.config
  // The one chaos check: without --chaos the worker holds no hooks and never reads fault rules.
  const chaos = c.chaos.enabled ? createChaosHooks({ sql: rt.sql, log: rt.log }) : undefined
  return new Worker({
    sql: rt.sql,
    events: rt.events,
    log: rt.log,
    handlers: builtinHandlers({ sandboxDir: c.sandboxDir, webhookAllowHosts: c.webhook.allowHosts }),
    idSuffix: c.worker.id,
    concurrency: c.worker.concurrency,
    prefetch: c.worker.prefetch,
    pollIntervalMs: c.worker.pollIntervalMs,
    leaseMs: c.worker.leaseMs,
    shutdownGraceMs: c.worker.shutdownGraceMs,
    defaultTimeoutMs: c.worker.defaultTimeoutMs,
    notifier: rt.notifier,
    journalFile: c.worker.journalFile,
    ...(chaos && { beforeRun: chaos.beforeRun, onControl: chaos.onControl }),
    ...extra,
  })
}

export async function runRole(role: Role, config: Config, log: Logger): Promise<void> {
  survivePoolReconnects(log)
  // Before anything opens: a module that does not load is a bad command line (exit 2).
  const modules =
    config.handlersPath && role !== 'serve'
      ? new HandlerModules(config.handlersPath, new Set(BUILTIN_TYPES), log)
      : undefined
  const moduleHandlers = modules ? await modules.load() : []
  let stopWatching: (() => void) | undefined
  let rt: Runtime | undefined
  let stopMaintenance: (() => void) | undefined
  let server: Server | undefined
  let worker: Worker | undefined
  const startup = (async () => {
    if (role !== 'worker') await assertPortFree(config.server.host, config.server.port)
    rt = await openRuntime(config, log, role)
    const r = rt
    stopMaintenance = startMaintenance({
      sql: r.sql,
      log,
      events: r.events,
      notifier: r.notifier,
      leaseMs: config.worker.leaseMs,
      retention: config.retention,
      defaultTimeoutMs: config.worker.defaultTimeoutMs,
      vacuum: { mode: config.maintenance.vacuum, url: r.db.url },
    })
    if (role !== 'worker') server = await startServer(r)
    if (role !== 'serve') {
      worker = createWorker(r, {
        handlers: [...builtinHandlers({ sandboxDir: config.sandboxDir }), ...moduleHandlers],
      })
      await worker.start()
    }
    // A dev tool reloads edited handler code without a restart; the registry follows its schema.
    if (role === 'start' && modules)
      stopWatching = modules.watch(async (defs) => {
        await upsertTypes(r.sql, defs)
        await r.notifier.control({ kind: 'types' })
      })
    banner(r, role, server, worker)
  })()

  // Handlers go in before anything starts: the worker claims as soon as it has started, and a
  // SIGTERM landing before them would kill the process outright (exit 143), tasks left running.
  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) {
      log.warn(`second ${signal}: exiting now`)
      process.exit(130)
    }
    stopping = true
    log.info(`${signal} received: draining`, { grace_ms: config.worker.shutdownGraceMs })
    await startup.catch(() => {})
    stopWatching?.()
    await server?.stop()
    await worker?.stop()
    stopMaintenance?.()
    await rt?.close()
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
  await startup
}

/**
 * postgres.js re-reads the array types on every new connection and drops that promise
 * (connection.js `return fetchArrayTypes()`): a backend terminated during the read — admin
 * pg_terminate_backend, failover — became an unhandled rejection that killed the worker (2 of 3
 * runs of test/process/db-loss.test.ts). The pool reconnects on its own; only that is forgiven.
 */
function survivePoolReconnects(log: Logger): void {
  process.on('unhandledRejection', (err) => {
    if (isConnectionError(err)) {
      log.warn('database connection lost while opening; the pool reconnects', { error: err })
      return
    }
    log.error('unhandled rejection', { error: err })
    process.exit(1)
  })
}

function banner(rt: Runtime, role: Role, server: Server | undefined, worker: Worker | undefined): void {
  const lines = [`tasklab ${VERSION} (${role})`, `  database: ${rt.db.label}`]
  if (server) lines.push(`  control panel: ${server.url}/`, `  API: ${server.url}/api/v1`)
  if (server?.loginLink)
    lines.push(`  admin login as "${server.loginUser}" (one-time link, valid 24 h): ${server.loginLink}`)
  else if (server)
    lines.push('  log in: register at POST /api/v1/auth/register, or as the admin created at first start')
  if (worker)
    lines.push(
      `  worker: ${worker.id}, concurrency ${rt.config.worker.concurrency}, types ${worker.taskTypes.join(', ')}`,
    )
  lines.push(`  chaos: ${rt.config.chaos.enabled ? 'on' : 'off'}`)
  process.stdout.write(`${lines.join('\n')}\n`)
}
