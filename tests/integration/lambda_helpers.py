"""Helpers shared by the integration tests (imported by conftest.py and the test modules)."""

import base64
import hashlib
import io
import json
import os
import re
import time
import urllib.error
import urllib.request
import zipfile

import boto3
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BIN = os.path.join(os.path.dirname(os.path.dirname(HERE)), "build", "cli", "haneul")
REGION = "us-east-1"
ACCOUNT = "000000000000"
ROLE = "arn:aws:iam::000000000000:role/haneul-integration"

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
START_RE = re.compile(r"START RequestId: (?P<id>\S+) Version: (?P<version>\S+)")
END_RE = re.compile(r"END RequestId: (?P<id>\S+)")
REPORT_RE = re.compile(
    r"REPORT RequestId: (?P<id>\S+)\tDuration: (?P<duration>\d+(?:\.\d+)?) ms"
    r"\tBilled Duration: (?P<billed>\d+) ms\tMemory Size: (?P<memory>\d+) MB"
    r"\tMax Memory Used: (?P<used>\d+) MB(?P<init>\tInit Duration: (?P<init_ms>\d+(?:\.\d+)?) ms)?")
# The format documented for REPORT durations is two decimals ("Duration: 1.23 ms").
TWO_DECIMALS_RE = re.compile(r"^\d+\.\d{2}$")


def haneul_bin():
    """The haneul binary under test: $HANEUL_BIN or <repo>/build/cli/haneul."""
    return os.environ.get("HANEUL_BIN") or DEFAULT_BIN


def make_lambda_client(endpoint, **config):
    cfg = Config(retries={"max_attempts": 0}, read_timeout=120, connect_timeout=10, **config)
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name=REGION)
    return session.client("lambda", endpoint_url=endpoint, config=cfg)


def make_logs_client(endpoint):
    cfg = Config(retries={"max_attempts": 0}, read_timeout=60, connect_timeout=10)
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name=REGION)
    return session.client("logs", endpoint_url=endpoint, config=cfg)


def function_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def make_zip(files):
    """Zip bytes from {name: str | bytes | (content, mode)}.

    Files named `bootstrap` and files starting with '#!' get mode 0755, others 0644.
    Timestamps are fixed so the same files always give the same bytes (and CodeSha256).
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            content = files[name]
            mode = None
            if isinstance(content, tuple):
                content, mode = content
            if isinstance(content, str):
                content = content.encode()
            if mode is None:
                executable = name.rsplit("/", 1)[-1] == "bootstrap" or content.startswith(b"#!")
                mode = 0o755 if executable else 0o644
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.create_system = 3  # unix, so external_attr carries the mode
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    return buf.getvalue()


def sha256_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class _ErrorPayload(dict):
    """A function-error payload: a missing key means the test expected success; say why."""

    def __init__(self, value, inv):
        super().__init__(value)
        self._inv = inv

    def __missing__(self, key):
        raise AssertionError(f"expected a result with {key!r}, got a function error: {self._inv}")


class Invocation:
    """The parts of a boto3 Invoke response the tests look at."""

    def __init__(self, resp):
        self.resp = resp
        self.raw = resp["Payload"].read()
        self.status = resp["StatusCode"]
        self.function_error = resp.get("FunctionError")
        self.executed_version = resp.get("ExecutedVersion")
        self.request_id = resp["ResponseMetadata"].get("RequestId")
        self.headers = resp["ResponseMetadata"].get("HTTPHeaders", {})
        self.log = base64.b64decode(resp["LogResult"]).decode("utf-8", "replace") \
            if resp.get("LogResult") else None

    @property
    def payload(self):
        value = json.loads(self.raw) if self.raw else None
        if self.function_error and isinstance(value, dict):
            return _ErrorPayload(value, self)
        return value

    def report(self):
        """The REPORT line of this request in the tail log, as a dict (asserts it exists)."""
        assert self.log is not None, "no LogResult in the response"
        for m in REPORT_RE.finditer(self.log):
            if m.group("id") == self.request_id:
                return m.groupdict()
        raise AssertionError(f"no REPORT line for {self.request_id} in the log tail:\n{self.log!r}")

    def __repr__(self):
        return (f"Invocation(status={self.status}, error={self.function_error}, "
                f"request_id={self.request_id}, payload={self.raw[:2000]!r}, log={self.log!r})")


def invoke(client, name, payload=None, *, raw=None, tail=True, **kwargs):
    body = raw if raw is not None else json.dumps({} if payload is None else payload).encode()
    args = {"FunctionName": name, "Payload": body}
    if tail:
        args["LogType"] = "Tail"
    args.update(kwargs)
    return Invocation(client.invoke(**args))


def assert_log_frame(inv, version="$LATEST", memory=128, cold=None):
    """START/END/REPORT of inv.request_id are in its tail log, in order and well formed."""
    log = inv.log
    rid = inv.request_id
    assert rid, "the response has no x-amzn-RequestId"
    start = f"START RequestId: {rid} Version: {version}"
    end = f"END RequestId: {rid}"
    assert start in log, f"missing {start!r} in:\n{log}"
    assert end in log, f"missing {end!r} in:\n{log}"
    rep = inv.report()
    assert log.index(start) < log.index(end) < log.index(f"REPORT RequestId: {rid}"), log
    assert TWO_DECIMALS_RE.match(rep["duration"]), f"Duration not in 'N.NN ms' form: {rep}"
    duration = float(rep["duration"])
    billed = int(rep["billed"])
    # Billed Duration is Duration rounded up to the ms; on a cold start it may include the
    # Init Duration (custom runtimes and images always did; since 2025 all runtimes do).
    allowed = [duration]
    if rep["init"]:
        allowed.append(duration + float(rep["init_ms"]))
    assert any(int(d) <= billed <= int(d) + 2 for d in allowed), (
        f"Billed Duration {billed} ms is neither Duration {duration} ms rounded up to the ms "
        f"nor Duration + Init Duration: {rep}")
    assert int(rep["memory"]) == memory, rep
    assert int(rep["used"]) > 0, rep
    if rep["init"]:
        assert TWO_DECIMALS_RE.match(rep["init_ms"]), f"Init Duration not in 'N.NN ms' form: {rep}"
    if cold is True:
        assert rep["init"], f"cold start without '\\tInit Duration: X ms' in REPORT: {log!r}"
    elif cold is False:
        assert not rep["init"], f"warm start with an Init Duration in REPORT: {log!r}"
    return rep


def sign_and_send(endpoint, method, path, body=b"", headers=None, service="lambda", timeout=60):
    """A raw HTTP request signed with SigV4 (as a real client would), via urllib.

    Returns (status, headers, body bytes)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    if isinstance(body, str):
        body = body.encode()
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    req = AWSRequest(method=method, url=endpoint + path, data=body, headers=hdrs)
    SigV4Auth(Credentials("test", "test"), service, REGION).add_auth(req)
    prepared = req.prepare()
    ureq = urllib.request.Request(prepared.url, data=body if body else None, method=method,
                                  headers=dict(prepared.headers.items()))
    try:
        with urllib.request.urlopen(ureq, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def poll(fn, timeout=10.0, interval=0.1):
    """Call fn until it returns a truthy value (returned) or timeout (last value returned)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
