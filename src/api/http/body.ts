// Request bodies: JSON only, capped, parsed once. The cap is checked against Content-Length before
// anything is read, and again while streaming (a chunked body has no length), so an oversized body
// costs at most `limit` bytes of memory. Nesting and the number of objects/arrays are checked on
// the text, before JSON.parse builds anything: JSON.parse survives 100,000 levels, but the
// validators and jsonb downstream recurse (no task needs more than 32), and 8 MB of `{},` is
// 2.8 million objects, 560 MB once built.
import { ApiError } from '../errors'

export const MAX_JSON_DEPTH = 32

const tooLarge = (limit: number) =>
  new ApiError(413, 'PAYLOAD_TOO_LARGE', `The request body is larger than the limit of ${limit} bytes.`, {
    limit_bytes: limit,
  })

async function readCapped(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN)
  if (declared > limit) throw tooLarge(limit)
  if (!request.body) return ''
  // A declared length within the limit is read in one call (Bun reads exactly that many bytes):
  // the chunk loop below cost the single-task enqueue a few reads and a concat per request.
  if (Number.isFinite(declared)) return request.text()
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => {})
      throw tooLarge(limit)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Most objects and arrays one body may hold: a batch of 1,000 tasks needs a few thousand. */
export const MAX_JSON_CONTAINERS = 100_000

/**
 * Scans JSON text for its nesting depth and number of objects/arrays, without building it.
 * Returns a sentence for the first limit passed, or null. Malformed text is left to JSON.parse.
 */
export function jsonShapeProblem(
  text: string,
  maxDepth = MAX_JSON_DEPTH,
  maxContainers = MAX_JSON_CONTAINERS,
): string | null {
  let depth = 0
  let containers = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92)
        i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 || c === 91) {
      if (++depth > maxDepth) return `The request body is nested more than ${maxDepth} levels deep.`
      if (++containers > maxContainers)
        return `The request body holds more than ${maxContainers} objects and arrays.`
    } else if (c === 125 || c === 93) depth--
  }
  return null
}

/**
 * The body parser for every route. An empty body is `{}` (so routes without a body accept POSTs
 * without one, and routes with a schema name the missing fields). Anything else must be JSON.
 */
export async function parseJsonBody(request: Request, contentType: string, limit: number): Promise<unknown> {
  const text = await readCapped(request, limit)
  if (text.trim() === '') return {}
  const type = contentType.split(';')[0]!.trim().toLowerCase()
  if (type !== 'application/json' && !type.endsWith('+json'))
    throw new ApiError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `Send the body as JSON with Content-Type: application/json${type ? `, not ${type.slice(0, 80)}` : ''}.`,
    )
  const problem = jsonShapeProblem(text)
  if (problem) throw new ApiError(400, 'VALIDATION_ERROR', problem, { field: 'body' })
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ApiError(
      400,
      'MALFORMED_JSON',
      `The request body is not valid JSON: ${(err as Error).message.slice(0, 200)}`,
    )
  }
  return value
}
