"""The haneul client commands: `haneul invoke` and `haneul deploy` against a running server."""

import json
import subprocess
import uuid

from lambda_helpers import haneul_bin, invoke, sha256_b64

APP = """
def handler(event, context):
    return {"echo": event.get("msg"), "version": VERSION}

VERSION = %d
"""


def run_haneul(*args, timeout=120):
    return subprocess.run([haneul_bin(), *args], capture_output=True, text=True, timeout=timeout)


def test_haneul_invoke(functions, endpoint):
    name = functions.create({"app.py": APP % 1})["FunctionName"]
    token = uuid.uuid4().hex
    res = run_haneul("invoke", name, "--payload", json.dumps({"msg": token}),
                     "--endpoint", endpoint)
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert token in res.stdout, (res.stdout, res.stderr)
    # The printed result is the function's JSON result.
    out = res.stdout.strip()
    try:
        doc = json.loads(out)
    except ValueError:
        doc = json.loads(out.splitlines()[-1]) if out else None
    assert doc == {"echo": token, "version": 1}, out


def test_haneul_invoke_missing_function(endpoint):
    res = run_haneul("invoke", "no-such-fn-cli-xyz", "--payload", "{}", "--endpoint", endpoint)
    assert res.returncode != 0, (res.stdout, res.stderr)


def test_haneul_deploy_creates_then_updates(lambda_client, functions, endpoint, tmp_path):
    name = functions.unique("deploy")
    functions.track(name)
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text(APP % 1)
    (src / "helper.txt").write_text("data file\n")

    res = run_haneul("deploy", str(src), "--runtime", "python3.12", "--handler", "app.handler",
                     "--name", name, "--endpoint", endpoint)
    assert res.returncode == 0, (res.stdout, res.stderr)
    cfg = lambda_client.get_function_configuration(FunctionName=name)
    assert cfg["Runtime"] == "python3.12"
    assert cfg["Handler"] == "app.handler"
    first_sha = cfg["CodeSha256"]
    inv = invoke(lambda_client, name, {"msg": "one"})
    assert inv.function_error is None, str(inv)
    assert inv.payload == {"echo": "one", "version": 1}

    (src / "app.py").write_text(APP % 2)
    res = run_haneul("deploy", str(src), "--runtime", "python3.12", "--handler", "app.handler",
                     "--name", name, "--endpoint", endpoint)
    assert res.returncode == 0, (res.stdout, res.stderr)
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    cfg = lambda_client.get_function_configuration(FunctionName=name)
    assert cfg["CodeSha256"] != first_sha
    got = lambda_client.get_function(FunctionName=name)
    assert got["Configuration"]["CodeSha256"] == cfg["CodeSha256"]
    inv = invoke(lambda_client, name, {"msg": "two"})
    assert inv.function_error is None, str(inv)
    assert inv.payload == {"echo": "two", "version": 2}
    names = [f["FunctionName"] for f in lambda_client.list_functions()["Functions"]]
    assert names.count(name) == 1
    assert sha256_b64(b"") != cfg["CodeSha256"]
