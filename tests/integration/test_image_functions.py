"""Functions packaged as container images (PackageType Image): an image built by `haneul image`
on its python3 base (laid out like AWS's base images, /lambda-entrypoint.sh and all) is created
from its ImageUri with boto3 and awscli and invoked; ImageConfig overrides; Lambda's errors for
bad requests; a missing entrypoint is Runtime.InvalidEntrypoint. Needs the namespace sandbox (an
image is the worker's root filesystem)."""

import json
import os
import subprocess

import pytest
from botocore.exceptions import ClientError

from lambda_helpers import ROLE, haneul_bin, invoke, make_lambda_client

APP = '''
import os
def handler(event, context):
    return {"echo": event, "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
            "handler": os.environ.get("_HANDLER"), "greeting": os.environ.get("GREETING"),
            "cwd": os.getcwd()}
'''


def image(data, *args):
    proc = subprocess.run([haneul_bin(), "image", *args, "--data", data], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def image_server(tmp_path_factory, request):
    from conftest import HaneulServer
    if os.environ.get("HANEUL_TEST_SANDBOX") == "process":
        pytest.skip("image functions need the namespace sandbox (their image is the root)")
    tmp = tmp_path_factory.mktemp("image-functions")
    data = str(tmp / "data")
    image(data, "base", "python3", "--tag", "haneul/python3:it", "--quiet")
    src = tmp / "src"
    src.mkdir()
    (src / "app.py").write_text(APP)
    image(data, "build", str(src), "--base", "haneul/python3:it", "--tag", "it/app:1",
          "--cmd", "app.handler")
    srv = HaneulServer(data, str(tmp / "server.log"))
    srv.start()
    if srv.sandbox != "namespace":
        srv.stop()
        pytest.skip(f"the server runs the {srv.sandbox} sandbox")
    yield srv
    srv.stop()


def test_image_function_runs_with_boto3(image_server):
    client = make_lambda_client(image_server.endpoint)
    created = client.create_function(FunctionName="img-fn", PackageType="Image", Role=ROLE,
                                     Code={"ImageUri": "it/app:1"},
                                     Environment={"Variables": {"GREETING": "hi"}})
    assert created["PackageType"] == "Image"
    assert "Runtime" not in created and "Handler" not in created
    assert len(created["CodeSha256"]) == 64
    inv = invoke(client, "img-fn", {"a": 1})
    assert inv.function_error is None, str(inv)
    assert inv.payload == {"echo": {"a": 1}, "task_root": "/var/task", "handler": "app.handler",
                           "greeting": "hi", "cwd": "/var/task"}
    assert inv.report()["init"], "a cold start reports Init Duration"
    got = client.get_function(FunctionName="img-fn")
    assert got["Code"]["RepositoryType"] == "ECR"
    assert got["Code"]["ImageUri"] == "it/app:1"
    assert got["Code"]["ResolvedImageUri"].startswith("it/app@sha256:")
    updated = client.update_function_code(FunctionName="img-fn", ImageUri="it/app:1")
    assert updated["PackageType"] == "Image" and updated["CodeSha256"] == created["CodeSha256"]
    assert invoke(client, "img-fn", {"b": 2}).payload["echo"] == {"b": 2}
    with pytest.raises(ClientError) as e:
        client.update_function_code(FunctionName="img-fn", ZipFile=b"PK")
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_image_config_overrides_and_bad_entrypoint(image_server):
    client = make_lambda_client(image_server.endpoint)
    client.create_function(FunctionName="img-override", PackageType="Image", Role=ROLE,
                           Code={"ImageUri": "it/app:1"},
                           ImageConfig={"Command": ["app.handler"], "WorkingDirectory": "/tmp"})
    inv = invoke(client, "img-override", {})
    assert inv.function_error is None, str(inv)
    assert inv.payload["cwd"] == "/tmp"
    config = client.get_function_configuration(FunctionName="img-override")
    assert config["ImageConfigResponse"]["ImageConfig"] == {"Command": ["app.handler"],
                                                             "WorkingDirectory": "/tmp"}
    client.create_function(FunctionName="img-missing-entry", PackageType="Image", Role=ROLE,
                           Code={"ImageUri": "it/app:1"},
                           ImageConfig={"EntryPoint": ["/no/such/entrypoint"]})
    bad = invoke(client, "img-missing-entry", {})
    assert bad.function_error == "Unhandled"
    assert bad.payload["errorType"] == "Runtime.InvalidEntrypoint", bad.payload


def test_image_function_errors_as_lambda(image_server):
    client = make_lambda_client(image_server.endpoint)

    def error(**kwargs):
        with pytest.raises(ClientError) as e:
            client.create_function(FunctionName="img-bad", Role=ROLE, **kwargs)
        return e.value.response["Error"]

    with_runtime = error(PackageType="Image", Runtime="python3.12", Handler="app.handler",
                         Code={"ImageUri": "it/app:1"})
    assert with_runtime["Code"] == "InvalidParameterValueException"
    assert "Please don't provide Handler or Runtime" in with_runtime["Message"]
    missing = error(PackageType="Image", Code={})
    assert missing["Code"] == "InvalidParameterValueException"
    assert "ImageUri" in missing["Message"]
    unknown = error(PackageType="Image", Code={"ImageUri": "no/such/image:1"})
    assert unknown["Code"] == "InvalidParameterValueException"
    assert "no/such/image:1" in unknown["Message"]


def test_image_function_with_awscli(image_server, tmp_path):
    from conftest import AwsCli
    aws = AwsCli(image_server.endpoint, str(tmp_path))
    created = aws("lambda", "create-function", "--function-name", "img-cli", "--package-type",
                  "Image", "--code", "ImageUri=it/app:1", "--role", ROLE).json
    assert created["PackageType"] == "Image"
    out = tmp_path / "out.json"
    aws("lambda", "invoke", "--function-name", "img-cli", "--cli-binary-format",
        "raw-in-base64-out", "--payload", '{"from": "awscli"}', str(out))
    assert json.loads(out.read_text())["echo"] == {"from": "awscli"}
