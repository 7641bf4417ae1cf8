// What a caller may send to create a task: the TypeBox schemas of a new task, a batch and a retry
// strategy, with every limit written here once. The API declares them as its request bodies (so the
// OpenAPI document shows the limits) and the engine checks its input against the same compiled
// schemas, because it is also called without the API (tests, the chaos lab, the bench, handlers).
// What a schema cannot say stays in the engine: a real calendar date for scheduled_at, JSON byte
// sizes, which fields a strategy's type takes and whether its numbers make sense together.
// Pure: imports TypeBox and src/shared only.
import { type Static, Type as T, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { MAX_DELAY_MS } from './retry'
import { PRIORITIES } from './states'

export const TASK_TYPE_MAX_LENGTH = 63
export const MAX_ATTEMPTS_LIMIT = 1000
export const TIMEOUT_MS_LIMIT = 86_400_000
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255
export const SCHEDULED_AT_MAX_LENGTH = 64
export const MULTIPLIER_MIN = 1
export const MULTIPLIER_MAX = 100
/** Byte sizes as JSON: no schema keyword measures them, the engine does (src/queue/enqueue.ts). */
export const PAYLOAD_LIMIT_BYTES = 1024 * 1024
export const METADATA_LIMIT_BYTES = 64 * 1024
export const BATCH_LIMIT = 1000

const Json = T.Record(T.String(), T.Unknown())
const Nullable = <S extends TSchema>(s: S) => T.Union([s, T.Null()])
const delay = () => T.Optional(T.Number({ minimum: 0, maximum: MAX_DELAY_MS }))

export const RETRY_TYPES = ['exponential', 'linear', 'fixed'] as const

/**
 * A strategy as sent: every field's type and bounds. Which fields each type takes (and needs) is
 * checked by the engine's parseRetryStrategy; additional properties stay allowed here so that it
 * sees them and names them (a validator that strips unknown fields would hide the mistake).
 */
export const RetryStrategyInput = T.Object(
  {
    type: T.Union(RETRY_TYPES.map((k) => T.Literal(k))),
    base_delay_ms: delay(),
    multiplier: T.Optional(T.Number({ minimum: MULTIPLIER_MIN, maximum: MULTIPLIER_MAX })),
    max_delay_ms: delay(),
    increment_ms: delay(),
    interval_ms: delay(),
    max_attempts: T.Optional(T.Integer({ minimum: 1, maximum: MAX_ATTEMPTS_LIMIT })),
  },
  {
    additionalProperties: true,
    description:
      'The seed\'s strategy JSON: {"type": "exponential", "base_delay_ms", "multiplier", "max_delay_ms", "max_attempts"}, linear or fixed',
  },
)

export const NewTaskInput = T.Object({
  task_type: T.String({
    minLength: 1,
    maxLength: TASK_TYPE_MAX_LENGTH,
    description: 'a registered, active type (GET /tasks/types)',
  }),
  payload: T.Optional(Json),
  priority: T.Optional(
    T.Union(
      PRIORITIES.map((p) => T.Literal(p)),
      { description: 'low, normal (default), high or critical' },
    ),
  ),
  metadata: T.Optional(Nullable(Json)),
  retry_strategy: T.Optional(Nullable(RetryStrategyInput)),
  max_attempts: T.Optional(Nullable(T.Integer({ minimum: 1, maximum: MAX_ATTEMPTS_LIMIT }))),
  scheduled_at: T.Optional(
    Nullable(
      T.String({
        maxLength: SCHEDULED_AT_MAX_LENGTH,
        description: 'ISO 8601; a future time makes the task scheduled',
      }),
    ),
  ),
  timeout_ms: T.Optional(Nullable(T.Integer({ minimum: 1, maximum: TIMEOUT_MS_LIMIT }))),
  idempotency_key: T.Optional(Nullable(T.String({ minLength: 1, maxLength: IDEMPOTENCY_KEY_MAX_LENGTH }))),
})
export type NewTaskInput = Static<typeof NewTaskInput>

const BATCH_SIZE = { minItems: 1, maxItems: BATCH_LIMIT }
export const BatchInput = T.Object({ tasks: T.Array(NewTaskInput, BATCH_SIZE) })

const newTaskCheck = TypeCompiler.Compile(NewTaskInput)
const strategyCheck = TypeCompiler.Compile(RetryStrategyInput)
// The batch's own bounds, before each task is checked (and named by its index) on its own.
const batchSizeCheck = TypeCompiler.Compile(T.Array(T.Unknown(), BATCH_SIZE))

/** One sentence per field of a new task, for a value the schema refused; the numbers come from above. */
const TASK_SENTENCES: Record<Exclude<keyof NewTaskInput, 'retry_strategy'>, (value: unknown) => string> = {
  task_type: () => `task_type is required and must be a string of 1 to ${TASK_TYPE_MAX_LENGTH} characters.`,
  payload: () => 'payload must be a JSON object.',
  metadata: () => 'metadata must be a JSON object.',
  priority: (v) =>
    `priority must be one of ${PRIORITIES.join(', ')}; got ${String(JSON.stringify(v)).slice(0, 40)}.`,
  max_attempts: () => `max_attempts must be a whole number from 1 to ${MAX_ATTEMPTS_LIMIT}.`,
  scheduled_at: () =>
    'scheduled_at must be an ISO 8601 date-time on a real calendar day, such as 2030-01-31T12:00:00Z.',
  timeout_ms: () =>
    `timeout_ms must be a whole number of milliseconds from 1 to ${TIMEOUT_MS_LIMIT} (one day).`,
  idempotency_key: () => `idempotency_key must be a string of 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} characters.`,
}

type StrategyField = keyof Static<typeof RetryStrategyInput>

const STRATEGY_SENTENCES: Record<StrategyField, string> = {
  type: `retry_strategy.type must be ${RETRY_TYPES.slice(0, -1).join(', ')} or ${RETRY_TYPES.at(-1)}.`,
  base_delay_ms: delaySentence('base_delay_ms'),
  multiplier: `retry_strategy.multiplier must be from ${MULTIPLIER_MIN} to ${MULTIPLIER_MAX}.`,
  max_delay_ms: delaySentence('max_delay_ms'),
  increment_ms: delaySentence('increment_ms'),
  interval_ms: delaySentence('interval_ms'),
  max_attempts: `retry_strategy.max_attempts must be a whole number from 1 to ${MAX_ATTEMPTS_LIMIT}.`,
}

function delaySentence(field: string): string {
  return `retry_strategy.${field} must be a number of 0 or more and at most ${MAX_DELAY_MS} (7 days).`
}

/** The sentence for a new task's field whose value is refused. */
export function newTaskSentence(field: keyof typeof TASK_SENTENCES, value: unknown): string {
  return TASK_SENTENCES[field](value)
}

/** A sentence when `tasks` is not an array of 1 to BATCH_LIMIT entries, else null. */
export function batchSizeProblem(tasks: unknown): string | null {
  if (batchSizeCheck.Check(tasks)) return null
  if (Array.isArray(tasks) && tasks.length > 0)
    return `A batch holds at most ${BATCH_LIMIT} tasks; got ${tasks.length}.`
  return 'tasks must be a non-empty array.'
}

export interface InputProblem {
  /** The top-level field of the task (or 'body' when it is not an object). */
  field: string
  message: string
}

/**
 * The first thing the new-task schema refuses in `input`, as the field and a sentence naming it, or
 * null when the shape and every bound hold. A bad retry strategy is described by retryStrategyProblem.
 */
export function newTaskProblem(input: unknown): InputProblem | null {
  if (!input || typeof input !== 'object' || Array.isArray(input))
    return { field: 'body', message: 'A task must be a JSON object.' }
  // Check first: the compiled check is the enqueue hot path, the error walk only runs on a refusal.
  if (newTaskCheck.Check(input)) return null
  const first = newTaskCheck.Errors(input).First()
  if (!first) return null
  const field = first.path.split('/')[1] ?? ''
  const value = (input as Record<string, unknown>)[field]
  if (field === 'retry_strategy')
    return { field, message: retryStrategyProblem(value) ?? 'retry_strategy must be an object or null.' }
  // Every error of an object schema lies under one of its properties; the fallback is for safety.
  if (!Object.hasOwn(TASK_SENTENCES, field))
    return { field: 'body', message: `A task is not valid: ${first.message}.` }
  return { field, message: newTaskSentence(field as keyof typeof TASK_SENTENCES, value) }
}

/** A task's problem as part of a batch: its field and sentence carry its index. */
export function inBatch(problem: InputProblem, index: number): InputProblem {
  return { field: `tasks[${index}].${problem.field}`, message: `tasks[${index}]: ${problem.message}` }
}

/** The first thing the batch schema refuses in a body `{ tasks: [...] }`, or null. */
export function batchProblem(body: unknown): InputProblem | null {
  const tasks = body && typeof body === 'object' ? (body as { tasks?: unknown }).tasks : undefined
  const size = batchSizeProblem(tasks)
  if (size) return { field: 'tasks', message: size }
  for (const [i, task] of (tasks as unknown[]).entries()) {
    const problem = newTaskProblem(task)
    if (problem) return inBatch(problem, i)
  }
  return null
}

/** The first thing the strategy schema refuses, as a sentence naming the field, or null. */
export function retryStrategyProblem(input: unknown): string | null {
  if (!input || typeof input !== 'object' || Array.isArray(input))
    return `retry_strategy must be an object with a "type" of ${RETRY_TYPES.slice(0, -1).join(', ')} or ${RETRY_TYPES.at(-1)}.`
  if (strategyCheck.Check(input)) return null
  const first = strategyCheck.Errors(input).First()
  if (!first) return null
  const field = first.path.split('/')[1] as StrategyField
  return STRATEGY_SENTENCES[field] ?? `retry_strategy is not valid: ${first.message}.`
}
