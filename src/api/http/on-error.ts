// The one place where any error becomes the error envelope. Client mistakes (parse, validation,
// unknown route, wrong method) are 4xx with a code; anything unexpected is logged with the request
// id and answered 500 with that id only, never a stack or an SQL message.
import type { TSchema } from '@sinclair/typebox'
import type { ValidationError } from 'elysia'
import { isConnectionError } from '../../db/connect'
import type { Logger } from '../../log'
import type { InputProblem } from '../../shared/task-input'
import { ApiError, fromQueueError, QueueError } from '../errors'

/** The error envelope (ErrorEnvelope in src/api/contract.ts); details is an object (`field`, a limit, …). */
export interface ErrorBody {
  success: false
  error: { code: string; message: string; details?: Record<string, unknown> }
}

export function errorBody(code: string, message: string, details?: Record<string, unknown>): ErrorBody {
  return { success: false, error: details === undefined ? { code, message } : { code, message, details } }
}

const WHERE: Record<string, string> = {
  body: 'body',
  query: 'query parameter',
  params: 'path parameter',
  headers: 'header',
}

interface Issue {
  path?: string
  summary?: string
  message?: string
  value?: unknown
  schema?: TSchema
  /** A union's branches, each with its own errors (TypeBox). */
  errors?: Iterable<Issue>[]
}

/** Whether a value is of a schema's JSON type (a numeric string's branch is not a number's). */
function ofType(schema: TSchema | undefined, value: unknown): boolean {
  if (Array.isArray(schema?.anyOf)) return (schema.anyOf as TSchema[]).some((s) => ofType(s, value))
  const type = schema?.type
  if (type === 'integer' || type === 'number') return typeof value === 'number'
  if (type === 'array') return Array.isArray(value)
  if (type === 'object') return typeof value === 'object' && value !== null && !Array.isArray(value)
  return typeof type === 'string' && typeof value === type
}

/**
 * The error that says what is wrong. A union's own error says only that no branch matched ("should
 * be one of: 'integer', 'null'" for a timeout of -5): the branch of the value's own type names the
 * rule it broke ("Expected integer to be greater or equal to 1"); a union of constants lists them.
 */
function specific(issue: Issue): Issue {
  const branches = (issue.schema?.anyOf ?? []) as TSchema[]
  if (branches.length === 0 || !issue.errors) return issue
  if (branches.every((b) => b.const !== undefined))
    return {
      path: issue.path,
      message: `Expected one of ${branches.map((b) => JSON.stringify(b.const)).join(', ')}`,
    }
  const meant = branches.findIndex((b) => ofType(b, issue.value))
  const [first] = meant >= 0 ? (issue.errors[meant] ?? []) : []
  return first ? specific({ ...first, summary: undefined }) : issue
}

/** "path parameter id: Expected string to match 'uuid' format", with the field in details. */
function fromValidation(err: ValidationError): ApiError {
  const issue = (err.all as Issue[])[0]
  const first = issue && specific(issue)
  const field = (first?.path ?? '').replace(/^\//, '').replaceAll('/', '.') || err.type
  const where = WHERE[err.type] ?? err.type
  const what = first?.summary || first?.message || 'invalid value'
  const message = field === err.type ? `Invalid ${where}: ${what}.` : `Invalid ${where} "${field}": ${what}.`
  return new ApiError(400, 'VALIDATION_ERROR', message.replace(/\.\.$/, '.'), { field, in: err.type })
}

export function methodNotAllowed(method: string, path: string, methods: string[]): ApiError {
  return new ApiError(
    405,
    'METHOD_NOT_ALLOWED',
    `${method} is not allowed on ${path}; use ${methods.join(', ')}.`,
    { allow: methods },
    { allow: methods.join(', ') },
  )
}

export interface ErrorContext {
  code: string | number
  error: unknown
  path: string
  method: string
  requestId: string
  /**
   * For bodies checked against a shared schema whose every rule has a sentence (a new task, a batch:
   * src/shared/task-input.ts): the words the engine uses, instead of the validator's generic ones.
   */
  describeBody?: (body: unknown) => InputProblem | null
}

/** Maps an error to an ApiError, or null for the unexpected ones (500). */
export function classify(ctx: ErrorContext, allowed: (path: string) => string[]): ApiError | null {
  const { code, error } = ctx
  if (error instanceof ApiError) return error
  if (error instanceof QueueError) return fromQueueError(error)
  if (code === 'PARSE') {
    const cause = (error as Error).cause
    if (cause instanceof ApiError) return cause
    return new ApiError(400, 'MALFORMED_JSON', 'The request body could not be parsed as JSON.')
  }
  if (code === 'VALIDATION') {
    const v = error as ValidationError
    if (v.type === 'response') return null
    const problem = v.type === 'body' ? ctx.describeBody?.(v.value) : null
    if (problem)
      return new ApiError(400, 'VALIDATION_ERROR', problem.message, { field: problem.field, in: 'body' })
    return fromValidation(v)
  }
  if (code === 'NOT_FOUND') {
    const methods = allowed(ctx.path)
    if (methods.length > 0 && !methods.includes(ctx.method))
      return methodNotAllowed(ctx.method, ctx.path, methods)
    return new ApiError(404, 'NOT_FOUND', `No route ${ctx.method} ${ctx.path.slice(0, 200)}.`)
  }
  // The database is away: a temporary condition the client may retry, not a bug to log as one.
  if (isConnectionError(error))
    return new ApiError(
      503,
      'DATABASE_UNAVAILABLE',
      'The database is unreachable right now; try again shortly.',
      undefined,
      { 'retry-after': '1' },
    )
  // postgres.js raises 22P02 (invalid text representation) and friends for values that slipped
  // past validation; they are the client's input, not our failure.
  const pg = (error as { code?: string }).code
  if (typeof pg === 'string' && /^22/.test(pg))
    return new ApiError(400, 'VALIDATION_ERROR', 'A value in the request is out of range or malformed.')
  return null
}

export function internal(log: Logger, ctx: ErrorContext): ApiError {
  log.error('unexpected error', {
    request_id: ctx.requestId,
    method: ctx.method,
    path: ctx.path,
    error: ctx.error,
  })
  return new ApiError(
    500,
    'INTERNAL_ERROR',
    `Something went wrong on our side; quote request id ${ctx.requestId} when reporting it.`,
    { request_id: ctx.requestId },
  )
}
