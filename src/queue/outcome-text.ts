// What a handler hands back is untrusted: a webhook reply, a module's return value or error. It is
// cleaned here, at the edge, before it reaches an UPDATE: PostgreSQL refuses text with a NUL byte
// (22P05 for jsonb's \u0000, 22021 for text) and JSON with a lone surrogate, and one refused value
// used to fail the worker's whole outcome batch, retried every 250 ms for ever (issue 12, item 1).

/** Longest stored error, in code points; the panel shows a few lines, 10,000 is plenty. */
export const MAX_ERROR_CHARS = 10_000
/** Largest stored result as JSON; the same as a task's payload limit. */
export const MAX_RESULT_BYTES = 1024 * 1024

/**
 * Text PostgreSQL can store: NUL bytes become U+FFFD, lone surrogates become U+FFFD (valid UTF-8),
 * and anything past `maxChars` is cut on a code point, never inside a surrogate pair.
 */
export function cleanText(text: string, maxChars = MAX_ERROR_CHARS): string {
  // Cut before cleaning, so a 100 MB message costs no more than a short one.
  let s = text.length > maxChars * 2 ? text.slice(0, maxChars * 2) : text
  s = s.replaceAll('\u0000', '\uFFFD').toWellFormed()
  if (s.length <= maxChars) return s
  // Count code points only when the text is long enough to be cut.
  const points = Array.from(s)
  return points.length <= maxChars ? s : points.slice(0, maxChars).join('')
}

/** A sentence for whatever a handler threw, even a value without a prototype or a throwing getter. */
export function errorText(err: unknown): string {
  try {
    if (err instanceof Error) return cleanText(String(err.message || err.name || 'Error'))
    if (typeof err === 'string') return cleanText(err)
    return cleanText(String(err))
  } catch {
    return 'the handler threw a value that cannot be shown as text'
  }
}

const cleanPrimitive = (v: unknown): boolean =>
  v === null ||
  typeof v === 'boolean' ||
  (typeof v === 'number' && Number.isFinite(v)) ||
  (typeof v === 'string' && !v.includes('\u0000') && v.isWellFormed())

/**
 * Whether a result is a clean primitive, or a plain object or array of clean primitives with clean
 * keys: most handlers return that (`{ slept_seconds: 0 }`), and it needs none of the replacer below,
 * whose call per value made cleanResult ~7 % of a no-op attempt's worker CPU. Anything else (nested,
 * Dates, class instances, a toJSON) takes the full path.
 */
function isFlatClean(value: unknown): boolean {
  if (cleanPrimitive(value)) return true
  if (typeof value !== 'object') return false
  if (Array.isArray(value)) {
    for (const v of value) if (!cleanPrimitive(v)) return false
    return true
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return false
  for (const k in value)
    if (!cleanPrimitive(k) || !cleanPrimitive((value as Record<string, unknown>)[k])) return false
  return true
}

export type CleanResult = { ok: true; value: unknown } | { ok: false; error: string }

class Unstorable extends Error {}

/**
 * A handler's result as PostgreSQL can store it in jsonb: strings (and keys) cleaned as above.
 * NaN, Infinity, circular structures, BigInt and results over `maxBytes` are refused with a
 * sentence, not silently turned into null or into a write that fails.
 */
export function cleanResult(value: unknown, maxBytes = MAX_RESULT_BYTES): CleanResult {
  if (value === undefined) return { ok: true, value: null }
  if (isFlatClean(value)) {
    // Nothing to clean or refuse but the size: the native stringify, without a replacer, is enough.
    const json = JSON.stringify(value)
    if (json.length <= maxBytes / 3 || Buffer.byteLength(json) <= maxBytes) return { ok: true, value }
  }
  let changed = false
  let json: string | undefined
  try {
    json = JSON.stringify(value, (key, v) => {
      if (typeof v === 'number' && !Number.isFinite(v))
        throw new Unstorable(
          `it contains ${v}${key ? ` at key "${cleanText(key, 100)}"` : ''}, which JSON cannot hold`,
        )
      if (typeof v === 'string') {
        const c = cleanText(v, Number.MAX_SAFE_INTEGER)
        if (c !== v) changed = true
        return c
      }
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        let renamed: Record<string, unknown> | undefined
        for (const k of Object.keys(v)) {
          const c = cleanText(k, Number.MAX_SAFE_INTEGER)
          if (c === k) continue
          const r: Record<string, unknown> = renamed ?? { ...v }
          delete r[k]
          r[c] = (v as Record<string, unknown>)[k]
          renamed = r
        }
        if (renamed) {
          changed = true
          return renamed
        }
      }
      return v
    })
  } catch (err) {
    const why =
      err instanceof Unstorable
        ? err.message
        : /cyclic|circular/i.test(String((err as Error)?.message))
          ? 'it contains a circular reference'
          : `it cannot be turned into JSON (${errorText(err).slice(0, 200)})`
    return { ok: false, error: `The handler's result cannot be stored: ${why}.` }
  }
  if (json === undefined) return { ok: true, value: null }
  if (json.length > maxBytes || Buffer.byteLength(json) > maxBytes)
    return {
      ok: false,
      error: `The handler's result cannot be stored: it is ${Buffer.byteLength(json)} bytes as JSON, over the limit of ${maxBytes}.`,
    }
  return { ok: true, value: changed ? JSON.parse(json) : value }
}
