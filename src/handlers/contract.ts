// The contract between the worker and a task handler. A handler returns its result (any JSON) or
// throws: PermanentError goes straight to the dead letter queue, anything else is retried by the
// task's strategy. The AbortSignal fires on timeout and on cancellation; a handler must stop then.
import { Kind, type Static, type TSchema } from '@sinclair/typebox'
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler'
import { Value } from '@sinclair/typebox/value'
import type { Sql } from '../db/connect'
import type { Logger } from '../log'
import { compilePayloadSchema, type PayloadCheck } from '../queue/json-schema'

export class PermanentError extends Error {
  override name = 'PermanentError'
}

export class RetryableError extends Error {
  override name = 'RetryableError'
}

export interface HandlerContext {
  id: string
  taskType: string
  attempt: number
  maxAttempts: number
  metadata: Record<string, unknown>
  createdBy: string | null
  createdAt: Date
  signal: AbortSignal
  log: Logger
  /** The database, for handlers that read it (report_generation). */
  sql: Sql
}

export interface TaskHandler<S extends TSchema = TSchema> {
  type: string
  description: string
  schema: S
  example: Static<S>
  /** Per-type default timeout; the task's own timeout_ms wins. */
  timeoutMs?: number
  run(payload: Static<S>, ctx: HandlerContext): Promise<unknown>
}

/** Identity, with the payload type inferred from the schema. */
export function defineHandler<S extends TSchema>(h: TaskHandler<S>): TaskHandler<S> {
  return h
}

// Compiled once per schema: Value.Errors walked the schema for every task, 8 % of a worker's CPU
// draining no-op tasks (bun --cpu-prof); the compiled check is a plain function.
const checks = new WeakMap<TSchema, TypeCheck<TSchema>>()
// Handler modules may give plain JSON Schema (no TypeBox Kind symbol): Ajv checks those.
const plainChecks = new WeakMap<object, PayloadCheck>()

/** Checks a payload against the handler's schema; a mismatch is permanent and names the field. */
export function validatePayload<S extends TSchema>(schema: S, payload: unknown): Static<S> {
  if (!(Kind in schema)) {
    let plain = plainChecks.get(schema)
    if (!plain) {
      plain = compilePayloadSchema(schema)
      plainChecks.set(schema, plain)
    }
    const bad = plain(payload)
    if (bad) throw new PermanentError(`Invalid payload: ${bad.field}: ${bad.message}`)
    return payload as Static<S>
  }
  let check = checks.get(schema)
  if (!check) {
    check = TypeCompiler.Compile(schema)
    checks.set(schema, check)
  }
  if (check.Check(payload)) return payload as Static<S>
  const first = Value.Errors(schema, payload).First()
  if (!first) return payload as Static<S>
  const field = first.path ? `payload${first.path.replaceAll('/', '.')}` : 'payload'
  throw new PermanentError(`Invalid payload: ${field}: ${first.message}`)
}

/** Sleeps, rejecting at once when the signal fires. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
