// Request bodies: JSON only, capped, parsed once. The cap is checked against Content-Length before
// anything is read, and again while streaming (a chunked body has no length), so an oversized body
// costs at most `limit` bytes of memory. Nesting is capped too: JSON.parse itself survives 100,000
// levels, but the validators and jsonb downstream recurse, and no task needs more than 32.
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

/** Depth of nested arrays/objects, stopping as soon as it passes `max`. */
export function depthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]]
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (v === null || typeof v !== 'object') continue
    if (d > max) return true
    for (const child of Object.values(v)) stack.push([child, d + 1])
  }
  return false
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
  if (depthExceeds(value, MAX_JSON_DEPTH))
    throw new ApiError(
      400,
      'VALIDATION_ERROR',
      `The request body is nested more than ${MAX_JSON_DEPTH} levels deep.`,
      { field: 'body' },
    )
  return value
}
