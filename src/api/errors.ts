// Every error the API answers, as one class with a code and an HTTP status, and the one table that
// maps the engine's QueueError codes to statuses. src/api/http/on-error.ts turns all of them into
// the envelope {"success": false, "error": {code, message, details?}}.
import { QueueError, type QueueErrorCode } from '../queue/errors'
import { ApiError as AnsweredError } from './client'

/** The error a client receives (src/api/client), plus the response headers that go with it. */
export class ApiError extends AnsweredError {
  constructor(
    status: number,
    code: string,
    message: string,
    details?: Record<string, unknown>,
    /** Extra response headers (Allow, Retry-After, WWW-Authenticate). */
    readonly headers?: Record<string, string>,
  ) {
    super(status, code, message, details)
  }
}

/** The engine's codes; a task of another user is TASK_NOT_FOUND, never a 403. */
const QUEUE_STATUS: Record<QueueErrorCode, number> = {
  TASK_NOT_FOUND: 404,
  TASK_TYPE_NOT_FOUND: 404,
  INVALID_STATE: 409,
  TASK_TYPE_NOT_REGISTERED: 400,
  VALIDATION_ERROR: 400,
}

export function fromQueueError(err: QueueError): ApiError {
  return new ApiError(QUEUE_STATUS[err.code] ?? 400, err.code, err.message, err.details)
}

export const unauthorized = (message = 'Sign in first: send Authorization: Bearer <session_token>.') =>
  new ApiError(401, 'UNAUTHORIZED', message, undefined, { 'www-authenticate': 'Bearer' })

export const forbidden = (message: string) => new ApiError(403, 'FORBIDDEN', message)

export const badRequest = (field: string, message: string) =>
  new ApiError(400, 'VALIDATION_ERROR', message, { field })

export { QueueError }
