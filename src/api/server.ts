// The HTTP server: the API (and the control panel) on one port. On first start with no admin it
// creates one and returns a one-time login link for the banner.
import { createServer as createNetServer } from 'node:net'
import type { Config } from '../config'
import { closeWakeups } from '../queue/wakeups'
import type { Runtime } from '../runtime'
import { createApp } from './app'
import { bootstrapAdmin } from './auth/sessions'
import { LiveFeed } from './events/feed'

export interface Server {
  url: string
  stop(): Promise<void>
  /** Set when this start created the first admin: open it once to log in to the panel. */
  loginLink?: string
  /** The admin that link signs in. */
  loginUser?: string
}

export { createApp }

/** The port is taken: a sentence for the user, not a stack trace. */
export class PortInUseError extends Error {
  override name = 'PortInUseError'
}

const portInUse = (hostname: string, port: number) =>
  new PortInUseError(
    `Port ${port} on ${hostname} is already in use (another tasklab?). Stop that process, or choose another port with --port or STARTER__SERVER__PORT.`,
  )

/**
 * Fails with PortInUseError when the port is taken, before anything else starts: `start` would
 * otherwise create and migrate a database only to exit. Binds and releases at once; the real
 * listen later still reports a port taken in between.
 */
export async function assertPortFree(hostname: string, port: number): Promise<void> {
  if (port === 0) return
  await new Promise<void>((resolve, reject) => {
    const probe = createNetServer()
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? portInUse(hostname, port) : err),
    )
    probe.listen({ host: hostname, port, exclusive: true }, () => probe.close(() => resolve()))
  })
}

/**
 * Bun's own body cap is lifted: every route reads at most its own limit (src/api/http/limits.ts)
 * and answers 413 in the JSON envelope, where Bun's cap answered a bare 413. Quiet connections
 * close after the idle timeout; the event stream turns it off for itself.
 */
export function listenLimits(config: Config): { maxRequestBodySize: number; idleTimeout: number } {
  return { maxRequestBodySize: Number.MAX_SAFE_INTEGER, idleTimeout: config.server.idleTimeoutSecs }
}

export async function startServer(rt: Runtime): Promise<Server> {
  const feed = new LiveFeed(rt.sql, rt.log)
  const { host: hostname, port } = rt.config.server
  const app = createApp(rt, feed)
  try {
    app.listen({
      hostname,
      port,
      // Elysia turns SO_REUSEPORT on, which lets a second tasklab on the same port start silently
      // and take half of the requests; a port already in use must be an error the user sees.
      reusePort: false,
      ...listenLimits(rt.config),
    })
  } catch (err) {
    if ((err as { code?: string }).code === 'EADDRINUSE') throw portInUse(hostname, port)
    throw err
  }
  feed.start()
  const server = app.server!
  const host = server.hostname === '0.0.0.0' || server.hostname === '::' ? '127.0.0.1' : server.hostname
  const url = `http://${host?.includes(':') ? `[${host}]` : host}:${server.port}`
  const admin = await bootstrapAdmin(rt.sql)
  if (admin)
    rt.log.info('issued a one-time admin login link (the admin has no password yet)', {
      username: admin.user.username,
    })
  return {
    url,
    loginLink: admin ? `${url}/?login=${admin.token}` : undefined,
    loginUser: admin?.user.username,
    stop: async () => {
      feed.stop()
      // Long-polling claims answer now (an empty list) instead of holding the stop for wait_ms.
      closeWakeups()
      await app.stop()
    },
  }
}
