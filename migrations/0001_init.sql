-- tasklab schema, version 1.
-- Portable across PostgreSQL 14-18 (the embedded database is 18, users' servers may be 14).

-- Declaration order is sort order: ORDER BY priority DESC runs critical first.
-- (The seed stored priority as text and sorted it alphabetically: critical < high < low < normal.)
CREATE TYPE task_priority AS ENUM ('low', 'normal', 'high', 'critical');

CREATE TYPE task_status AS ENUM (
  'pending', 'scheduled', 'running', 'retrying', 'completed', 'failed', 'cancelled'
);

CREATE TYPE breaker_state AS ENUM ('closed', 'open', 'half_open');

CREATE TYPE user_role AS ENUM ('user', 'admin');

CREATE TABLE users (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  username      text NOT NULL,
  email         text NOT NULL,
  password_hash text NOT NULL,
  role          user_role NOT NULL DEFAULT 'user',
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Only a SHA-256 of each bearer token is stored: a leaked table cannot be replayed.
CREATE TABLE sessions (
  token_hash   text PRIMARY KEY,
  user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  last_used_at timestamptz NOT NULL DEFAULT now(),
  kind         text NOT NULL DEFAULT 'session' CHECK (kind IN ('session', 'login_link'))
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- The registry of task types. Workers upsert their types at start; the API refuses tasks of a
-- type that is not here or not active. The circuit breaker is global (one row per type), so every
-- worker process sees the same state; it is written only on failures and on the first success
-- after a failure, never on the happy path.
CREATE TABLE task_types (
  name                      text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
  description               text NOT NULL DEFAULT '',
  is_active                 boolean NOT NULL DEFAULT true,
  paused                    boolean NOT NULL DEFAULT false,
  timeout_ms                integer CHECK (timeout_ms > 0),
  retry_strategy            jsonb,
  payload_schema            jsonb,
  example_payload           jsonb,
  breaker_state             breaker_state NOT NULL DEFAULT 'closed',
  breaker_failures          integer NOT NULL DEFAULT 0,
  breaker_successes         integer NOT NULL DEFAULT 0,
  breaker_opened_at         timestamptz,
  breaker_failure_threshold integer NOT NULL DEFAULT 5 CHECK (breaker_failure_threshold > 0),
  breaker_success_threshold integer NOT NULL DEFAULT 2 CHECK (breaker_success_threshold > 0),
  breaker_cooldown_ms       integer NOT NULL DEFAULT 30000 CHECK (breaker_cooldown_ms >= 0),
  created_at                timestamptz NOT NULL DEFAULT now(),
  updated_at                timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workers (
  id           text PRIMARY KEY,
  host         text NOT NULL,
  pid          integer NOT NULL,
  concurrency  integer NOT NULL,
  -- A worker whose heartbeat is older than its lease is dead; its tasks are rescued.
  lease_ms     integer NOT NULL,
  task_types   text[] NOT NULL DEFAULT '{}',
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  stopped_at   timestamptz
);

CREATE TABLE tasks (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  task_type        text NOT NULL,
  status           task_status NOT NULL DEFAULT 'pending',
  priority         task_priority NOT NULL DEFAULT 'normal',
  payload          jsonb NOT NULL DEFAULT '{}',
  result           jsonb,
  metadata         jsonb NOT NULL DEFAULT '{}',
  retry_strategy   jsonb NOT NULL,
  max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 1000),
  current_attempt  integer NOT NULL DEFAULT 0 CHECK (current_attempt >= 0),
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  scheduled_at     timestamptz,
  -- When the task may next run: scheduled_at for a scheduled task, the backoff's end for a
  -- retrying one, the creation time otherwise. One column keeps the claim to one index range.
  run_at           timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  completed_at     timestamptz,
  created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
  locked_by        text,
  lease_expires_at timestamptz,
  timeout_ms       integer CHECK (timeout_ms > 0),
  idempotency_key  text,
  cancel_requested boolean NOT NULL DEFAULT false,
  CHECK ((status = 'running') = (locked_by IS NOT NULL AND lease_expires_at IS NOT NULL))
);

-- The claim reads this index in order and stops after LIMIT rows: critical first, then oldest.
CREATE INDEX tasks_ready_idx ON tasks (priority DESC, run_at, id)
  WHERE status IN ('pending', 'scheduled', 'retrying');
-- Rescue and heartbeats touch only running rows.
CREATE INDEX tasks_running_idx ON tasks (lease_expires_at) WHERE status = 'running';
-- The worker's "when is the next scheduled or retrying task due?" wake-up timer.
CREATE INDEX tasks_future_idx ON tasks (run_at) WHERE status IN ('scheduled', 'retrying');
-- Listing, stats and ownership: every user query filters by owner first.
CREATE INDEX tasks_owner_idx ON tasks (created_by, created_at DESC);
CREATE INDEX tasks_status_idx ON tasks (status, created_at DESC);
-- A repeat of an idempotency key returns the first task. NULL owners (system tasks) share a scope.
CREATE UNIQUE INDEX tasks_idempotency_idx
  ON tasks (coalesce(created_by, '00000000-0000-0000-0000-000000000000'::uuid), idempotency_key)
  WHERE idempotency_key IS NOT NULL;

CREATE TABLE task_events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task_id     uuid NOT NULL,
  task_type   text NOT NULL,
  at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  from_status task_status,
  to_status   task_status NOT NULL,
  attempt     integer NOT NULL,
  worker_id   text,
  error       text,
  actor       text NOT NULL
);
CREATE INDEX task_events_task_idx ON task_events (task_id, id);

-- The state machine, written once for the database. src/queue/states.ts holds the same table;
-- test/queue/states.test.ts checks every pair against this function so the two cannot drift.
CREATE FUNCTION tasklab_transition_allowed(f task_status, t task_status) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE f
    WHEN 'pending'   THEN t IN ('scheduled', 'running', 'cancelled')
    WHEN 'scheduled' THEN t IN ('pending', 'running', 'cancelled')
    WHEN 'running'   THEN t IN ('completed', 'retrying', 'failed', 'cancelled', 'pending')
    WHEN 'retrying'  THEN t IN ('running', 'failed', 'cancelled')
    WHEN 'failed'    THEN t IN ('pending')
    WHEN 'cancelled' THEN t IN ('pending')
    ELSE false
  END
$$;

-- Statement-level triggers with transition tables: one INSERT into task_events per statement,
-- however many rows it moved, so a batch claim of 50 tasks costs one extra statement, not 50.
-- The actor is whoever set tasklab.actor in the transaction (the API sets 'user:<id>'); without
-- it, a row that has or had a worker is the worker's doing, anything else the system's.
CREATE FUNCTION tasklab_record_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO task_events (task_id, task_type, at, from_status, to_status, attempt, actor)
  SELECT n.id, n.task_type, n.created_at, NULL, n.status, n.current_attempt,
         coalesce(nullif(current_setting('tasklab.actor', true), ''), 'system')
  FROM new_rows n;
  RETURN NULL;
END $$;

CREATE FUNCTION tasklab_record_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad record;
BEGIN
  -- A scheduled task claimed once its time came passes through pending, as in the seed's diagram.
  SELECT o.status AS f, n.status AS t, n.id INTO bad
  FROM old_rows o JOIN new_rows n USING (id)
  WHERE o.status <> n.status AND NOT tasklab_transition_allowed(o.status, n.status)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'illegal task transition % -> % for task %', bad.f, bad.t, bad.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'task_transition';
  END IF;

  INSERT INTO task_events (task_id, task_type, at, from_status, to_status, attempt, worker_id, error, actor)
  SELECT n.id, n.task_type, o.run_at, 'scheduled', 'pending', o.current_attempt, NULL, NULL, 'system'
  FROM old_rows o JOIN new_rows n USING (id)
  WHERE o.status = 'scheduled' AND n.status = 'running'
  UNION ALL
  SELECT n.id, n.task_type, clock_timestamp(),
         CASE WHEN o.status = 'scheduled' AND n.status = 'running' THEN 'pending' ELSE o.status END,
         n.status, n.current_attempt,
         coalesce(n.locked_by, o.locked_by),
         CASE WHEN n.status IN ('retrying', 'failed') THEN n.last_error END,
         coalesce(nullif(current_setting('tasklab.actor', true), ''),
                  CASE WHEN coalesce(n.locked_by, o.locked_by) IS NOT NULL THEN 'worker' ELSE 'system' END)
  FROM old_rows o JOIN new_rows n USING (id)
  WHERE o.status <> n.status;
  RETURN NULL;
END $$;

CREATE TRIGGER tasks_record_insert AFTER INSERT ON tasks
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tasklab_record_insert();
CREATE TRIGGER tasks_record_update AFTER UPDATE ON tasks
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasklab_record_update();
