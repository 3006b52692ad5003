"""A fake Lambda Runtime API for the managed-runtime tests, and helpers to run a runtime.

FakeRuntimeApi is a threaded HTTP/1.1 server on 127.0.0.1:<ephemeral port> that implements the
part of the Runtime API a runtime talks to (2018-06-01):
  GET  /runtime/invocation/next          parks until a test queues an invocation, then hands it
                                         over with the Lambda-Runtime-* headers
  POST /runtime/invocation/{id}/response recorded, answered 202
  POST /runtime/invocation/{id}/error    recorded, answered 202
  POST /runtime/init/error               recorded, answered 202
Every request is also recorded with the client's address, so tests can check that a runtime
keeps one connection alive.

Thread-safety: all state is guarded by one Condition; the server's handler threads and the test
thread meet only through it. Waits never sleep blindly: they wake on a notification and, so that
a crashed runtime fails a test at once instead of at the timeout, re-check the runtime process
every 50 ms.

RuntimeProcess starts one bootstrap as a subprocess with the Lambda environment pointing at a
FakeRuntimeApi, sending its stdout and stderr to files that tests read.
"""

import collections
import http.server
import json
import os
import subprocess
import threading
import time
import uuid

RUNTIME_PREFIX = "/2018-06-01/runtime"
DEFAULT_ARN = "arn:aws:lambda:us-east-1:123456789012:function:test-fn"


class Posted:
    """One POST a runtime made: kind is 'response', 'error' or 'init_error'."""

    def __init__(self, kind, request_id, headers, body):
        self.kind = kind
        self.request_id = request_id
        self.headers = headers  # lower-cased names
        self.body = body  # bytes

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "Posted(%s, %s, %r)" % (self.kind, self.request_id, self.body[:500])


class RuntimeDied(AssertionError):
    pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A test that kills its runtime may do so while a reply is still being written.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeRuntimeApi:
    def __init__(self):
        self._cond = threading.Condition()
        self._queue = collections.deque()
        self._posts = {}  # request id -> Posted
        self._init_errors = []
        self._requests = []  # (method, path, client address)
        self._closed = False
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                api._record(self)
                if self.path != RUNTIME_PREFIX + "/invocation/next":
                    return self._reply(404, b'{"errorType":"NotFound"}')
                invocation = api._take_next()
                if invocation is None:  # shutting down
                    self.close_connection = True
                    return self._reply(500, b'{"errorType":"ShuttingDown"}')
                headers, body = invocation
                self.send_response(200)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                api._record(self)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                parts = self.path[len(RUNTIME_PREFIX) :].strip("/").split("/")
                if self.path == RUNTIME_PREFIX + "/init/error":
                    api._post(Posted("init_error", None, headers, body))
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    api._post(Posted(parts[2], parts[1], headers, body))
                else:
                    return self._reply(404, b'{"errorType":"NotFound"}')
                self._reply(202, b'{"status":"OK"}')

            def _reply(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    @property
    def address(self):
        host, port = self._server.server_address[:2]
        return "%s:%d" % (host, port)

    def close(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    # -- what tests call ------------------------------------------------------------------

    def enqueue(
        self,
        event=None,
        *,
        raw_body=None,
        request_id=None,
        deadline_ms=None,
        arn=DEFAULT_ARN,
        trace_id="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        client_context=None,
        cognito_identity=None,
        content_type="application/json",
    ):
        """Queues one invocation and returns its request id."""
        request_id = request_id or str(uuid.uuid4())
        if deadline_ms is None:
            deadline_ms = int(time.time() * 1000) + 30000
        headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": arn,
        }
        if content_type is not None:
            headers["Content-Type"] = content_type
        if trace_id is not None:
            headers["Lambda-Runtime-Trace-Id"] = trace_id
        if client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = json.dumps(client_context)
        if cognito_identity is not None:
            headers["Lambda-Runtime-Cognito-Identity"] = json.dumps(cognito_identity)
        body = raw_body if raw_body is not None else json.dumps(event).encode()
        with self._cond:
            self._queue.append((headers, body))
            self._cond.notify_all()
        return request_id

    def wait_for_result(self, request_id, process=None, timeout=10):
        """The /response or /error posted for request_id."""
        return self._wait(lambda: self._posts.get(request_id), process, timeout, "a result for " + request_id)

    def invoke(self, event=None, process=None, timeout=10, **kwargs):
        """Queues an invocation and waits for its result."""
        return self.wait_for_result(self.enqueue(event, **kwargs), process, timeout)

    def wait_for_init_error(self, process=None, timeout=10):
        return self._wait(
            lambda: self._init_errors[0] if self._init_errors else None,
            process,
            timeout,
            "an init error",
        )

    def wait_for_polls(self, count, process=None, timeout=10):
        """Waits until the runtime has called GET /next `count` times (it is then parked)."""

        def polls():
            n = sum(1 for method, path, _ in self._requests if method == "GET" and path.endswith("/next"))
            return n if n >= count else None

        return self._wait(polls, process, timeout, "%d GET /next" % count)

    @property
    def requests(self):
        with self._cond:
            return list(self._requests)

    @property
    def init_errors(self):
        with self._cond:
            return list(self._init_errors)

    # -- server side ----------------------------------------------------------------------

    def _record(self, handler):
        with self._cond:
            self._requests.append((handler.command, handler.path, handler.client_address))
            self._cond.notify_all()

    def _take_next(self):
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            return None if self._closed else self._queue.popleft()

    def _post(self, posted):
        with self._cond:
            if posted.kind == "init_error":
                self._init_errors.append(posted)
            else:
                self._posts[posted.request_id] = posted
            self._cond.notify_all()

    def _wait(self, probe, process, timeout, what):
        # A runtime posts, gets its 202, and only then can exit: a post it made is always
        # recorded by the time its exit is visible, so "exited and nothing recorded" is final.
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = probe()
                if found is not None:
                    return found
                if process is not None and process.poll() is not None:
                    raise RuntimeDied(
                        "runtime exited with %s while waiting for %s\n--- stdout\n%s\n--- stderr\n%s"
                        % (process.returncode, what, process.stdout(), process.stderr())
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        "timed out waiting for %s%s"
                        % (what, "" if process is None else "\n--- stderr\n" + process.stderr())
                    )
                self._cond.wait(min(remaining, 0.05))


class RuntimeProcess:
    """One runtime started the way the invoker starts it, with the Lambda environment."""

    def __init__(self, argv, api, task_root, handler, workdir, extra_env=None):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "AWS_LAMBDA_RUNTIME_API": api.address if api is not None else "127.0.0.1:9",
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(task_root),
            "AWS_LAMBDA_FUNCTION_NAME": "test-fn",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/test-fn",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]0123456789abcdef",
            "AWS_REGION": "us-east-1",
        }
        env.update(extra_env or {})
        self._stdout_path = os.path.join(workdir, "runtime.stdout")
        self._stderr_path = os.path.join(workdir, "runtime.stderr")
        with open(self._stdout_path, "wb") as out, open(self._stderr_path, "wb") as err:
            self._popen = subprocess.Popen(
                argv, env=env, cwd=str(task_root), stdin=subprocess.DEVNULL, stdout=out, stderr=err
            )

    @property
    def pid(self):
        return self._popen.pid

    @property
    def returncode(self):
        return self._popen.returncode

    def poll(self):
        return self._popen.poll()

    def wait(self, timeout=10):
        return self._popen.wait(timeout)

    def stdout(self):
        with open(self._stdout_path, encoding="utf-8", errors="replace", newline="") as f:
            return f.read()

    def stderr(self):
        with open(self._stderr_path, encoding="utf-8", errors="replace", newline="") as f:
            return f.read()

    def kill(self):
        if self._popen.poll() is None:
            self._popen.kill()
        self._popen.wait()
