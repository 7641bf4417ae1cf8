// Errors the chaos services raise; the API maps them to the envelope with this status.

export type ChaosErrorCode =
  | 'VALIDATION_ERROR'
  | 'TASK_TYPE_NOT_REGISTERED'
  | 'FAULT_NOT_FOUND'
  | 'WORKER_NOT_FOUND'
  | 'WORKER_REMOTE'

const STATUS: Record<ChaosErrorCode, number> = {
  VALIDATION_ERROR: 400,
  TASK_TYPE_NOT_REGISTERED: 400,
  FAULT_NOT_FOUND: 404,
  WORKER_NOT_FOUND: 404,
  WORKER_REMOTE: 409,
}

export class ChaosError extends Error {
  override name = 'ChaosError'
  readonly status: number
  constructor(
    readonly code: ChaosErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
    this.status = STATUS[code]
  }
}
