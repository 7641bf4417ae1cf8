#!/usr/bin/env python3
"""A tasklab worker in Python, standard library only (docs/http-workers.md walks through it).

It registers its task types with their payload schemas, then claims tasks with a long poll, runs
each in a thread while a heartbeat keeps its lease, and reports the result or the error. A cancel
reaches a running task through the heartbeat's `cancel_requested`; a task that ran past its
timeout, or whose lease was lost, is abandoned without a report (the server has moved it on).

    TASKLAB_URL=http://127.0.0.1:3000 TASKLAB_TOKEN=<worker token> python3 worker.py --id py-1

The tests run this file as a real process (test/process/python-worker.test.ts).
"""

import argparse
import datetime
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request


class PermanentError(Exception):
    """Raise it in a handler to fail the task at once: retrying would not help."""


class Stopped(Exception):
    """The attempt's stop event fired: cancelled, timed out or lease lost."""


class LeaseLost(Exception):
    """409 LEASE_LOST: the task is no longer ours (rescued, timed out, or never claimed by us)."""


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code = status, code


class Client:
    def __init__(self, base_url, token):
        self.base = base_url.rstrip("/") + "/api/v1"
        self.token = token

    def call(self, method, path, body=None, timeout=45):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                return json.load(res)["data"]
        except urllib.error.HTTPError as e:
            try:
                err = json.load(e)["error"]
            except Exception:
                err = {"code": "HTTP_ERROR", "message": str(e)}
            if err["code"] == "LEASE_LOST":
                raise LeaseLost(err["message"]) from None
            raise ApiError(e.code, err["code"], err["message"]) from None


# --- handlers: one function per task type, registered with its payload schema -------------------

HANDLERS = {}


def handler(task_type, description, schema):
    def register(fn):
        HANDLERS[task_type] = {"run": fn, "description": description, "schema": schema}
        return fn

    return register


@handler(
    "py_text",
    "Count the words of a text and reverse it (the Python example worker)",
    {
        "type": "object",
        "required": ["text"],
        "properties": {
            "text": {"type": "string"},
            # Knobs to watch the queue at work: work in steps, fail the first attempts, or fail for good.
            "steps": {"type": "integer", "minimum": 0, "maximum": 10000},
            "step_seconds": {"type": "number", "minimum": 0, "maximum": 60},
            "fail_until_attempt": {"type": "integer", "minimum": 0},
            "permanent_error": {"type": "string"},
        },
        "additionalProperties": False,
    },
)
def py_text(payload, ctx):
    for _ in range(payload.get("steps", 0)):
        # wait() returns True as soon as the stop event fires: a cancel stops the work at once.
        if ctx.stop.wait(payload.get("step_seconds", 0.1)):
            raise Stopped(ctx.stop_reason)
    if payload.get("permanent_error"):
        raise PermanentError(payload["permanent_error"])
    if ctx.attempt <= payload.get("fail_until_attempt", 0):
        raise RuntimeError(f"transient failure on attempt {ctx.attempt}")
    text = payload["text"]
    return {"words": len(text.split()), "reversed": text[::-1], "attempt": ctx.attempt, "worker": ctx.worker_id}


# --- the worker ------------------------------------------------------------------------------------


class Context:
    def __init__(self, task, worker_id):
        self.task_id = task["id"]
        self.attempt = task["current_attempt"]
        self.max_attempts = task["max_attempts"]
        self.worker_id = worker_id
        self.stop = threading.Event()
        self.stop_reason = None

    def halt(self, reason):
        if not self.stop.is_set():
            self.stop_reason = reason
            self.stop.set()


def log(worker_id, message, **fields):
    extra = "".join(f" {k}={v}" for k, v in fields.items())
    print(f"[{worker_id}] {message}{extra}", flush=True)


def seconds_until(iso):
    when = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds()


class Worker:
    def __init__(self, client, worker_id, concurrency, wait_ms):
        self.client, self.id = client, worker_id
        self.concurrency, self.wait_ms = concurrency, wait_ms
        self.running = {}
        self.lock = threading.Condition()
        self.stopping = False

    def register(self):
        for task_type, h in HANDLERS.items():
            body = {"task_type": task_type, "description": h["description"], "payload_schema": h["schema"]}
            self.client.call("POST", "/tasks/types", body)
        log(self.id, "registered", types=",".join(HANDLERS))

    def run(self):
        while not self.stopping:
            with self.lock:
                while len(self.running) >= self.concurrency and not self.stopping:
                    self.lock.wait()
                free = self.concurrency - len(self.running)
            if self.stopping:
                break
            try:
                body = {"worker_id": self.id, "types": list(HANDLERS), "limit": free, "wait_ms": self.wait_ms}
                tasks = self.client.call("POST", "/workers/claim", body)
            except (ApiError, OSError) as e:
                log(self.id, "claim failed; retrying in 1 s", error=e)
                time.sleep(1)
                continue
            if not tasks:
                log(self.id, f"idle: nothing to claim within {self.wait_ms} ms")
            for task in tasks:
                ctx = Context(task, self.id)
                with self.lock:
                    self.running[task["id"]] = ctx
                threading.Thread(target=self.execute, args=(task, ctx), daemon=True).start()
        with self.lock:
            while self.running:
                self.lock.wait()

    def heartbeat(self, task, ctx):
        # Three beats per lease: one lost request does not cost the lease.
        interval = max(0.2, seconds_until(task["lease_expires_at"]) / 3)
        while not ctx.stop.wait(interval):
            try:
                beat = self.client.call("POST", f"/tasks/{task['id']}/heartbeat", {"worker_id": self.id})
                if beat["cancel_requested"]:
                    ctx.halt("cancelled")
            except LeaseLost:
                ctx.halt("lease lost")
            except (ApiError, OSError) as e:
                log(self.id, "heartbeat failed", task=task["id"], error=e)

    def execute(self, task, ctx):
        log(self.id, "running", task=task["id"], type=task["task_type"], attempt=ctx.attempt)
        threading.Thread(target=self.heartbeat, args=(task, ctx), daemon=True).start()
        timer = threading.Timer(task["timeout_ms"] / 1000, ctx.halt, args=("timed out",))
        timer.start()
        try:
            result = HANDLERS[task["task_type"]]["run"](task["payload"], ctx)
            outcome = ("complete", {"worker_id": self.id, "result": result})
        except PermanentError as e:
            outcome = ("fail", {"worker_id": self.id, "error": str(e), "permanent": True})
        except Exception as e:
            outcome = ("fail", {"worker_id": self.id, "error": str(e) or type(e).__name__})
        finally:
            timer.cancel()
        reason = ctx.stop_reason
        ctx.halt("finished")
        try:
            if reason in ("lease lost", "timed out"):
                # The server has failed or rescued this attempt already: nothing left to report.
                log(self.id, f"abandoned: {reason}", task=task["id"])
            else:
                done = self.client.call("POST", f"/tasks/{task['id']}/{outcome[0]}", outcome[1])
                log(self.id, done["status"], task=task["id"], attempt=ctx.attempt)
        except LeaseLost as e:
            log(self.id, "report refused: lease lost", task=task["id"], error=e)
        except (ApiError, OSError) as e:
            log(self.id, "report failed", task=task["id"], error=e)
        finally:
            with self.lock:
                del self.running[task["id"]]
                self.lock.notify_all()


def main():
    p = argparse.ArgumentParser(description="A tasklab worker in Python (standard library only).")
    p.add_argument("--url", default=os.environ.get("TASKLAB_URL", "http://127.0.0.1:3000"))
    p.add_argument("--token", default=os.environ.get("TASKLAB_TOKEN"), help="worker token or admin session")
    p.add_argument("--id", default=os.environ.get("WORKER_ID", f"py-{os.uname().nodename}-{os.getpid()}"))
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--wait-ms", type=int, default=10000, help="long-poll wait per claim (0-30000)")
    args = p.parse_args()
    if not args.token:
        p.error("a token is needed: --token or TASKLAB_TOKEN (the server's STARTER__WORKER__TOKEN)")
    worker = Worker(Client(args.url, args.token), args.id, args.concurrency, args.wait_ms)

    def stop(signum, _frame):
        # Finish what runs, claim nothing more. A claim in flight ends within --wait-ms.
        log(worker.id, "stopping: finishing running tasks")
        worker.stopping = True
        with worker.lock:
            worker.lock.notify_all()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.register()
    worker.run()
    log(worker.id, "stopped")


if __name__ == "__main__":
    sys.exit(main())
