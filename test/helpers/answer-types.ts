// The answer types of the API (generated from its OpenAPI document, src/api/client/schema.d.ts)
// for a concrete path, so the tests' `call('GET', `/api/v1/tasks/${id}`)` reads a typed body: a
// field the server never sends is a type error in a test too. `/api/v1/tasks/${string}/events`
// matches the route `/api/v1/tasks/{id}/events` segment by segment (a `{param}` takes any one
// segment); a query string is ignored.
import type { ErrorEnvelope, paths } from '../../src/api/client'

type Split<S extends string> = S extends `${infer H}/${infer T}` ? [H, ...Split<T>] : [S]
type NoQuery<S extends string> = S extends `${infer P}?${string}` ? P : S

type Matches<A extends string[], B extends string[]> = A extends [
  infer a extends string,
  ...infer ra extends string[],
]
  ? B extends [infer b extends string, ...infer rb extends string[]]
    ? b extends `{${string}}`
      ? Matches<ra, rb>
      : [a] extends [b]
        ? Matches<ra, rb>
        : false
    : false
  : B extends []
    ? true
    : false

/** The route template of `paths` that a concrete path matches; a route without parameters wins. */
export type RouteOf<P extends string> = P extends string // one at a time, for a union of paths
  ? NoQuery<P> extends keyof paths
    ? NoQuery<P>
    : {
        [K in keyof paths & string]: Matches<Split<NoQuery<P>>, Split<K>> extends true ? K : never
      }[keyof paths & string]
  : never

type Json<R> = R extends { content: { 'application/json': infer B } } ? B : never
type Answers<K extends keyof paths, M extends string> = K extends keyof paths
  ? Lowercase<M> extends keyof paths[K]
    ? paths[K][Lowercase<M>] extends { responses: infer R }
      ? Json<R[keyof R]>
      : never
    : never
  : never

type Envelope = { success: boolean; data?: unknown; message?: string | null; meta?: unknown; error?: unknown }
type Merge<U> = (U extends unknown ? (x: Omit<U, 'success'>) => void : never) extends (x: infer I) => void
  ? I
  : never

/**
 * The body of `method path` as a test reads it: the success envelope's fields and the error
 * envelope's together (a test asserts the status first; TypeScript cannot narrow on that), with
 * `success` a boolean. A path that is no route gives the error envelope only.
 */
export type AnswerOf<M extends string, P extends string> = [Answers<RouteOf<P>, M>] extends [never]
  ? ErrorEnvelope
  : Merge<Answers<RouteOf<P>, M> & Envelope> & { success: boolean }
