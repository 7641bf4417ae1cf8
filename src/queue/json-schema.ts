// Payload schemas as plain JSON Schema, checked with Ajv. Types come from three places (built-in
// TypeBox schemas, handler modules, HTTP-registered workers in any language), and all of them reach
// the database as JSON: one validator over that JSON holds every type to the same rules. TypeBox's
// own checker refuses schemas without its internal Kind symbol ("Unknown type"), so it cannot read a
// schema that a Python worker sent; Ajv reads any draft-07 schema and compiles it to a function once.
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv'

// strict: false: schemas from other tools carry keywords Ajv does not know (TypeBox's `examples`,
// `$comment`, vendor extensions); they are annotations, not errors. Formats (`email`, `uri`) are
// not checked: Ajv ships none without ajv-formats, and a handler that cares checks them itself.
const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false })

export type PayloadCheck = (payload: unknown) => { field: string; message: string } | null

/** Throws a sentence when the schema itself is not valid JSON Schema. */
export function compilePayloadSchema(schema: unknown): PayloadCheck {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema))
    throw new Error('a payload schema must be a JSON Schema object')
  let validate: ValidateFunction
  try {
    validate = ajv.compile(schema as object)
  } catch (err) {
    throw new Error(`not a valid JSON Schema: ${err instanceof Error ? err.message : String(err)}`)
  }
  return (payload) => {
    if (validate(payload)) return null
    return describe(validate.errors?.[0])
  }
}

/** `payload.items.2.name: must be string`, with the field named as the API names it. */
function describe(e: ErrorObject | undefined): { field: string; message: string } {
  if (!e) return { field: 'payload', message: 'does not match the schema' }
  const parts = e.instancePath.split('/').filter(Boolean).map(unescapePointer)
  if (e.keyword === 'required') parts.push(String(e.params.missingProperty))
  if (e.keyword === 'additionalProperties') parts.push(String(e.params.additionalProperty))
  const field = ['payload', ...parts].join('.')
  const message =
    e.keyword === 'required'
      ? 'is required'
      : e.keyword === 'additionalProperties'
        ? 'is not allowed by the schema'
        : e.keyword === 'enum'
          ? `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`
          : (e.message ?? 'does not match the schema')
  return { field, message }
}

const unescapePointer = (p: string) => p.replaceAll('~1', '/').replaceAll('~0', '~')
