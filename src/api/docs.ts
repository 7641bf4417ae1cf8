// OpenAPI metadata shared by the route files: tags, the bearer scheme and the two envelopes, so
// every route in the document shows its request schemas and both possible answers.
import type { OpenAPIV3 } from 'openapi-types'
export const ENVELOPES = {
  SuccessEnvelope: {
    type: 'object',
    required: ['success', 'data', 'message'],
    properties: { success: { const: true }, data: {}, message: { type: ['string', 'null'] } },
  },
  ErrorEnvelope: {
    type: 'object',
    required: ['success', 'error'],
    properties: {
      success: { const: false },
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { type: 'string', example: 'VALIDATION_ERROR' },
          message: { type: 'string' },
          details: {},
        },
      },
    },
  },
} as const

const json = (ref: string, description: string): OpenAPIV3.ResponseObject => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
})

/** `detail` for a route: summary, tag, whether it needs a bearer token, and its answers. */
export function doc(
  tag: string,
  summary: string,
  opts: { auth?: boolean; status?: number; errors?: number[] } = {},
) {
  const responses: OpenAPIV3.ResponsesObject = {
    [String(opts.status ?? 200)]: json('SuccessEnvelope', 'Success'),
  }
  for (const s of [400, ...(opts.auth ? [401] : []), ...(opts.errors ?? [])])
    responses[String(s)] = json('ErrorEnvelope', 'Error')
  return { tags: [tag], summary, responses, ...(opts.auth ? { security: [{ bearer: [] }] } : {}) }
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
