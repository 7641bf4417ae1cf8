// PATCH /tasks/types/{type} {"retention": {...}}: a type's own retention of finished tasks, checked
// by the same rule as STARTER__RETENTION__*_SECS (whole seconds, 0 = for ever, at most 10 years).
import { t } from 'elysia'
import { ConfigError, retentionSecs } from '../../config'
import type { TaskTypeRow } from '../../queue/registry'
import type { TypePatch } from '../../queue/type-admin'
import { badRequest } from '../errors'

const Secs = t.Optional(
  t.Union([t.Number(), t.Null()], {
    description: 'seconds; 0 keeps for ever; null = the configured default',
  }),
)

export const RetentionOverrides = t.Object({
  completed_secs: Secs,
  cancelled_secs: Secs,
  failed_secs: Secs,
})

type Overrides = {
  completed_secs?: number | null
  cancelled_secs?: number | null
  failed_secs?: number | null
}

export function retentionPatch(body: Overrides | undefined): TypePatch {
  if (!body) return {}
  const check = (key: keyof Overrides): number | null | undefined => {
    const v = body[key]
    if (v === undefined || v === null) return v
    try {
      return retentionSecs(String(v), `retention.${key}`)
    } catch (err) {
      if (err instanceof ConfigError) throw badRequest(`retention.${key}`, err.message)
      throw err
    }
  }
  return {
    retention_completed_secs: check('completed_secs'),
    retention_cancelled_secs: check('cancelled_secs'),
    retention_failed_secs: check('failed_secs'),
  }
}

/** The type's overrides as the API shows them (null: the configured default applies). */
export function retentionView(row: TaskTypeRow) {
  return {
    completed_secs: row.retention_completed_secs ?? null,
    cancelled_secs: row.retention_cancelled_secs ?? null,
    failed_secs: row.retention_failed_secs ?? null,
  }
}
