// The app: cross-cutting HTTP concerns (request id, security headers, CORS, body parsing, the
// error envelope) and one plugin per feature under /api/v1. Mount further plugins (the panel, the
// chaos routes) with one `.use(...)` line below; unknown /api/* paths stay the API's JSON 404/405.
import { openapi } from '@elysiajs/openapi'
import { Elysia, NotFoundError } from 'elysia'
import { batchProblem, newTaskProblem } from '../shared/task-input'
import { VERSION } from '../version'
import { credentialGate } from './auth/guard'
import { authPlugin } from './auth/plugin'
import { chaosPlugin } from './chaos/plugin'
import { API_PREFIX } from './client'
import { fastFormats } from './contract'
import type { ApiDeps } from './deps'
import { hoistNamed, TAGS, withJsonBodies } from './docs'
import { docsAssets, SWAGGER_SCRIPT, SWAGGER_STYLE } from './docs-assets'
import { LiveFeed } from './events/feed'
import { eventsPlugin } from './events/plugin'
import { healthPlugin } from './health/plugin'
import { parseJsonBody } from './http/body'
import { ConnectionLimiter, releaseAfterResponse } from './http/connections'
import { bodyRule, hasBody } from './http/limits'
import { classify, errorBody, internal, methodNotAllowed } from './http/on-error'
import { routeTable } from './http/routes'
import { corsHeaders, requestIdOf, securityHeaders } from './http/security'
import { metricsPlugin } from './metrics/plugin'
import { panel } from './panel'
import { storagePlugin } from './storage/plugin'
import { tasksPlugin } from './tasks/plugin'
import { whyPlugin } from './tasks/why'
import { typePatchProblem, typesPlugin } from './types/plugin'
import { workersPlugin } from './workers/plugin'

// The prefix the typed client's paths carry: written once, where the panel may import it too.
export { API_PREFIX }

/**
 * Request bodies answered with the engine's sentence naming the field (the same schema, the same
 * words), by route: a type's default retry strategy is refused as a task's own is.
 */
const BODY_SENTENCES = new Map([
  [`POST ${API_PREFIX}/tasks`, newTaskProblem],
  [`POST ${API_PREFIX}/tasks/batch`, batchProblem],
  [`PATCH ${API_PREFIX}/tasks/types/:type`, typePatchProblem],
])
/** Idle timeout of a worker's long-poll claim: its wait_ms (at most 30 s) and some slack. */
const LONG_POLL_IDLE_SECS = 45

export function createApp(deps: ApiDeps, feed = new LiveFeed(deps.sql, deps.log)) {
  const { config, log } = deps
  fastFormats() // after every import: @elysiajs/openapi replaces the format when it loads
  const limit = config.server.bodyLimitBytes
  const gate = credentialGate(deps.sql, config.server.workerToken)
  const perAddress = config.server.maxConnectionsPerAddress
  const connections = new ConnectionLimiter(perAddress, Math.max(4096, perAddress * 4))
  let routes: () => readonly { method: string; path: string; hooks: unknown }[] = () => []
  const table = routeTable(() => routes())

  const api = new Elysia({ prefix: API_PREFIX, normalize: 'typebox' })
    .use(authPlugin(deps))
    .use(typesPlugin(deps))
    .use(whyPlugin(deps))
    .use(tasksPlugin(deps))
    .use(workersPlugin(deps))
    .use(healthPlugin(deps))
    .use(metricsPlugin(deps, feed))
    .use(eventsPlugin(deps, feed))
    .use(chaosPlugin(deps)) // no routes unless --chaos
    .use(storagePlugin(deps))

  // Elysia's default normalisation "fixes" wrong types instead of refusing them (a string payload
  // became {"0": "n", ...}; an array body became {}); 'typebox' validates, then drops unknown keys.
  const app = new Elysia({ name: 'tasklab', normalize: 'typebox' })
    .onRequest(({ request, set, server }) => {
      const id = requestIdOf(request)
      Object.assign(
        set.headers,
        securityHeaders(id),
        corsHeaders(config.server.corsOrigin, request.headers.get('origin')),
      )
      if (
        request.method === 'OPTIONS' &&
        config.server.corsOrigin &&
        request.headers.get('access-control-request-method')
      )
        return new Response(null, { status: 204, headers: set.headers as Record<string, string> })
      // app.handle (tests) has no server and no client address: nothing to count.
      const address = server?.requestIP(request)?.address
      if (address) connections.admit(request, address)
      // The worker protocol's long poll waits up to 30 s in silence; the idle timeout must not cut it.
      if (request.url.endsWith(`${API_PREFIX}/workers/claim`)) server?.timeout(request, LONG_POLL_IDLE_SECS)
    })
    // Route first, then the credential, then the body, read only up to the route's own limit.
    .onParse(async ({ request, contentType, route }) => {
      const rule = bodyRule(request.method, route, limit)
      if (!rule) return {}
      if (!rule.public && hasBody(request)) await gate(request.headers.get('authorization'))
      return parseJsonBody(request, contentType ?? '', rule.limit)
    })
    .onAfterResponse(({ request }) => releaseAfterResponse(request))
    .onError(({ code, error, request, set, path, route }) => {
      const requestId = String(set.headers['x-request-id'] ?? requestIdOf(request))
      const describeBody = BODY_SENTENCES.get(`${request.method} ${route}`)
      const ctx = { code, error, path, method: request.method, requestId, describeBody }
      const e = classify(ctx, table.allowed) ?? internal(log, ctx)
      set.status = e.status
      Object.assign(set.headers, e.headers ?? {})
      set.headers['content-type'] = 'application/json; charset=utf-8'
      return errorBody(e.code, e.message, e.details)
    })
    // A parameter route reached for a path that a more specific route owns (DELETE /tasks/stats
    // matched DELETE /tasks/:id) is the wrong method for that path, as the Allow header says;
    // checked before validation, which would call "stats" a malformed id.
    .onTransform({ as: 'global' }, ({ request, route, path }) => {
      if (route.includes(':') && table.shadowed(path, route))
        throw methodNotAllowed(request.method, path, table.allowed(path))
    })
    .onStop(() => feed.stop())
    .onAfterHandle(({ path, response }) => {
      if (path === `${API_PREFIX}/openapi.json`)
        return hoistNamed(withJsonBodies(response, routes())) as never
    })
    .use(
      openapi({
        path: `${API_PREFIX}/docs`,
        specPath: `${API_PREFIX}/openapi.json`,
        provider: 'swagger-ui',
        // The plugin hands Swagger UI the spec path without its leading slash, which the browser
        // resolves against /api/v1/docs; an absolute url (its type leaves it out) wins the spread.
        swagger: {
          cdn: SWAGGER_SCRIPT,
          theme: SWAGGER_STYLE,
          ...({ url: `${API_PREFIX}/openapi.json` } as object),
        },
        exclude: { paths: [`${API_PREFIX}/docs`, `${API_PREFIX}/openapi.json`, '/api/*'] },
        documentation: {
          info: {
            title: 'tasklab API',
            version: VERSION,
            description: 'A PostgreSQL task queue: tasks, types, workers, health, metrics and live events.',
          },
          tags: TAGS,
          // Relative: the document is served by the tasklab it describes, at whatever address.
          servers: [{ url: '/', description: 'this tasklab' }],
          components: {
            securitySchemes: {
              bearer: { type: 'http', scheme: 'bearer', description: 'session_token from POST /auth/login' },
            },
          },
        },
      }),
    )
    .use(docsAssets())
    .use(api)
    .use(panel())
    // Everything else under /api is the API's: 405 when the path exists with other methods, else 404.
    .all('/api/*', () => {
      throw new NotFoundError()
    })
  routes = () => app.routes
  return app
}

export type App = ReturnType<typeof createApp>
