// The building blocks of the API's typed contract. Every route declares `response` schemas built
// from these, so the OpenAPI document describes each answer's real `data` (a client generated from
// it typechecks), Elysia checks each success answer against its schema, and fields a schema does not
// name are dropped from the answer (normalize: 'typebox'): a new column reaches clients only once
// it is in the schema. See docs/development.md, "Adding a route".
import {
  FormatRegistry,
  Kind,
  Type as T,
  type TLiteral,
  type TSchema,
  type TUnion,
  type TUnsafe,
  TypeRegistry,
} from '@sinclair/typebox'

// postgres.js hands timestamps over as Date; JSON turns them into ISO strings. Clients see a
// date-time string; the server may return either.
TypeRegistry.Set(
  'Timestamp',
  (_schema, value) =>
    value instanceof Date || (typeof value === 'string' && !Number.isNaN(Date.parse(value))),
)
// Task ids and user ids are checked with format 'uuid' in params and in every answer. Importing
// @elysiajs/openapi registers that format as a fresh Zod schema built on each call: 33 µs per task
// answer, half of a batched task's server time (bun --cpu-prof of `tasklab serve`, issue 13). The
// same expression as that Zod check (RFC 9562 layout, the nil and max ids), compiled once: 0.6 µs.
const UUID =
  /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/

/** The cheap 'uuid' check: one compiled expression, nothing built per call. */
export const isUuid = (value: string): boolean => UUID.test(value)

/** Registers the cheap 'uuid' check; createApp calls it again in case the plugin loaded later. */
export function fastFormats(): void {
  FormatRegistry.Set('uuid', isUuid)
}
fastFormats()

export const Timestamp = T.Unsafe<string | Date>({
  [Kind]: 'Timestamp',
  type: 'string',
  format: 'date-time',
})

export const Nullable = <S extends TSchema>(schema: S, description?: string) =>
  T.Union([schema, T.Null()], description ? { description } : {})

/** Any JSON object (payloads, metadata, results are the caller's own shapes). */
export const JsonObject = T.Record(T.String(), T.Unknown())

/** A closed set of strings from a list the code already holds (states.ts, FAULT_KINDS, …). */
export const OneOf = <const V extends readonly string[]>(values: V, description?: string) =>
  T.Union(
    values.map((v) => T.Literal(v)),
    description ? { description } : {},
  ) as unknown as TUnion<{ -readonly [K in keyof V]: TLiteral<V[K]> }>

/** A schema that the document lists once under components.schemas by this name (see hoistNamed). */
export const Named = <S extends TSchema>(name: string, schema: S): S => ({ ...schema, title: name })

export const ErrorEnvelope = Named(
  'Error',
  T.Object({
    success: T.Literal(false),
    error: T.Object({
      code: T.String({ examples: ['VALIDATION_ERROR'] }),
      message: T.String({ description: 'a sentence naming the field or the problem' }),
      // Documented as an object with `field` for clients, but checked and cut as Unknown: an
      // Object schema made normalize drop its other keys (a limit, the database's state).
      details: T.Optional(
        T.Unknown({
          type: 'object',
          properties: { field: { type: 'string', description: 'the request field at fault' } },
          additionalProperties: true,
          description: 'more about the error: the field at fault, a limit, …',
        }) as unknown as TUnsafe<Record<string, unknown>>,
      ),
    }),
  }),
)

const message = Nullable(T.String())

/** `{success: true, data, message}`: every JSON success answer. */
export const Ok = <S extends TSchema>(data: S) => T.Object({ success: T.Literal(true), data, message })

export const PageMeta = Named(
  'PageMeta',
  T.Object({
    total: T.Integer({ description: 'all matches, not only this page' }),
    limit: T.Integer(),
    offset: T.Integer(),
  }),
)

/** A list answer: the items in `data`, the total count in `meta`. */
export const Paged = <S extends TSchema>(item: S) =>
  T.Object({ success: T.Literal(true), data: T.Array(item), message, meta: PageMeta })

const ERROR_STATUSES = [400, 401, 403, 404, 409, 413, 415, 429, 503] as const
type ErrorStatus = (typeof ERROR_STATUSES)[number]

/**
 * A route's `detail` and `response`, spread into its options:
 * `{ body: NewTask, ...route('tasks', 'Create a task', { answer: Ok(Task), status: 201, auth: true }) }`.
 * `answer` is the success schema (`Ok(x)` or `Paged(x)`); `also` lists more success statuses with
 * the same shape (201 and 200 for an idempotent create). Every route may answer 400; `auth` adds
 * 401 and the bearer requirement, public routes say `security: []`.
 */
export function route<S extends TSchema, C extends number = 200>(
  tag: string,
  summary: string,
  opts: { answer: S; status?: C; also?: number[]; auth?: boolean; errors?: ErrorStatus[] },
) {
  const response: Record<number, TSchema> = {}
  for (const s of [opts.status ?? 200, ...(opts.also ?? [])]) response[s] = opts.answer
  for (const s of [400, ...(opts.auth ? [401] : []), ...(opts.errors ?? [])]) response[s] = ErrorEnvelope
  return {
    detail: { tags: [tag], summary, security: opts.auth ? [{ bearer: [] }] : [] },
    // Typed with its success status and 400; the other error statuses are documented, not typed.
    response: response as { [K in C]: S } & { 400: typeof ErrorEnvelope },
  }
}
