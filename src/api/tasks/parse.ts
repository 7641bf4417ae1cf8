// Query strings to engine filters, with sentences naming the parameter.
import { parseIsoDateTime } from '../../queue/dates'
import { LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT, type TaskFilter } from '../../queue/queries'
import { PRIORITIES, TASK_STATUSES } from '../../queue/states'
import { badRequest } from '../errors'

const list = (raw: string | undefined) =>
  raw === undefined
    ? undefined
    : raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0)

function date(raw: string | undefined, field: string): Date | undefined {
  if (raw === undefined) return undefined
  const d = parseIsoDateTime(raw)
  if (!d)
    throw badRequest(
      field,
      `${field} must be an ISO 8601 date-time on a real calendar day, such as 2030-01-31T12:00:00Z.`,
    )
  return d
}

/** A comma list whose every item is one of `allowed`. */
function members<T extends string>(
  raw: string | undefined,
  field: string,
  allowed: readonly T[],
): T[] | undefined {
  const items = list(raw)
  if (!items) return undefined
  const bad = items.find((s) => !(allowed as readonly string[]).includes(s))
  if (bad !== undefined)
    throw badRequest(
      field,
      `${field} must be a comma list of ${allowed.join(', ')}; "${bad.slice(0, 40)}" is not one.`,
    )
  return items as T[]
}

export interface RawFilter {
  status?: string
  task_type?: string
  priority?: string
  created_after?: string
  created_before?: string
  q?: string
}

export function parseFilter(raw: RawFilter): TaskFilter {
  const f: TaskFilter = {}
  f.status = members(raw.status, 'status', TASK_STATUSES)
  f.priority = members(raw.priority, 'priority', PRIORITIES)
  const types = list(raw.task_type)
  if (types) f.task_type = types
  f.created_after = date(raw.created_after, 'created_after')
  f.created_before = date(raw.created_before, 'created_before')
  if (raw.q !== undefined && raw.q !== '') f.q = raw.q
  return f
}

export function parsePage(raw: { limit?: string; offset?: string }): { limit: number; offset: number } {
  const limit = raw.limit === undefined ? LIST_DEFAULT_LIMIT : Number(raw.limit)
  if (!Number.isInteger(limit) || limit < 1 || limit > LIST_MAX_LIMIT)
    throw badRequest('limit', `limit must be a whole number from 1 to ${LIST_MAX_LIMIT}.`)
  const offset = raw.offset === undefined ? 0 : Number(raw.offset)
  if (!Number.isInteger(offset) || offset < 0 || offset > 100_000_000)
    throw badRequest('offset', 'offset must be a whole number from 0 to 100000000.')
  return { limit, offset }
}
