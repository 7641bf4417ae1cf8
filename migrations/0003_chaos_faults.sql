-- Chaos fault rules (tasklab chaos, CONTRACT §5). Rules live in the database so that every worker
-- process sees the rules an admin created through any API process. Workers cache them and reload
-- on a NOTIFY tasklab_control '{"kind":"faults"}' and every few seconds: never a query per task.
-- Nothing reads this table unless tasklab runs with --chaos.
CREATE TABLE chaos_faults (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- A registered type, or '*' for every type.
  task_type   text NOT NULL CHECK (task_type = '*' OR task_type ~ '^[a-z][a-z0-9_]{0,62}$'),
  -- fail: the attempt throws (retryable, or permanent when `permanent`); latency: it waits
  -- latency_ms first; hang: it never returns, so the attempt's timeout ends it; crash: the worker
  -- process kills itself with SIGKILL mid-task.
  kind        text NOT NULL CHECK (kind IN ('fail', 'latency', 'hang', 'crash')),
  probability double precision NOT NULL DEFAULT 1 CHECK (probability > 0 AND probability <= 1),
  permanent   boolean NOT NULL DEFAULT false,
  latency_ms  integer CHECK (latency_ms BETWEEN 1 AND 3600000),
  -- Applies only to tasks whose metadata contains this object (e.g. {"poison": true}).
  match       jsonb CHECK (match IS NULL OR jsonb_typeof(match) = 'object'),
  message     text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
  CHECK (expires_at > created_at),
  CHECK ((kind = 'latency') = (latency_ms IS NOT NULL)),
  CHECK (kind = 'fail' OR NOT permanent)
);
CREATE INDEX chaos_faults_expires_idx ON chaos_faults (expires_at);
