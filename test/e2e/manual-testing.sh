#!/usr/bin/env bash
# The seed guide's "Manual Testing" walkthrough, command for command, against a running tasklab.
# Usage: test/e2e/manual-testing.sh http://127.0.0.1:PORT
# Only the host:port differs from the guide; then it waits (30 s at most) for the worker to
# complete the task and prints the stats. Exits non-zero when any step does not do what the guide says.
set -euo pipefail
BASE="${1:?usage: manual-testing.sh http://HOST:PORT}"
fail() { echo "FAIL: $*" >&2; exit 1; }

# Create test user and get token
curl -sf -X POST "$BASE/api/v1/auth/register" \
  -H "Content-Type: application/json" \
  -d '{"username":"test","email":"test@example.com","password":"password123"}' >/dev/null \
  || fail "register"

TOKEN=$(curl -s -X POST "$BASE/api/v1/auth/login" \
  -H "Content-Type: application/json" \
  -d '{"username":"test","password":"password123"}' \
  | python3 -c "import json,sys; print(json.load(sys.stdin)['data']['session_token'])")
[ -n "$TOKEN" ] || fail "login gave no token"

# Create tasks
CREATED=$(curl -s -w '\n%{http_code}' -X POST "$BASE/api/v1/tasks" \
  -H "Authorization: Bearer $TOKEN" \
  -H "Content-Type: application/json" \
  -d '{"task_type":"email","payload":{"to":"test@example.com","subject":"Test","body":"Hello"}}')
[ "$(tail -n1 <<<"$CREATED")" = 201 ] || fail "create: $CREATED"
ID=$(head -n1 <<<"$CREATED" | python3 -c "import json,sys; print(json.load(sys.stdin)['data']['id'])")
echo "created task $ID"

# Monitor processing
for _ in $(seq 1 300); do
  STATS=$(curl -s -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/tasks/stats")
  COMPLETED=$(python3 -c "import json,sys; print(json.load(sys.stdin)['data']['completed'])" <<<"$STATS")
  [ "$COMPLETED" = 1 ] && break
  sleep 0.1
done
echo "$STATS"
[ "$COMPLETED" = 1 ] || fail "the task was not completed within 30 s: $STATS"
STATUS=$(curl -s -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/tasks/$ID" \
  | python3 -c "import json,sys; print(json.load(sys.stdin)['data']['status'])")
[ "$STATUS" = completed ] || fail "task $ID is $STATUS"
echo "OK"
