// The HTTP server: the API (and the control panel) on one port. On first start with no admin it
// creates one and returns a one-time login link for the banner.
import type { Runtime } from '../runtime'
import { createApp } from './app'
import { bootstrapAdmin } from './auth/sessions'
import { LiveFeed } from './events/feed'

export interface Server {
  url: string
  stop(): Promise<void>
  /** Set when this start created the first admin: open it once to log in to the panel. */
  loginLink?: string
}

export { createApp }

export async function startServer(rt: Runtime): Promise<Server> {
  const feed = new LiveFeed(rt.sql, rt.log)
  const app = createApp(rt, feed).listen({
    hostname: rt.config.server.host,
    port: rt.config.server.port,
    // Bun's own cap is a backstop at twice ours: bodies between the two get our JSON 413 (checked
    // on Content-Length and while streaming), larger ones are cut by Bun before reaching us.
    maxRequestBodySize: rt.config.server.bodyLimitBytes * 2,
    // Server-sent event streams stay open; Bun's default 10 s idle timeout would cut quiet ones.
    idleTimeout: 0,
  })
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
    stop: async () => {
      feed.stop()
      await app.stop()
    },
  }
}
