"""The Lambda control plane: Create/Get/List/Update/Delete, with boto3 and with awscli."""

import hashlib
import json
import re
import urllib.request

import pytest
from botocore.exceptions import ClientError

from lambda_helpers import ROLE, function_arn, invoke, make_zip, sha256_b64

APP_V1 = """
import os
def handler(event, context):
    return {"version": 1, "greeting": os.environ.get("GREETING")}

def other(event, context):
    return {"version": 1, "handler": "other", "handler_env": os.environ.get("_HANDLER")}
"""

APP_V2 = """
def handler(event, context):
    return {"version": 2}
"""

LAST_MODIFIED_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


def assert_new_function_config(cfg, name, runtime, handler, code):
    assert cfg["FunctionName"] == name
    assert cfg["FunctionArn"] == function_arn(name)
    assert cfg["Runtime"] == runtime
    assert cfg["Handler"] == handler
    assert cfg["Role"] == ROLE
    assert cfg["CodeSize"] == len(code)
    assert cfg["CodeSha256"] == sha256_b64(code)
    assert cfg["MemorySize"] == 128
    assert cfg["Timeout"] == 3
    assert cfg["State"] == "Active"
    assert cfg["LastUpdateStatus"] == "Successful"
    assert cfg["Version"] == "$LATEST"
    assert cfg["PackageType"] == "Zip"
    assert cfg["Architectures"] == ["x86_64"]
    assert cfg["EphemeralStorage"] == {"Size": 512}
    assert LAST_MODIFIED_RE.match(cfg["LastModified"]), cfg["LastModified"]
    assert cfg.get("RevisionId"), "RevisionId missing"


# ---------------------------------------------------------------------------------------------
# boto3

def test_create_get_delete_boto3(lambda_client, functions):
    code = make_zip({"app.py": APP_V1})
    name = functions.unique("crud")
    resp = functions.create(name=name, zip_file=code)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert_new_function_config(resp, name, "python3.12", "app.handler", code)

    cfg = lambda_client.get_function_configuration(FunctionName=name)
    assert cfg["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert_new_function_config(cfg, name, "python3.12", "app.handler", code)
    assert cfg["RevisionId"] == resp["RevisionId"]

    got = lambda_client.get_function(FunctionName=name)
    assert_new_function_config(got["Configuration"], name, "python3.12", "app.handler", code)
    assert got["Code"]["RepositoryType"] == "S3"
    location = got["Code"]["Location"]
    assert location.startswith("http"), location
    # Location is "a presigned URL that you can use to download the deployment package".
    with urllib.request.urlopen(location, timeout=30) as r:
        downloaded = r.read()
    assert hashlib.sha256(downloaded).digest() == hashlib.sha256(code).digest()

    # By ARN as well as by name.
    by_arn = lambda_client.get_function_configuration(FunctionName=function_arn(name))
    assert by_arn["FunctionName"] == name
    partial = lambda_client.get_function_configuration(
        FunctionName=f"000000000000:function:{name}")
    assert partial["FunctionArn"] == function_arn(name)

    deleted = lambda_client.delete_function(FunctionName=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lambda_client.get_function(FunctionName=name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        lambda_client.delete_function(FunctionName=name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_create_with_all_settings_boto3(lambda_client, functions):
    code = make_zip({"app.py": APP_V1})
    resp = functions.create(zip_file=code, runtime="python3.11", MemorySize=512, Timeout=30,
                            Description="integration test",
                            Environment={"Variables": {"GREETING": "hello"}})
    assert resp["MemorySize"] == 512
    assert resp["Timeout"] == 30
    assert resp["Description"] == "integration test"
    assert resp["Environment"] == {"Variables": {"GREETING": "hello"}}
    assert resp["Runtime"] == "python3.11"
    inv = invoke(lambda_client, resp["FunctionName"], {})
    assert inv.function_error is None, str(inv)
    assert inv.payload == {"version": 1, "greeting": "hello"}
    assert inv.report()["memory"] == "512"


def test_list_functions_pagination_boto3(lambda_client, functions):
    code = make_zip({"app.py": APP_V1})
    prefix = functions.unique("page")
    names = [f"{prefix}-{i}" for i in range(5)]
    for n in names:
        functions.create(name=n, zip_file=code)

    seen = []
    pages = 0
    marker = None
    while True:
        kwargs = {"MaxItems": 2}
        if marker:
            kwargs["Marker"] = marker
        page = lambda_client.list_functions(**kwargs)
        pages += 1
        assert len(page["Functions"]) <= 2, page["Functions"]
        seen.extend(f["FunctionName"] for f in page["Functions"])
        marker = page.get("NextMarker")
        if not marker:
            break
        assert pages < 1000, "pagination does not end"
    assert len(seen) == len(set(seen)), f"duplicates across pages: {seen}"
    for n in names:
        assert n in seen
    assert pages >= 3

    # The boto3 paginator (Marker/NextMarker) gives the same set.
    paginated = []
    for page in lambda_client.get_paginator("list_functions").paginate(
            PaginationConfig={"PageSize": 2}):
        paginated.extend(f["FunctionName"] for f in page["Functions"])
    assert sorted(paginated) == sorted(seen)

    listed = {f["FunctionName"]: f for f in lambda_client.list_functions()["Functions"]}
    assert listed[names[0]]["FunctionArn"] == function_arn(names[0])
    assert listed[names[0]]["Runtime"] == "python3.12"
    assert listed[names[0]]["CodeSha256"] == sha256_b64(code)


def test_update_function_code_boto3(lambda_client, functions):
    v1 = make_zip({"app.py": APP_V1})
    v2 = make_zip({"app.py": APP_V2})
    name = functions.create(zip_file=v1)["FunctionName"]
    # Warm up an environment with v1 so the update has to replace it.
    assert invoke(lambda_client, name).payload["version"] == 1

    resp = lambda_client.update_function_code(FunctionName=name, ZipFile=v2)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["CodeSha256"] == sha256_b64(v2)
    assert resp["CodeSha256"] != sha256_b64(v1)
    assert resp["CodeSize"] == len(v2)
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    cfg = lambda_client.get_function_configuration(FunctionName=name)
    assert cfg["LastUpdateStatus"] == "Successful"
    assert cfg["CodeSha256"] == sha256_b64(v2)

    inv = invoke(lambda_client, name)
    assert inv.function_error is None, str(inv)
    assert inv.payload == {"version": 2}


def test_update_function_configuration_boto3(lambda_client, functions):
    code = make_zip({"app.py": APP_V1})
    created = functions.create(zip_file=code)
    name = created["FunctionName"]
    assert invoke(lambda_client, name).payload == {"version": 1, "greeting": None}

    resp = lambda_client.update_function_configuration(
        FunctionName=name, MemorySize=256, Timeout=10,
        Environment={"Variables": {"GREETING": "hi there"}})
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["MemorySize"] == 256
    assert resp["Timeout"] == 10
    assert resp["Environment"] == {"Variables": {"GREETING": "hi there"}}
    assert resp["CodeSha256"] == created["CodeSha256"]
    assert resp["RevisionId"] != created["RevisionId"]
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})

    cfg = lambda_client.get_function_configuration(FunctionName=name)
    assert cfg["MemorySize"] == 256 and cfg["Timeout"] == 10
    assert cfg["Environment"] == {"Variables": {"GREETING": "hi there"}}

    inv = invoke(lambda_client, name)
    assert inv.function_error is None, str(inv)
    assert inv.payload == {"version": 1, "greeting": "hi there"}
    assert inv.report()["memory"] == "256"

    # Handler change.
    resp = lambda_client.update_function_configuration(FunctionName=name, Handler="app.other")
    assert resp["Handler"] == "app.other"
    assert resp["MemorySize"] == 256, "an update must keep the settings it does not mention"
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    inv = invoke(lambda_client, name)
    assert inv.function_error is None, str(inv)
    assert inv.payload == {"version": 1, "handler": "other", "handler_env": "app.other"}


# ---------------------------------------------------------------------------------------------
# awscli

def test_crud_awscli(aws, tmp_path, functions):
    code = make_zip({"app.py": APP_V1})
    zpath = tmp_path / "fn.zip"
    zpath.write_bytes(code)
    name = functions.unique("cli")
    functions.track(name)

    out = aws("lambda", "create-function", "--function-name", name, "--runtime", "python3.12",
              "--role", ROLE, "--handler", "app.handler", "--zip-file", f"fileb://{zpath}").json
    assert_new_function_config(out, name, "python3.12", "app.handler", code)

    out = aws("lambda", "get-function", "--function-name", name).json
    assert_new_function_config(out["Configuration"], name, "python3.12", "app.handler", code)
    assert out["Code"]["Location"]

    out = aws("lambda", "get-function-configuration", "--function-name", name).json
    assert out["FunctionArn"] == function_arn(name)

    # The CLI pages through ListFunctions by itself (MaxItems = --page-size).
    out = aws("lambda", "list-functions", "--page-size", "1").json
    assert name in [f["FunctionName"] for f in out["Functions"]]
    out = aws("lambda", "list-functions", "--max-items", "1").json
    assert len(out["Functions"]) == 1

    out = aws("lambda", "update-function-configuration", "--function-name", name,
              "--memory-size", "1024", "--timeout", "20",
              "--environment", json.dumps({"Variables": {"GREETING": "from awscli"}})).json
    assert out["MemorySize"] == 1024 and out["Timeout"] == 20
    assert out["Environment"]["Variables"] == {"GREETING": "from awscli"}
    aws("lambda", "wait", "function-updated-v2", "--function-name", name)

    res = aws("lambda", "invoke", "--function-name", name, "--cli-binary-format",
              "raw-in-base64-out", "--payload", "{}", str(tmp_path / "out1.json"))
    assert res.json["StatusCode"] == 200
    assert json.loads((tmp_path / "out1.json").read_text()) == {
        "version": 1, "greeting": "from awscli"}

    v2 = make_zip({"app.py": APP_V2})
    (tmp_path / "v2.zip").write_bytes(v2)
    out = aws("lambda", "update-function-code", "--function-name", name,
              "--zip-file", f"fileb://{tmp_path / 'v2.zip'}").json
    assert out["CodeSha256"] == sha256_b64(v2)
    aws("lambda", "wait", "function-updated-v2", "--function-name", name)
    aws("lambda", "invoke", "--function-name", name, str(tmp_path / "out2.json"))
    assert json.loads((tmp_path / "out2.json").read_text()) == {"version": 2}

    res = aws("lambda", "delete-function", "--function-name", name)
    assert res.stdout.strip() == ""
    res = aws("lambda", "get-function", "--function-name", name, check=False)
    assert res.rc == 254, res.stderr
    # (awscli inserts "(reached max retries: 0)" before the colon since retries are off.)
    assert re.search(r"An error occurred \(ResourceNotFoundException\) when calling the "
                     r"GetFunction operation( \(reached max retries: \d+\))?: Function not found: "
                     + re.escape(function_arn(name)), res.stderr), res.stderr


def test_create_conflict_awscli(aws, tmp_path, functions):
    code = make_zip({"app.py": APP_V1})
    name = functions.create(zip_file=code)["FunctionName"]
    (tmp_path / "fn.zip").write_bytes(code)
    res = aws("lambda", "create-function", "--function-name", name, "--runtime", "python3.12",
              "--role", ROLE, "--handler", "app.handler",
              "--zip-file", f"fileb://{tmp_path / 'fn.zip'}", check=False)
    assert res.rc == 254
    assert "(ResourceConflictException)" in res.stderr, res.stderr
    assert f"Function already exist: {name}" in res.stderr, res.stderr


@pytest.mark.parametrize("runtime,files,handler", [
    ("python3", {"app.py": "def handler(e, c):\n    return {'rt': 'py'}\n"}, "app.handler"),
    ("python3.11", {"app.py": "def handler(e, c):\n    return {'rt': 'py'}\n"}, "app.handler"),
    ("nodejs18.x", {"index.js": "exports.handler = async () => ({rt: 'node'});\n"}, "index.handler"),
    ("nodejs22.x", {"index.js": "exports.handler = async () => ({rt: 'node'});\n"}, "index.handler"),
])
def test_runtimes_accepted_and_invocable(lambda_client, functions, runtime, files, handler):
    resp = functions.create(files, runtime=runtime, handler=handler)
    assert resp["Runtime"] == runtime
    inv = invoke(lambda_client, resp["FunctionName"])
    assert inv.function_error is None, str(inv)
    assert inv.payload["rt"] == ("py" if runtime.startswith("python") else "node")
