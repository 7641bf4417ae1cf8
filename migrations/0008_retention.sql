-- Retention of finished tasks (issue 15). The defaults live in configuration
-- (STARTER__RETENTION__*_SECS); a type may override each of them here. NULL = the configured
-- default, 0 = keep for ever. The bound (10 years) matches the configuration's.
ALTER TABLE task_types
  ADD COLUMN retention_completed_secs integer CHECK (retention_completed_secs BETWEEN 0 AND 315360000),
  ADD COLUMN retention_cancelled_secs integer CHECK (retention_cancelled_secs BETWEEN 0 AND 315360000),
  ADD COLUMN retention_failed_secs    integer CHECK (retention_failed_secs BETWEEN 0 AND 315360000);

-- No new index on tasks: a task finished before a cutoff was created before it too, so the purge
-- walks the existing tasks_status_idx (status, created_at DESC) up to the cutoff and filters on
-- completed_at. Another index would cost every enqueue and every finish a write, for a job that
-- runs once a minute.
