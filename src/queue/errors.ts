// Errors the engine raises for callers (the API maps each code to an HTTP status in one place).

export type QueueErrorCode =
  | 'TASK_NOT_FOUND'
  | 'INVALID_STATE'
  | 'TASK_TYPE_NOT_REGISTERED'
  | 'TASK_TYPE_NOT_FOUND'
  | 'VALIDATION_ERROR'

export class QueueError extends Error {
  override name = 'QueueError'
  constructor(
    readonly code: QueueErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
  }
}
