// The OpenAPI document's own parts: the tags with what each holds, the servers, the bearer
// scheme, and the finishing touches the plugin leaves out (JSON request bodies, named schemas under
// components). The routes' answers come from their `response` schemas (src/api/contract.ts).
import type { OpenAPIV3 } from 'openapi-types'

export const TAGS: { name: string; description: string }[] = [
  { name: 'auth', description: 'Accounts and bearer sessions: register, log in, the first-start login link' },
  { name: 'tasks', description: 'Create, list, read, cancel, retry and delete tasks; counts per status' },
  { name: 'dead-letter', description: 'Failed tasks, retried or deleted in bulk by ids or filter' },
  {
    name: 'types',
    description: 'The task type registry: workers, breakers, pause, timeouts, retry defaults',
  },
  { name: 'workers', description: 'Worker processes, alive or recently gone, and what they run' },
  { name: 'health', description: 'Liveness and readiness (public)' },
  { name: 'metrics', description: 'Prometheus text format (public)' },
  { name: 'events', description: 'A server-sent event stream of transitions and counts' },
  { name: 'chaos', description: 'Fault injection, only when tasklab runs with --chaos (admin)' },
  {
    name: 'storage',
    description: 'Table sizes, dead rows, retention and the oldest open transaction (admin)',
  },
]

const errorRef = (description: string): OpenAPIV3.ResponseObject => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
})

/** `detail` of a route whose answer is not JSON (metrics, the event stream). */
export function textRoute(
  tag: string,
  summary: string,
  opts: { mediaType: string; description: string; auth?: boolean; schema?: unknown },
) {
  // A stream's messages may be described by a schema (GET /events): a client generated from the
  // document then has their types, though the body itself is text.
  const schema = opts.schema ? JSON.parse(JSON.stringify(opts.schema)) : { type: 'string' }
  const responses: OpenAPIV3.ResponsesObject = {
    200: { description: opts.description, content: { [opts.mediaType]: { schema } } },
    400: errorRef('Error'),
  }
  if (opts.auth) responses[401] = errorRef('Not logged in')
  return { tags: [tag], summary, responses, security: opts.auth ? [{ bearer: [] }] : [] }
}

const STATUS_TEXT: Record<string, string> = {
  200: 'Success',
  201: 'Created',
  400: 'Bad request: malformed JSON or a field out of range (the message names it)',
  401: 'Not logged in, or the session expired',
  403: 'Not allowed for this account',
  404: 'Not found (or not yours)',
  409: 'Conflicts with the current state',
  429: 'Too many attempts; see Retry-After',
  503: 'The database is unreachable',
}

/** The plugin describes every answer as "Response for status N"; say what each means. */
function describeResponses(paths: Record<string, Record<string, OpenAPIV3.OperationObject>> | undefined) {
  for (const ops of Object.values(paths ?? {}))
    for (const op of Object.values(ops))
      for (const [status, res] of Object.entries(op.responses ?? {})) {
        const r = res as OpenAPIV3.ResponseObject
        if (r.description?.startsWith('Response for status') && STATUS_TEXT[status])
          r.description = STATUS_TEXT[status]
      }
}

/**
 * Schemas made with Named() carry a title; each is listed once under components.schemas and every
 * use becomes a $ref, so a generated client has `components['schemas']['Task']`, not 30 copies.
 */
export function hoistNamed(spec: unknown): unknown {
  const doc = spec as { components?: { schemas?: Record<string, unknown> } }
  doc.components ??= {}
  doc.components.schemas ??= {}
  const schemas = doc.components.schemas
  const visit = (node: unknown, top: boolean): unknown => {
    if (Array.isArray(node)) return node.map((n) => visit(n, false))
    if (!node || typeof node !== 'object') return node
    const obj = node as Record<string, unknown>
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(obj)) out[k] = visit(v, false)
    if (!top && typeof obj.title === 'string' && /^[A-Z]\w*$/.test(obj.title)) {
      const ref = { $ref: `#/components/schemas/${obj.title}` }
      // The plugin folds Nullable(X) into X with type [..., 'null']: the named schema is X itself
      // and this one use is X or null (else every other use of X became nullable too).
      const type = out.type
      if (Array.isArray(type) && type.includes('null')) {
        const rest = type.filter((t) => t !== 'null')
        schemas[obj.title] ??= { ...out, type: rest.length === 1 ? rest[0] : rest }
        return { anyOf: [ref, { type: 'null' }] }
      }
      schemas[obj.title] ??= { ...out }
      return ref
    }
    return out
  }
  const paths = (spec as { paths?: unknown }).paths
  ;(spec as { paths?: unknown }).paths = visit(paths, true)
  describeResponses((spec as { paths?: Record<string, Record<string, OpenAPIV3.OperationObject>> }).paths)
  // A named schema may hold another named one (Session holds User).
  for (const [name, schema] of Object.entries(schemas)) schemas[name] = visit(schema, true)
  return spec
}

interface RouteLike {
  method: string
  path: string
  hooks: unknown
}

/**
 * The OpenAPI plugin leaves a request body's `content` empty when the app has its own body parser
 * (ours caps size and depth), so the body schemas would be missing from the document. This puts
 * each route's body schema back as application/json, the only type the parser accepts.
 */
export function withJsonBodies(spec: unknown, routes: readonly RouteLike[]): unknown {
  const paths = (
    spec as {
      paths?: Record<string, Record<string, { requestBody?: { content?: Record<string, unknown> } }>>
    }
  ).paths
  if (!paths) return spec
  for (const r of routes) {
    const body = (r.hooks as { body?: unknown } | undefined)?.body
    const op = paths[r.path.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()]
    if (!body || !op?.requestBody) continue
    op.requestBody.content = { 'application/json': { schema: JSON.parse(JSON.stringify(body)) } }
  }
  return spec
}
