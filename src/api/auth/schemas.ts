// The answer schemas of the auth routes: an account and a session.
import { Type as T } from '@sinclair/typebox'
import { Named, OneOf, Timestamp } from '../contract'

export const User = Named(
  'User',
  T.Object({
    id: T.String({ format: 'uuid' }),
    username: T.String(),
    email: T.String(),
    role: OneOf(['user', 'admin'] as const),
    created_at: Timestamp,
  }),
)

export const Session = Named(
  'Session',
  T.Object({
    session_token: T.String({ description: 'send as Authorization: Bearer <session_token>' }),
    expires_at: Timestamp,
    user: User,
  }),
)

export const SessionsClosed = T.Object({ sessions_closed: T.Integer() })

export const PasswordChanged = T.Object({
  other_sessions_closed: T.Integer({ description: "this account's other sessions, ended by the change" }),
})
