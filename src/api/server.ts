// The HTTP server: the API (and, once it lands, the control panel) on one port.
import { Elysia } from 'elysia'
import type { Runtime } from '../runtime'

export interface Server {
  url: string
  stop(): Promise<void>
}

export function createApp(rt: Runtime) {
  return new Elysia({ prefix: '/api/v1' }).get('/health', async () => {
    await rt.sql`SELECT 1`
    return { success: true, data: { status: 'ok' }, message: null }
  })
}

export async function startServer(rt: Runtime): Promise<Server> {
  const app = createApp(rt).listen({
    hostname: rt.config.server.host,
    port: rt.config.server.port,
    maxRequestBodySize: rt.config.server.bodyLimitBytes,
  })
  const server = app.server!
  return {
    url: `http://${server.hostname}:${server.port}`,
    stop: async () => {
      await app.stop()
    },
  }
}
