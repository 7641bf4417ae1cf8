-- The claim reads only claimable work (issue 13, item 4). The ready index leads with task_type, and
-- the claim (src/queue/claim.ts) reads it once per admitted type (not paused, active, breaker not
-- open): waiting tasks of a paused type or of a type whose breaker is open are never visited.
-- Before: with 200,000 due tasks of a paused type, claiming 10 of another type filtered all
-- 200,000 rows of (priority DESC, run_at, id). The numbers are in the commit that adds this file.
DROP INDEX tasks_ready_idx;
CREATE INDEX tasks_ready_idx ON tasks (task_type, priority DESC, run_at, id)
  WHERE status IN ('pending', 'scheduled', 'retrying');
