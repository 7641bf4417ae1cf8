// Type-level checks of AnswerOf/RouteOf (answer-types.ts), run by `bun run typecheck`: each line
// fails to compile if a concrete path stops resolving to its route, or a wrong field typechecks.
import type { AnswerOf, RouteOf } from './answer-types'

type Eq<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
declare const id: string
declare function route<P extends string>(p: P): RouteOf<P>

export const events: Eq<typeof _events, '/api/v1/tasks/{id}/events'> = true
const _events = route(`/api/v1/tasks/${id}/events`)
export const one: Eq<typeof _one, '/api/v1/tasks/{id}'> = true
const _one = route(`/api/v1/tasks/${id}`)
// A fixed path wins over the parameter route it also matches.
export const stats: Eq<typeof _stats, '/api/v1/tasks/stats'> = true
const _stats = route('/api/v1/tasks/stats')
export const query: Eq<typeof _query, '/api/v1/tasks'> = true
const _query = route(`/api/v1/tasks?status=${id}`)
export const none: Eq<typeof _none, never> = true
const _none = route('/api/v1/no-such-route')

declare const task: AnswerOf<'GET', `/api/v1/tasks/${string}`>
export const status: string = task.data.status
export const code: string = task.error.code
// @ts-expect-error the server never sends this field
task.data.pagination
