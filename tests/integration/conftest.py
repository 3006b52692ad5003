"""Fixtures for haneul's black-box integration tests.

The tests drive a real `haneul serve` process with the real AWS clients (boto3 and awscli from
Debian) and, for the Runtime API, the official Node.js runtime interface client from npm.

Environment:
  HANEUL_BIN   path of the haneul binary (default: <repo>/build/cli/haneul)

Run:  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from lambda_helpers import (
    ACCOUNT,
    REGION,
    ROLE,
    function_arn,
    haneul_bin,
    make_lambda_client,
    make_logs_client,
    make_zip,
)

HERE = os.path.dirname(os.path.abspath(__file__))
AWS_CLI = "/usr/bin/aws"
LISTEN_RE = re.compile(rb"haneul: listening on (http://127\.0\.0\.1:(\d+))")

# The test process itself talks to the server with dummy credentials, and must never pick up
# a user's ~/.aws configuration.
_NOWHERE = os.path.join(tempfile.gettempdir(), "haneul-it-no-such-aws-config")
CLIENT_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_PAGER": "",
    "AWS_CONFIG_FILE": _NOWHERE,
    "AWS_SHARED_CREDENTIALS_FILE": _NOWHERE,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_MAX_ATTEMPTS": "1",
    "AWS_RETRY_MODE": "standard",
}
os.environ.update(CLIENT_ENV)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_SESSION_TOKEN", None)


def server_env():
    """The server's environment: the caller's, minus anything Lambda-ish.

    The function environment variables (AWS_REGION, _HANDLER, TZ, ...) must come from the
    server, not leak through from the test process, or the env-var tests would prove nothing.
    """
    env = {}
    for key, value in os.environ.items():
        if key.startswith(("AWS_", "LAMBDA_", "_HANDLER", "_X_AMZN")) or key == "TZ":
            continue
        env[key] = value
    return env


_LIVE_SERVERS = []


class HaneulServer:
    """One `haneul serve` process on a free port, stdout+stderr captured to a log file."""

    def __init__(self, data_dir, log_path, args=()):
        self.data_dir = data_dir
        self.args = list(args)  # extra `haneul serve` flags
        self.log_path = log_path
        self.proc = None
        self.endpoint = None
        self.port = None
        self.sandbox = None  # the backend the server chose, from its "listening on" line
        os.makedirs(data_dir, exist_ok=True)

    def start(self, timeout=30.0):
        binary = haneul_bin()
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            pytest.fail(f"haneul binary not found at {binary} (build it, or set HANEUL_BIN)",
                        pytrace=False)
        start_offset = self.log_size()
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [binary, "serve", "--port", "0", "--host", "127.0.0.1", "--data", self.data_dir]
                + (["--sandbox", os.environ["HANEUL_TEST_SANDBOX"]]
                   if os.environ.get("HANEUL_TEST_SANDBOX") else []) + self.args,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=server_env(),
                start_new_session=True)
        finally:
            log.close()
        _LIVE_SERVERS.append(self)
        deadline = time.monotonic() + timeout
        while True:
            with open(self.log_path, "rb") as f:
                f.seek(start_offset)
                m = LISTEN_RE.search(f.read())
            if m:
                self.endpoint = m.group(1).decode()
                self.port = int(m.group(2))
                with open(self.log_path, "rb") as f:
                    f.seek(start_offset)
                    backend = re.search(rb"sandbox (\w+)\)", f.read())
                self.sandbox = backend.group(1).decode() if backend else None
                assert self.port != 0, "server printed port 0 instead of the port it bound"
                return self
            if self.proc.poll() is not None:
                pytest.fail(f"haneul serve exited with {self.proc.returncode} before listening:\n"
                            f"{self.log_text(start_offset)}", pytrace=False)
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"haneul serve did not print 'haneul: listening on' within {timeout}s:\n"
                            f"{self.log_text(start_offset)}", pytrace=False)
            time.sleep(0.02)

    def stop(self, timeout=15.0):
        """SIGTERM, wait, then SIGKILL (the server and, if it hangs, its process group)."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if self in _LIVE_SERVERS:
            _LIVE_SERVERS.remove(self)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(10)
        return proc.returncode

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_text(self, offset=0, limit=30000):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError:
            return "(no server log)"
        if len(data) > limit:
            data = b"[... earlier output cut ...]\n" + data[-limit:]
        return data.decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# Print the server's log next to every failing test.

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item._haneul_log_offsets = {id(s): s.log_size() for s in _LIVE_SERVERS}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    offsets = getattr(item, "_haneul_log_offsets", {})
    for srv in list(_LIVE_SERVERS):
        state = "running" if srv.alive() else f"EXITED ({srv.proc.returncode if srv.proc else '?'})"
        rep.sections.append((f"haneul serve log since test start [{state}] {srv.log_path}",
                             srv.log_text(offsets.get(id(srv), 0))))
    item.config._haneul_failed = True


def pytest_terminal_summary(terminalreporter, config):
    logs = getattr(config, "_haneul_logs", [])
    if logs and getattr(config, "_haneul_failed", False):
        terminalreporter.write_line("haneul server logs (full): " + ", ".join(logs))


# ---------------------------------------------------------------------------------------------
# Server and clients.

@pytest.fixture(scope="session")
def server(tmp_path_factory, request):
    base = tmp_path_factory.mktemp("haneul")
    srv = HaneulServer(str(base / "data"), str(base / "server.log"))
    request.config._haneul_logs = getattr(request.config, "_haneul_logs", []) + [srv.log_path]
    srv.start()
    yield srv
    was_alive = srv.alive()
    srv.stop()
    if not was_alive:
        print("haneul serve died during the session; its log:\n" + srv.log_text())


@pytest.fixture(scope="session")
def endpoint(server):
    return server.endpoint


@pytest.fixture
def server_factory(tmp_path, request):
    """Start extra servers (e.g. for restart tests); all are stopped at the end of the test."""
    started = []

    def start(data_dir=None, args=()):
        data_dir = data_dir or str(tmp_path / "data")
        srv = HaneulServer(data_dir, str(tmp_path / "server.log"), args)
        logs = getattr(request.config, "_haneul_logs", [])
        if srv.log_path not in logs:
            request.config._haneul_logs = logs + [srv.log_path]
        started.append(srv)
        return srv.start()

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture(scope="session")
def lambda_client(endpoint):
    return make_lambda_client(endpoint)


@pytest.fixture(scope="session")
def raw_lambda_client(endpoint):
    """A lambda client that does not validate parameters, to send values AWS must reject."""
    return make_lambda_client(endpoint, parameter_validation=False)


@pytest.fixture(scope="session")
def logs_client(endpoint):
    return make_logs_client(endpoint)


class AwsResult:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def json(self):
        import json
        return json.loads(self.stdout) if self.stdout.strip() else None


class AwsCli:
    """Runs Debian's awscli v2 against the server: aws(*args) -> AwsResult."""

    def __init__(self, endpoint, cwd):
        self.endpoint = endpoint
        self.cwd = cwd
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTHONPATH", "PYTHONHOME", "PYENV_VERSION"))}
        env.update(CLIENT_ENV)
        self.env = env

    def __call__(self, *args, check=True, timeout=180):
        cmd = [AWS_CLI, *args, "--endpoint-url", self.endpoint, "--output", "json",
               "--cli-read-timeout", "120", "--cli-connect-timeout", "10"]
        proc = subprocess.run(cmd, env=self.env, cwd=self.cwd, capture_output=True, text=True,
                              timeout=timeout)
        res = AwsResult(proc)
        if check and res.rc != 0:
            raise AssertionError(f"{' '.join(cmd)} failed with {res.rc}:\n{res.stderr}\n{res.stdout}")
        return res


@pytest.fixture
def aws(endpoint, tmp_path):
    return AwsCli(endpoint, str(tmp_path))


@pytest.fixture(scope="session")
def zip_bytes():
    """make_zip(files) -> zip bytes; files maps name -> str|bytes|(content, mode)."""
    return make_zip


class FunctionFactory:
    """Creates functions with unique names and deletes them at the end of the test."""

    def __init__(self, client):
        self.client = client
        self.created = []

    @staticmethod
    def unique(prefix="it"):
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    def create(self, files=None, *, name=None, zip_file=None, runtime="python3.12",
               handler="app.handler", **kwargs):
        name = name or self.unique()
        if zip_file is None:
            zip_file = make_zip(files)
        resp = self.client.create_function(FunctionName=name, Runtime=runtime, Role=ROLE,
                                           Handler=handler, Code={"ZipFile": zip_file}, **kwargs)
        self.created.append(name)
        return resp

    def track(self, name):
        self.created.append(name)

    def cleanup(self):
        for name in self.created:
            try:
                self.client.delete_function(FunctionName=name)
            except ClientError:
                pass
            except Exception:  # server gone: nothing to clean
                pass


@pytest.fixture
def functions(lambda_client):
    factory = FunctionFactory(lambda_client)
    yield factory
    factory.cleanup()


@pytest.fixture(scope="session")
def arn():
    return function_arn


# ---------------------------------------------------------------------------------------------
# The official Node runtime interface client (npm aws-lambda-ric), installed in this folder.

RIC_DIR = os.path.join(HERE, "node_modules", "aws-lambda-ric")


@pytest.fixture(scope="session")
def node_ric():
    """Absolute path of aws-lambda-ric's entry point; runs `npm install` here if it is missing."""
    entry = os.path.join(RIC_DIR, "index.mjs")
    native = os.path.join(RIC_DIR, "rapid-client.node")
    if not (os.path.exists(entry) and os.path.exists(native)):
        npm = shutil.which("npm")
        assert npm, "npm is needed to install aws-lambda-ric (tests/integration/package.json)"
        proc = subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=HERE,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0 and os.path.exists(native), (
            f"npm install in {HERE} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    node = shutil.which("node") or "/usr/bin/node"
    return {"node": node, "entry": entry}


__all__ = ["ACCOUNT", "REGION", "ROLE"]
