"""SnapStart (issue #6) through boto3 against a real `haneul serve`: the SnapStart setting and its
validation, PublishVersion's Pending -> Active (or Failed with the reason), and restored copies
of the fork-server template: Restore Duration instead of Init Duration, after-restore hooks in
every copy, no shared random state or /tmp folder between copies, metadata deleted with the
version. Runs under whichever sandbox backend the server picks (HANEUL_TEST_SANDBOX forces one).
"""
import json
import os
import re
import threading

import pytest
from botocore.exceptions import ClientError

from lambda_helpers import invoke, poll

RESTORE_RE = re.compile(
    r"Restore Duration: (?P<restore>\d+\.\d{2}) ms\tBilled Restore Duration: (?P<billed>\d+) ms")

HEAVY_INIT = """
import os, random, tempfile, time
import json, decimal, fractions, statistics  # imports, as a real init has
from snapshot_restore_py import register_before_snapshot, register_after_restore

time.sleep(1.2)  # the heavy part of init: paid once, at PublishVersion
STATE = {"before": 0, "after": 0, "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}


@register_before_snapshot
def before():
    STATE["before"] += 1


@register_after_restore
def after():
    STATE["after"] += 1
    with open(os.path.join(tempfile.gettempdir(), "owner"), "w") as f:
        f.write(str(os.getpid()))


def handler(event, context):
    if event.get("hold"):
        time.sleep(event["hold"])
    tmp = tempfile.gettempdir()
    owner = os.path.join(tmp, "owner")
    return {
        "before": STATE["before"],
        "after": STATE["after"],
        "init_type": STATE["init_type"],
        "runtime_init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "pid": os.getpid(),
        "random": random.random(),
        "tmp": tmp,
        "owner": open(owner).read() if os.path.exists(owner) else None,
    }
"""


def wait_for_state(client, name, version, timeout=30.0):
    def settled():
        config = client.get_function_configuration(FunctionName=name, Qualifier=version)
        return config if config["State"] != "Pending" else None
    config = poll(settled, timeout=timeout)
    assert config, f"{name}:{version} stayed Pending for {timeout} s"
    return config


def snapstart_function(functions, files):
    return functions.create(files, SnapStart={"ApplyOn": "PublishedVersions"}, Timeout=30)


def test_snapstart_setting_is_returned(functions, lambda_client):
    created = snapstart_function(functions, {"app.py": "def handler(e, c):\n    return 1\n"})
    assert created["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    name = created["FunctionName"]
    updated = lambda_client.update_function_configuration(
        FunctionName=name, SnapStart={"ApplyOn": "None"})
    assert updated["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    plain = lambda_client.publish_version(FunctionName=name)
    assert plain["State"] == "Active"
    assert plain["SnapStart"]["OptimizationStatus"] == "Off"


@pytest.mark.parametrize("runtime", ["nodejs16.x", "python3.11", "provided.al2023"])  # nodejs18.x+: criu
def test_snapstart_refuses_unsupported_runtimes(functions, runtime):
    files = {"app.py": "def handler(e, c):\n    return 1\n", "index.mjs": "export const handler = async () => 1;\n",
             "bootstrap": ("#!/bin/sh\nexit 1\n", 0o755)}
    with pytest.raises(ClientError) as error:
        functions.create(files, runtime=runtime,
                         handler="index.handler" if runtime.startswith("node") else "app.handler",
                         SnapStart={"ApplyOn": "PublishedVersions"})
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert error.value.response["Error"]["Message"] == (
        f"{runtime} is not supported for SnapStart enabled functions.")


def test_snapstart_refuses_unknown_apply_on(functions, raw_lambda_client):
    name = functions.unique()
    with pytest.raises(ClientError) as error:
        raw_lambda_client.create_function(
            FunctionName=name, Runtime="python3.12", Role="arn:aws:iam::000000000000:role/x",
            Handler="app.handler", Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
            SnapStart={"ApplyOn": "Always"})
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "snapStart.applyOn" in error.value.response["Error"]["Message"]


def test_publish_pending_then_active_and_copies_restore(functions, lambda_client, server):
    created = snapstart_function(functions, {"app.py": HEAVY_INIT})
    name = created["FunctionName"]
    published = lambda_client.publish_version(FunctionName=name)
    version = published["Version"]
    # Init sleeps 1.2 s off the request path: the version is still being snapshotted.
    assert published["State"] == "Pending", published
    assert published["LastUpdateStatus"] == "InProgress"
    assert published["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    with pytest.raises(ClientError) as error:
        lambda_client.invoke(FunctionName=name, Qualifier=version, Payload=b"{}")
    assert error.value.response["Error"]["Code"] == "ResourceConflictException"
    assert error.value.response["Error"]["Message"] == (
        "The operation cannot be performed at this time. The function is currently in the "
        "following state: Pending")

    config = wait_for_state(lambda_client, name, version)
    assert config["State"] == "Active", config
    assert config["LastUpdateStatus"] == "Successful"
    assert "StateReasonCode" not in config

    # Several copies at once: each invocation holds its environment, so each needs its own.
    results = [None] * 3
    def call(i):
        results[i] = invoke(lambda_client, name, {"hold": 0.5}, Qualifier=version)
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
        # A copy is a fork of the initialised template, not a 1.2 s init.
        assert float(restore["restore"]) < 1000, inv.log
        assert int(restore["billed"]) >= int(float(restore["restore"]))
        body = json.loads(inv.raw)
        assert body["before"] == 1 and body["after"] == 1, body
        assert body["init_type"] == "snap-start" and body["runtime_init_type"] == "snap-start"
        # The after-restore hook wrote into this copy's /tmp folder, and only this copy's.
        assert body["owner"] == str(body["pid"]), body
        bodies.append(body)
    assert len({b["pid"] for b in bodies}) == 3, bodies
    assert len({b["random"] for b in bodies}) == 3, bodies
    assert len({b["tmp"] for b in bodies}) == 3, bodies

    # A warm invocation of a restored environment reports neither.
    warm = invoke(lambda_client, name, {}, Qualifier=version)
    assert not RESTORE_RE.search(warm.log) and "Init Duration" not in warm.log, warm.log

    # The snapshot's metadata lives in the data directory until the version is deleted.
    metadata = os.path.join(server.data_dir, "snapshots", name, f"{version}.snap")
    assert os.path.isfile(metadata)
    with open(metadata, "rb") as f:
        assert f.read(8) == b"HNLSNAP\0"
    lambda_client.delete_function(FunctionName=name, Qualifier=version)
    assert not os.path.exists(metadata)


def test_latest_of_a_snapstart_function_cold_starts(functions, lambda_client):
    created = snapstart_function(functions, {"app.py": HEAVY_INIT.replace("time.sleep(1.2)", "")})
    inv = invoke(lambda_client, created["FunctionName"], {})
    assert inv.status == 200, inv
    assert inv.report()["init"], inv.log
    assert json.loads(inv.raw)["init_type"] == "on-demand"


@pytest.mark.parametrize("code,reason", [
    ("import nope_not_a_module\ndef handler(e, c):\n    return 1\n", "No module named"),
    ("from snapshot_restore_py import register_before_snapshot\n"
     "@register_before_snapshot\ndef broken():\n    raise RuntimeError('hook says no')\n"
     "def handler(e, c):\n    return 1\n", "hook says no"),
])
def test_publish_with_failing_init_fails_the_version(functions, lambda_client, code, reason):
    created = snapstart_function(functions, {"app.py": code})
    name = created["FunctionName"]
    version = lambda_client.publish_version(FunctionName=name)["Version"]
    config = wait_for_state(lambda_client, name, version)
    assert config["State"] == "Failed", config
    assert config["LastUpdateStatus"] == "Failed"
    assert config["StateReasonCode"] == "FunctionError"
    assert reason in config["StateReason"], config
    with pytest.raises(ClientError) as error:
        lambda_client.invoke(FunctionName=name, Qualifier=version, Payload=b"{}")
    assert error.value.response["Error"]["Code"] == "ResourceConflictException"
    assert error.value.response["Error"]["Message"].endswith("following state: Failed")


def test_after_restore_failure_falls_back_never_hangs(functions, lambda_client):
    code = ("from snapshot_restore_py import register_after_restore\n"
            "@register_after_restore\ndef broken():\n    raise ValueError('restore says no')\n"
            "def handler(e, c):\n    return 7\n")
    created = snapstart_function(functions, {"app.py": code})
    name = created["FunctionName"]
    version = lambda_client.publish_version(FunctionName=name)["Version"]
    assert wait_for_state(lambda_client, name, version)["State"] == "Active"
    inv = invoke(lambda_client, name, {}, Qualifier=version)
    # The copy reports its hook's failure as the invocation's error, as an init error would be.
    assert inv.function_error == "Unhandled", inv
    assert json.loads(inv.raw)["errorType"] == "ValueError"
    assert "restore says no" in json.loads(inv.raw)["errorMessage"]


def test_snapshot_survives_a_restart(server_factory, tmp_path):
    from lambda_helpers import make_lambda_client, make_zip
    data = str(tmp_path / "restart-data")
    first = server_factory(data_dir=data)
    client = make_lambda_client(first.endpoint)
    client.create_function(FunctionName="snap-restart", Runtime="python3.12",
                           Role="arn:aws:iam::000000000000:role/x", Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": HEAVY_INIT})}, Timeout=30,
                           SnapStart={"ApplyOn": "PublishedVersions"})
    version = client.publish_version(FunctionName="snap-restart")["Version"]
    assert wait_for_state(client, "snap-restart", version)["State"] == "Active"
    first.stop()
    offset = os.path.getsize(first.log_path)
    second = server_factory(data_dir=data)
    client = make_lambda_client(second.endpoint)
    # The metadata is sound, so the version stays Active while the template is rebuilt.
    assert client.get_function_configuration(
        FunctionName="snap-restart", Qualifier=version)["State"] == "Active"

    def rebuilt():
        with open(second.log_path, "rb") as f:
            f.seek(offset)
            return b"snap-restart:" + version.encode() + b": snapshot ready" in f.read()
    assert poll(rebuilt, timeout=30), "the template was not rebuilt after the restart"
    inv = invoke(client, "snap-restart", {}, Qualifier=version)
    assert RESTORE_RE.search(inv.log), inv.log


def processes_with(*needles):
    """Pids whose environment holds every one of needles (the tests run as root)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue
        if all(needle in environ for needle in needles):
            found.append(int(entry))
    return found


def test_a_dead_template_falls_back_to_a_cold_start(server, functions, lambda_client, logs_client):
    created = snapstart_function(functions, {"app.py": HEAVY_INIT.replace("time.sleep(1.2)", "")})
    name = created["FunctionName"]
    version = lambda_client.publish_version(FunctionName=name)["Version"]
    assert wait_for_state(lambda_client, name, version)["State"] == "Active"
    templates = [pid for pid in processes_with(f"AWS_LAMBDA_FUNCTION_NAME={name}".encode(),
                                               f"AWS_LAMBDA_FUNCTION_VERSION={version}".encode())
                 if any(line.startswith(b"HANEUL_SNAPSHOT_CONTROL=")
                        for line in open(f"/proc/{pid}/environ", "rb").read().split(b"\0"))]
    # The template and the spare copy it keeps forked ahead (its child).
    def parent(pid):
        with open(f"/proc/{pid}/status") as f:
            return int(next(line for line in f if line.startswith("PPid:")).split()[1])
    roots = [pid for pid in templates if parent(pid) not in templates]
    assert len(roots) == 1, templates
    log_offset = server.log_size()
    os.kill(roots[0], 9)
    # The spare copy dies with its template: an invocation racing the death can still get that
    # copy's Runtime.ExitError (docs/snapstart.md). Once the server has seen the death, new
    # environments cold-start.
    from lambda_helpers import poll
    assert poll(lambda: f"SnapStart {name}:{version}: the template died" in
                server.log_text(log_offset), timeout=10)
    inv = invoke(lambda_client, name, {}, Qualifier=version)
    assert inv.status == 200 and not inv.function_error, inv
    assert inv.report()["init"], inv.log  # a cold start, with its Init Duration
    # The environment says why in its own log stream.
    events = logs_client.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    assert any("SnapStart restore failed" in e["message"] and "cold start" in e["message"]
               for e in events), events
