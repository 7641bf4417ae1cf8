// The contract of a tasklab handler module. `tasklab init-handler <type>` writes this file next to
// an example handler, so that an editor completes `ctx` and checks what `run` returns; tasklab's
// own module loader is typed by it too. Load modules with `tasklab start --handlers <file or folder>`.

/** Any value JSON can hold: what a handler returns is stored as the task's `result`. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json }

export interface HandlerLog {
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
}

export interface HandlerContext {
  /** Fires on the attempt's timeout and when a user cancels the task: stop then. */
  signal: AbortSignal
  /** 1 on the first attempt, 2 on the first retry, … */
  attempt: number
  maxAttempts: number
  taskId: string
  taskType: string
  /** The task's metadata as created. */
  metadata: Record<string, unknown>
  /** Lines go to tasklab's log, tagged with the task, its type and the attempt. */
  log: HandlerLog
}

export interface Handler<P = Record<string, unknown>> {
  /** 1-63 lowercase letters, digits or underscores, starting with a letter; not a built-in name. */
  type: string
  description?: string
  /**
   * JSON Schema (draft-07) of the payload, TypeBox schemas included. Payloads are checked against it
   * when a task is created (400 naming the field) and again before `run`.
   */
  schema?: Record<string, unknown>
  /** A sample payload: the panel's create form starts from it. */
  example?: P
  /** Per-attempt timeout; a task's own `timeout_ms` and an admin's type setting win. */
  timeoutMs?: number
  /** Return the result (JSON). Throw to fail the attempt; it is retried by the task's strategy. */
  run(payload: P, ctx: HandlerContext): Json | undefined | Promise<Json | undefined>
}

/** Throw one (or any error with `permanent: true`) to fail the task at once, without retries. */
export interface PermanentFailure extends Error {
  permanent: true
}

/** What a module exports: `export default handler`, `export default [a, b]`, or named exports. */
export type HandlerModule = Handler<never> | Handler<never>[]
