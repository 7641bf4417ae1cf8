// Bulk actions as plain calls of the public per-task routes, a few at a time. "All matching this
// filter" first collects the ids (the action itself changes what the filter matches), then acts.
import type { paths } from '../../src/api/client'
import { api, dataOf } from './api'

export type BulkAction = 'cancel' | 'retry' | 'delete'

export interface BulkResult {
  done: number
  skipped: number
  errors: string[]
}

const CONCURRENCY = 6
const PAGE = 1000
export const MAX_BULK = 20_000

/** The filters of GET /tasks, as the task list keeps them in the URL. */
export type TaskFilter = Omit<
  NonNullable<paths['/api/v1/tasks']['get']['parameters']['query']>,
  'limit' | 'offset'
>

export async function collectIds(filter: TaskFilter): Promise<string[]> {
  const ids: string[] = []
  for (let offset = 0; offset < MAX_BULK; offset += PAGE) {
    const query = { ...filter, limit: String(PAGE), offset: String(offset) }
    const data = await dataOf(api.GET('/api/v1/tasks', { params: { query } }))
    for (const t of data) ids.push(t.id)
    if (data.length < PAGE) break
  }
  return ids
}

export async function runBulk(
  action: BulkAction,
  ids: string[],
  onProgress?: (n: number) => void,
): Promise<BulkResult> {
  const result: BulkResult = { done: 0, skipped: 0, errors: [] }
  let next = 0
  const one = async (id: string) => {
    try {
      const path = { params: { path: { id } } }
      if (action === 'delete') await dataOf(api.DELETE('/api/v1/tasks/{id}', path))
      else if (action === 'cancel') await dataOf(api.POST('/api/v1/tasks/{id}/cancel', path))
      else await dataOf(api.POST('/api/v1/tasks/{id}/retry', path))
      result.done++
    } catch (err) {
      // 409: the task is in a state where the action does not apply (e.g. retry of a completed task).
      if ((err as { status?: number }).status === 409 || (err as { status?: number }).status === 404)
        result.skipped++
      else if (result.errors.length < 5) result.errors.push((err as Error).message)
    }
    onProgress?.(result.done + result.skipped)
  }
  const lanes = Array.from({ length: Math.min(CONCURRENCY, ids.length) }, async () => {
    while (next < ids.length) await one(ids[next++]!)
  })
  await Promise.all(lanes)
  return result
}

export function describe(action: BulkAction, r: BulkResult): string {
  const verb = { cancel: 'cancelled', retry: 'retried', delete: 'deleted' }[action]
  const parts = [`${r.done} ${verb}`]
  if (r.skipped) parts.push(`${r.skipped} skipped (not in a state that allows ${action})`)
  if (r.errors.length) parts.push(`errors: ${r.errors.join('; ')}`)
  return parts.join(', ')
}
