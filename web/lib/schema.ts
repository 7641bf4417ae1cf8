// A starting payload from a type's JSON Schema, for types that sent no example (HTTP workers in any
// language, modules without one): every required field with a value of its type, so the create
// form shows what to fill in rather than an empty {}. Built-ins and modules with an example keep it.
import type { JsonSchema } from './types'

export function skeleton(schema: JsonSchema | null | undefined, depth = 0): unknown {
  if (!schema || depth > 8) return {}
  if (schema.default !== undefined) return schema.default
  if (schema.examples?.length) return schema.examples[0]
  if (schema.const !== undefined) return schema.const
  if (schema.enum?.length) return schema.enum[0]
  if (schema.anyOf?.length) return skeleton(schema.anyOf[0], depth + 1)
  switch (schema.type) {
    case 'string':
      return ''
    case 'integer':
    case 'number':
      return schema.minimum ?? 0
    case 'boolean':
      return false
    case 'array':
      return []
    case 'null':
      return null
    default: {
      const out: Record<string, unknown> = {}
      const required = new Set(schema.required ?? [])
      for (const [k, v] of Object.entries(schema.properties ?? {}))
        if (required.has(k)) out[k] = skeleton(v, depth + 1)
      return out
    }
  }
}

/**
 * The example a type registered, or one built from its schema when it has none (or an empty one).
 * `schema` is a type's payload_schema as the API sends it: a JSON Schema object or null.
 */
export function startingPayload(example: unknown, schema: unknown): unknown {
  const empty =
    example === null ||
    example === undefined ||
    (typeof example === 'object' && !Array.isArray(example) && Object.keys(example).length === 0)
  return empty ? skeleton(schema as JsonSchema | null) : example
}
