// The success envelope of every JSON answer: {"success": true, "data": ..., "message": string|null}.
// Lists add `meta` with the total count, so `.data[]` stays the list the seed's jq examples read.

export interface Ok<T> {
  success: true
  data: T
  message: string | null
}

export function ok<T>(data: T, message: string | null = null): Ok<T> {
  return { success: true, data, message }
}

export interface Page {
  total: number
  limit: number
  offset: number
}

export function page<T>(data: T[], meta: Page, message: string | null = null): Ok<T[]> & { meta: Page } {
  return { success: true, data, message, meta }
}
