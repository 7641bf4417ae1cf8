// A result must fit where it is stored. The task row keeps it as jsonb: over the payload limit it
// would bloat every read of the task, and a string holding U+0000 or half a surrogate pair is JSON
// that PostgreSQL refuses ("unsupported Unicode escape sequence"). Refused in the batched outcome
// write, such a result failed every other outcome in the batch too, again and again; checked here,
// only its own attempt fails, with a sentence that says why.
import { PAYLOAD_LIMIT_BYTES } from './enqueue'

// A NUL escape, or a high surrogate escape not followed by a low one, or a low one standing alone.
const UNSTORABLE =
  /\\u0000|\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}/i

/** Why this result cannot be stored, or null when it can. */
export function resultProblem(result: unknown): string | null {
  let text: string | undefined
  try {
    text = JSON.stringify(result ?? null)
  } catch (err) {
    return `the result is not JSON (${err instanceof Error ? err.message : String(err)})`
  }
  if (text === undefined) return 'the result is not JSON'
  const bytes = Buffer.byteLength(text)
  if (bytes > PAYLOAD_LIMIT_BYTES)
    return `the result is ${bytes} bytes as JSON; the limit is ${PAYLOAD_LIMIT_BYTES} bytes (1 MiB)`
  if (UNSTORABLE.test(text))
    return 'the result holds text PostgreSQL cannot store (a U+0000 character or an unpaired surrogate)'
  return null
}
