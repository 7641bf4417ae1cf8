// The answer schema of GET /storage: what the database holds, what holds VACUUM back, retention.
import { Type as T } from '@sinclair/typebox'
import { Named, Nullable, Timestamp } from '../contract'

export const TableStorage = Named(
  'TableStorage',
  T.Object({
    table: T.String(),
    rows: T.Number({ description: 'live rows (estimate from pg_stat_user_tables)' }),
    dead_rows: T.Number({ description: 'row versions VACUUM has not reclaimed yet' }),
    total_bytes: T.Number({ description: 'table + indexes + TOAST' }),
    table_bytes: T.Number(),
    index_bytes: T.Number(),
    toast_bytes: T.Number(),
    inserted: T.Number(),
    updated: T.Number(),
    hot_updated: T.Number(),
    deleted: T.Number(),
    last_vacuum: Nullable(Timestamp),
    last_autovacuum: Nullable(Timestamp),
    last_analyze: Nullable(Timestamp),
    last_autoanalyze: Nullable(Timestamp),
    vacuum_count: T.Number(),
    autovacuum_count: T.Number(),
  }),
)

export const OpenTransaction = Named(
  'OpenTransaction',
  T.Object({
    pid: T.Integer(),
    application_name: T.String(),
    client: T.String({ description: 'address:port, or "local" for a unix socket' }),
    user: Nullable(T.String()),
    state: Nullable(T.String()),
    xact_start: Timestamp,
    query_start: Nullable(Timestamp),
    age_secs: T.Number({ description: 'seconds since the transaction began' }),
    xmin_age: Nullable(T.Integer({ description: 'transactions begun since its snapshot' })),
    wait_event: Nullable(T.String()),
    query: T.String({ description: 'its current or last statement, cut to 200 characters' }),
  }),
)

const Growth = T.Object({ bytes: T.Number(), dead_rows: T.Number() })
const RetentionSecs = T.Object({
  completed_secs: T.Integer(),
  cancelled_secs: T.Integer(),
  failed_secs: T.Integer(),
})

export const Storage = Named(
  'Storage',
  T.Object({
    at: Timestamp,
    server: T.Object({
      version: T.String(),
      database: T.String(),
      database_bytes: T.Number(),
      autovacuum: T.Boolean(),
      prepared_transactions: T.Integer(),
    }),
    tables: T.Array(TableStorage),
    totals: T.Object({ rows: T.Number(), dead_rows: T.Number(), total_bytes: T.Number() }),
    oldest_transaction: Nullable(OpenTransaction),
    open_transactions: T.Array(OpenTransaction, { description: 'oldest first, at most 5' }),
    long_transaction_secs: T.Number({ description: 'transactions older than this are warned about' }),
    warnings: T.Array(T.String({ description: 'a sentence naming what needs attention' })),
    retention: T.Object({
      ...RetentionSecs.properties,
      overrides: T.Array(
        T.Object({
          task_type: T.String(),
          completed_secs: Nullable(T.Integer()),
          cancelled_secs: Nullable(T.Integer()),
          failed_secs: Nullable(T.Integer()),
        }),
        { description: 'types with their own retention (null: the default above)' },
      ),
    }),
    projection: Nullable(
      T.Object({
        bytes_per_hour: T.Number(),
        in_a_day_bytes: T.Number(),
        window_secs: T.Number({ description: 'the span of samples the rate was measured over' }),
      }),
      'none until 10 s of samples',
    ),
    history: T.Array(
      T.Object({
        at: Timestamp,
        total_bytes: T.Number(),
        dead_rows: T.Number(),
        tasks: Growth,
        task_events: Growth,
      }),
      { description: 'a sample every 5 s while someone looks, the last 15 minutes' },
    ),
  }),
)
