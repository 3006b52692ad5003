"""SnapStart for Node through the criu backend (issue #6), with boto3 against a real `haneul serve`:
a nodejs function whose init takes over a second is published (Pending -> Active), and new
environments of the version are criu restores of the initialised runtime: Restore Duration and no
Init Duration, after-restore hooks in every copy, no random state shared between copies. And the
bad inputs: a before-snapshot hook failing or criu dump failing fails the version with the reason;
a corrupt image, criu failing or hanging mid-restore falls back to a cold start, said in the
environment's log; never a hung invocation. Skipped when the host's criu would not pass ProbeCriu
(not installed, older than 4.1, or `criu check` failing).
"""
import json
import os
import re
import subprocess
import threading

import pytest
from botocore.exceptions import ClientError

from lambda_helpers import invoke, make_lambda_client, make_logs_client, make_zip, poll

RESTORE_RE = re.compile(
    r"Restore Duration: (?P<restore>\d+\.\d{2}) ms\tBilled Restore Duration: (?P<billed>\d+) ms")


def criu_usable():
    """Why criu cannot back SnapStart here (as snapshot::ProbeCriu decides), or None."""
    criu = next((c for c in ("/usr/local/sbin/criu", "/usr/sbin/criu", "/usr/bin/criu")
                 if os.access(c, os.X_OK)), None)
    if not criu:
        return "criu is not installed (scripts/build-criu.sh)"
    version = subprocess.run([criu, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"Version: (\d+)\.(\d+)", version)
    if not m or (int(m[1]), int(m[2])) < (4, 1):
        return f"criu is too old: {version.strip()!r}"
    check = subprocess.run([criu, "check"], capture_output=True, text=True)
    if check.returncode != 0:
        return "criu check failed: " + (check.stdout + check.stderr).strip().splitlines()[-1]
    return None


_WHY = criu_usable()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=f"criu backend unusable: {_WHY}")

HEAVY_INIT = r"""
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { registerBeforeSnapshot, registerAfterRestore } = require('snapshot-restore');

// The heavy part of init, paid once at PublishVersion: a blocking 1.2 s wait.
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1200);
const state = { before: 0, after: 0, initType: process.env.AWS_LAMBDA_INITIALIZATION_TYPE,
                initUuid: crypto.randomUUID() };

registerBeforeSnapshot(async () => { state.before += 1; });
registerAfterRestore(() => {
  state.after += 1;
  fs.writeFileSync(path.join(os.tmpdir(), 'owner'), String(process.env.AWS_LAMBDA_LOG_STREAM_NAME));
});

exports.handler = async (event) => {
  if (event.hold) await new Promise((resolve) => setTimeout(resolve, event.hold * 1000));
  const owner = path.join(os.tmpdir(), 'owner');
  return {
    ...state,
    runtimeInitType: process.env.AWS_LAMBDA_INITIALIZATION_TYPE,
    stream: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    uuid: crypto.randomUUID(),
    webUuid: globalThis.crypto.randomUUID(),
    random: Math.random(),
    bytes: crypto.randomBytes(16).toString('hex'),
    tmp: os.tmpdir(),
    owner: fs.existsSync(owner) ? fs.readFileSync(owner, 'utf8') : null,
  };
};
"""


def wait_for_state(client, name, version, timeout=60.0):
    def settled():
        config = client.get_function_configuration(FunctionName=name, Qualifier=version)
        return config if config["State"] != "Pending" else None
    config = poll(settled, timeout=timeout)
    assert config, f"{name}:{version} stayed Pending for {timeout} s"
    return config


def node_function(client, name, code=HEAVY_INIT):
    return client.create_function(
        FunctionName=name, Runtime="nodejs20.x", Role="arn:aws:iam::000000000000:role/x",
        Handler="index.handler", Code={"ZipFile": make_zip({"index.js": code})}, Timeout=30,
        SnapStart={"ApplyOn": "PublishedVersions"})


def publish_active(client, name):
    published = client.publish_version(FunctionName=name)
    assert published["State"] == "Pending", published
    config = wait_for_state(client, name, published["Version"])
    assert config["State"] == "Active", config
    return published["Version"]


def image_dir(server, name, version):
    return os.path.join(server.data_dir, "snapshots", name, version, "criu")


def test_node_publish_restores_copies_through_criu(server_factory):
    server = server_factory()
    client = make_lambda_client(server.endpoint)
    node_function(client, "criu-heavy")
    version = publish_active(client, "criu-heavy")
    assert "criu-heavy:1: criu dump of" in server.log_text()

    # Several copies at once: each invocation holds its environment, so each needs its own.
    results = [None] * 3
    def call(i):
        results[i] = invoke(client, "criu-heavy", {"hold": 0.5}, Qualifier=version)
    threads = [threading.Thread(target=call, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bodies = []
    for inv in results:
        assert inv.status == 200 and not inv.function_error, inv
        assert "Init Duration" not in inv.log, inv.log
        restore = RESTORE_RE.search(inv.log)
        assert restore, f"no Restore Duration in REPORT:\n{inv.log}"
        assert int(restore["billed"]) >= int(float(restore["restore"]))
        body = json.loads(inv.raw)
        assert body["before"] == 1 and body["after"] == 1, body
        assert body["initType"] == "snap-start" and body["runtimeInitType"] == "snap-start"
        # The after-restore hook ran in this copy, with this copy's environment and TMPDIR.
        assert body["owner"] == body["stream"], body
        bodies.append(body)
    # One init (the template's), three copies that share none of their random state.
    assert len({b["initUuid"] for b in bodies}) == 1, bodies
    for key in ("stream", "uuid", "webUuid", "random", "bytes", "tmp"):
        assert len({b[key] for b in bodies}) == 3, (key, bodies)

    warm = invoke(client, "criu-heavy", {}, Qualifier=version)
    assert not RESTORE_RE.search(warm.log) and "Init Duration" not in warm.log, warm.log

    # Metadata (backend criu) and the image live in the data directory until the version goes.
    metadata = os.path.join(server.data_dir, "snapshots", "criu-heavy", f"{version}.snap")
    with open(metadata, "rb") as f:
        data = f.read()
    assert data[:8] == b"HNLSNAP\0" and b'"backend":"criu"' in data
    assert os.path.isfile(os.path.join(image_dir(server, "criu-heavy", version),
                                       "haneul-criu.manifest"))
    client.delete_function(FunctionName="criu-heavy", Qualifier=version)
    assert not os.path.exists(metadata)
    assert not os.path.exists(image_dir(server, "criu-heavy", version))


def test_node_latest_cold_starts_and_old_node_is_refused(server_factory):
    server = server_factory()
    client = make_lambda_client(server.endpoint)
    node_function(client, "criu-latest", HEAVY_INIT.replace("0, 1200", "0, 1"))
    inv = invoke(client, "criu-latest", {})
    assert inv.status == 200 and inv.report()["init"], inv.log
    assert json.loads(inv.raw)["initType"] == "on-demand"
    with pytest.raises(ClientError) as error:
        client.create_function(
            FunctionName="criu-old", Runtime="nodejs16.x", Role="arn:aws:iam::000000000000:role/x",
            Handler="index.handler", Code={"ZipFile": make_zip({"index.js": HEAVY_INIT})},
            SnapStart={"ApplyOn": "PublishedVersions"})
    assert error.value.response["Error"]["Message"] == (
        "nodejs16.x is not supported for SnapStart enabled functions.")


def test_node_hooks_failing(server_factory):
    server = server_factory()
    client = make_lambda_client(server.endpoint)
    # A before-snapshot hook failure fails the version, like an init error.
    node_function(client, "criu-before", (
        "require('snapshot-restore').registerBeforeSnapshot(() => { throw new Error('hook says no'); });\n"
        "exports.handler = async () => 1;\n"))
    version = client.publish_version(FunctionName="criu-before")["Version"]
    config = wait_for_state(client, "criu-before", version)
    assert config["State"] == "Failed" and config["StateReasonCode"] == "FunctionError", config
    assert "hook says no" in config["StateReason"], config
    # An after-restore hook failure is the invocation's error, in time.
    node_function(client, "criu-after", (
        "require('snapshot-restore').registerAfterRestore(() => { throw new TypeError('restore says no'); });\n"
        "exports.handler = async () => 7;\n"))
    version = publish_active(client, "criu-after")
    inv = invoke(client, "criu-after", {}, Qualifier=version)
    assert inv.function_error == "Unhandled", inv
    assert json.loads(inv.raw)["errorType"] == "TypeError", inv.raw
    assert "restore says no" in json.loads(inv.raw)["errorMessage"]


def test_corrupt_image_falls_back_to_a_cold_start(server_factory):
    server = server_factory()
    client = make_lambda_client(server.endpoint)
    node_function(client, "criu-corrupt", HEAVY_INIT.replace("0, 1200", "0, 1"))
    version = publish_active(client, "criu-corrupt")
    pages = [f for f in os.listdir(image_dir(server, "criu-corrupt", version))
             if f.startswith("pages-")]
    assert pages
    with open(os.path.join(image_dir(server, "criu-corrupt", version), pages[0]), "r+b") as f:
        f.seek(4096)
        f.write(b"\xde\xad\xbe\xef" * 16)
    inv = invoke(client, "criu-corrupt", {}, Qualifier=version)
    assert inv.status == 200 and not inv.function_error, inv
    assert inv.report()["init"] and not RESTORE_RE.search(inv.log), inv.log
    assert "SnapStart restore failed" in server.log_text() and "checksum mismatch" in server.log_text()
    events = _log_events(server, "criu-corrupt")
    assert any("SnapStart restore failed" in e and "cold start" in e for e in events), events


def _log_events(server, name):
    logs = make_logs_client(server.endpoint)
    return [e["message"] for e in
            logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]]


def criu_wrapper(tmp_path, mode):
    """A criu that fails (or hangs in) one command and passes everything else to the real one."""
    real = next(c for c in ("/usr/local/sbin/criu", "/usr/sbin/criu", "/usr/bin/criu")
                if os.access(c, os.X_OK))
    path = tmp_path / f"criu-{mode}"
    command, behaviour = mode.split("-")
    path.write_text(f"""#!/bin/sh
for last; do :; done
if [ "$1" = "{command}" ]; then
  echo "Error (test wrapper): {command} refused" > "$last"
  {"exec sleep 600" if behaviour == "hangs" else "exit 1"}
fi
exec {real} "$@"
""")
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("mode", ["restore-fails", "restore-hangs"])
def test_criu_failing_mid_restore_falls_back(server_factory, tmp_path, monkeypatch, mode):
    monkeypatch.setenv("HANEUL_CRIU", criu_wrapper(tmp_path, mode))
    server = server_factory()
    client = make_lambda_client(server.endpoint)
    node_function(client, "criu-flaky", HEAVY_INIT.replace("0, 1200", "0, 1"))
    version = publish_active(client, "criu-flaky")
    inv = invoke(client, "criu-flaky", {}, Qualifier=version)
    assert inv.status == 200 and not inv.function_error, inv
    assert inv.report()["init"] and not RESTORE_RE.search(inv.log), inv.log
    reason = "refused" if mode == "restore-fails" else "did not finish"
    events = _log_events(server, "criu-flaky")
    assert any("SnapStart restore failed" in e and reason in e for e in events), events


def test_criu_dump_failing_fails_the_version(server_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("HANEUL_CRIU", criu_wrapper(tmp_path, "dump-fails"))
    server = server_factory()
    client = make_lambda_client(server.endpoint)
    node_function(client, "criu-nodump", HEAVY_INIT.replace("0, 1200", "0, 1"))
    version = client.publish_version(FunctionName="criu-nodump")["Version"]
    config = wait_for_state(client, "criu-nodump", version)
    assert config["State"] == "Failed", config
    assert "criu dump failed" in config["StateReason"] and "refused" in config["StateReason"], config
    with pytest.raises(ClientError) as error:
        client.invoke(FunctionName="criu-nodump", Qualifier=version, Payload=b"{}")
    assert error.value.response["Error"]["Code"] == "ResourceConflictException"


CGROUP_CODE = r"""
const fs = require('fs');
exports.handler = async () => ({ cgroup: fs.readFileSync('/proc/self/cgroup', 'utf8') });
"""


def test_copies_get_memory_cgroups_of_their_own(server_factory):
    # Under the namespace sandbox (its cgroup tree), each restored copy is moved into a cgroup of
    # its own with the function's memory limit, a moment after its restore.
    server = server_factory()
    if server.sandbox != "namespace":
        pytest.skip(f"copies get cgroups only under the namespace sandbox (this server: {server.sandbox})")
    if not os.path.isdir("/sys/fs/cgroup/memory"):
        pytest.skip("the test reads cgroup v1's memory controller")
    client = make_lambda_client(server.endpoint)
    client.create_function(
        FunctionName="criu-cgroup", Runtime="nodejs20.x", Role="arn:aws:iam::000000000000:role/x",
        Handler="index.handler", Code={"ZipFile": make_zip({"index.js": CGROUP_CODE})},
        MemorySize=256, SnapStart={"ApplyOn": "PublishedVersions"})
    version = publish_active(client, "criu-cgroup")

    def limited():
        body = json.loads(invoke(client, "criu-cgroup", {}, Qualifier=version).raw)
        path = next(line.split(":", 2)[2] for line in body["cgroup"].splitlines()
                    if line.split(":")[1] == "memory")
        try:
            with open(f"/sys/fs/cgroup/memory{path}/memory.limit_in_bytes") as f:
                limit = int(f.read())
        except OSError:
            return None
        return (path, limit) if limit == 256 << 20 else None
    found = poll(limited, timeout=20)
    assert found, "no copy of criu-cgroup reached a cgroup limited to its 256 MB"
    assert "haneul" in found[0], found
