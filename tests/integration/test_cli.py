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


def test_client_commands_sign_for_a_server_with_credentials(server_factory, tmp_path):
    """deploy, invoke, logs and dlq sign their requests with HANEUL_CREDENTIALS (or awscli's
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY); without a key pair they are refused."""
    import os
    from lambda_helpers import poll
    srv = server_factory(args=["--credentials", "CLIKEY:clisecret"])
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text(APP % 7 + "\nprint('cli signed log line')\n")
    base = {k: v for k, v in os.environ.items()
            if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "HANEUL_CREDENTIALS")}

    def run(env_extra, *args):
        return subprocess.run([haneul_bin(), *args, "--endpoint", srv.endpoint],
                              capture_output=True, text=True, timeout=120,
                              env={**base, **env_extra})

    unsigned = run({}, "deploy", str(src), "--runtime", "python3.12", "--handler", "app.handler",
                   "--name", "cli-signed")
    assert unsigned.returncode != 0 and "MissingAuthenticationToken" in unsigned.stderr, unsigned
    wrong = run({"AWS_ACCESS_KEY_ID": "CLIKEY", "AWS_SECRET_ACCESS_KEY": "nope"},
                "invoke", "cli-signed")
    assert wrong.returncode != 0 and "InvalidSignature" in wrong.stderr, wrong
    signed = {"HANEUL_CREDENTIALS": "CLIKEY:clisecret"}
    deployed = run(signed, "deploy", str(src), "--runtime", "python3.12",
                   "--handler", "app.handler", "--name", "cli-signed")
    assert deployed.returncode == 0, deployed
    invoked = run({"AWS_ACCESS_KEY_ID": "CLIKEY", "AWS_SECRET_ACCESS_KEY": "clisecret"},
                  "invoke", "cli-signed", "--payload", '{"msg": "hi"}')
    assert invoked.returncode == 0, invoked
    assert json.loads(invoked.stdout.strip().splitlines()[-1]) == {"echo": "hi", "version": 7}
    assert poll(lambda: "cli signed log line" in run(signed, "logs", "cli-signed").stdout,
                timeout=15)
    dlq = run(signed, "dlq", "list")
    assert dlq.returncode == 0, dlq
