"""State survives a restart on the same data directory."""

import os

from lambda_helpers import ROLE, assert_log_frame, invoke, make_lambda_client, make_zip, poll

APP = """
import os
def handler(event, context):
    return {"greeting": os.environ.get("GREETING"), "pid": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"], "event": event}
"""


def environment_alive(stream):
    """Whether any process of the environment with this log stream still runs on the host (the
    host sees sandboxed processes in /proc, with their environment)."""
    marker = ("AWS_LAMBDA_LOG_STREAM_NAME=" + stream).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    with open(f"/proc/{entry}/stat") as stat:
                        if stat.read().split(") ", 1)[1].split()[0] != "Z":
                            return True
        except OSError:
            continue
    return False


def test_restart_keeps_functions(server_factory, tmp_path):
    data_dir = str(tmp_path / "restart-data")
    first = server_factory(data_dir)
    client = make_lambda_client(first.endpoint)
    code = make_zip({"app.py": APP})
    created = client.create_function(FunctionName="survivor", Runtime="python3.12", Role=ROLE,
                                     Handler="app.handler", Code={"ZipFile": code},
                                     MemorySize=256, Timeout=7)
    client.update_function_configuration(FunctionName="survivor",
                                         Environment={"Variables": {"GREETING": "persisted"}})
    client.create_function(FunctionName="doomed", Runtime="python3.12", Role=ROLE,
                           Handler="app.handler", Code={"ZipFile": code})
    client.delete_function(FunctionName="doomed")
    inv = invoke(client, "survivor", {"n": 1})
    assert inv.payload["greeting"] == "persisted"
    worker_pid = inv.payload["pid"]
    before = client.get_function_configuration(FunctionName="survivor")

    rc = first.stop()
    assert rc is not None
    # Stopping the server stops its function processes too.
    assert poll(lambda: not environment_alive(worker_pid), timeout=5), \
        f"function process {worker_pid} outlived the server"

    second = server_factory(data_dir)
    client = make_lambda_client(second.endpoint)
    after = client.get_function_configuration(FunctionName="survivor")
    for key in ("FunctionName", "FunctionArn", "Runtime", "Handler", "CodeSha256", "CodeSize",
                "MemorySize", "Timeout", "Environment", "LastModified", "RevisionId", "Version"):
        assert after.get(key) == before.get(key), (key, before.get(key), after.get(key))
    assert after["CodeSha256"] == created["CodeSha256"]
    names = [f["FunctionName"] for f in client.list_functions()["Functions"]]
    assert "survivor" in names and "doomed" not in names

    inv = invoke(client, "survivor", {"n": 2})
    assert inv.function_error is None, str(inv)
    assert inv.payload["greeting"] == "persisted" and inv.payload["event"] == {"n": 2}
    assert_log_frame(inv, memory=256, cold=True)

    # And the restarted server can still change things.
    client.update_function_code(FunctionName="survivor",
                                ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 'v2'\n"}))
    client.get_waiter("function_updated_v2").wait(
        FunctionName="survivor", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert invoke(client, "survivor", {}).payload == "v2"
    client.delete_function(FunctionName="survivor")
    second.stop()
