"""Errors: function errors (payload + FunctionError) and API errors (status, code, message)."""

import base64
import json
import re
import time

import pytest
from botocore.exceptions import ClientError

from lambda_helpers import (
    ROLE,
    assert_log_frame,
    make_lambda_client,
    function_arn,
    invoke,
    make_zip,
    sign_and_send,
)

PY_ERRORS = r'''
import os, time
COUNT = 0

class MyCustomError(Exception):
    pass

def handler(event, context):
    global COUNT
    COUNT += 1
    if event.get("raise") == "value":
        raise ValueError("boom " + str(event.get("n", 0)))
    if event.get("raise") == "custom":
        raise MyCustomError("custom trouble")
    if "sleep" in event:
        time.sleep(event["sleep"])
    if "exit" in event:
        os._exit(event["exit"])
    if event.get("unserializable"):
        return {1, 2, 3}
    return {"ok": True, "count": COUNT, "pid": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]}
'''


def client_error(fn, *args, **kwargs):
    with pytest.raises(ClientError) as e:
        fn(*args, **kwargs)
    return e.value.response


# ---------------------------------------------------------------------------------------------
# Function errors

@pytest.fixture
def err_fn(functions):
    return functions.create({"app.py": PY_ERRORS})["FunctionName"]


def test_handler_raises(lambda_client, err_fn):
    inv = invoke(lambda_client, err_fn, {"raise": "value", "n": 42})
    assert inv.status == 200
    assert inv.function_error == "Unhandled"
    assert inv.headers.get("x-amz-function-error") == "Unhandled"
    assert inv.executed_version == "$LATEST"
    body = inv.payload
    assert set(body) == {"errorMessage", "errorType", "requestId", "stackTrace"}, body
    assert body["errorMessage"] == "boom 42"
    assert body["errorType"] == "ValueError"
    assert body["requestId"] == inv.request_id
    assert isinstance(body["stackTrace"], list) and body["stackTrace"], body
    assert all(isinstance(line, str) for line in body["stackTrace"])
    assert any("app.py" in line and "handler" in line for line in body["stackTrace"]), body
    # The python runtime logs the error as "[ERROR] Type: message" plus the traceback.
    assert "[ERROR] ValueError: boom 42" in inv.log, inv.log
    assert_log_frame(inv)

    # The environment survives a handled exception: the next invoke is warm.
    ok = invoke(lambda_client, err_fn, {})
    assert ok.function_error is None, str(ok)
    assert ok.payload["count"] == 2
    assert_log_frame(ok, cold=False)


def test_handler_raises_custom_type(lambda_client, err_fn):
    inv = invoke(lambda_client, err_fn, {"raise": "custom"})
    assert inv.function_error == "Unhandled"
    assert inv.payload["errorType"] == "MyCustomError"
    assert inv.payload["errorMessage"] == "custom trouble"


def test_unserializable_result(lambda_client, err_fn):
    inv = invoke(lambda_client, err_fn, {"unserializable": True})
    assert inv.function_error == "Unhandled"
    assert inv.payload["errorType"] == "Runtime.MarshalError"
    assert inv.payload["errorMessage"].startswith("Unable to marshal response:"), inv.payload


def test_timeout_then_recovery(lambda_client, functions):
    name = functions.create({"app.py": PY_ERRORS}, Timeout=1)["FunctionName"]
    warm = invoke(lambda_client, name, {})
    assert warm.function_error is None, str(warm)
    assert warm.payload["count"] == 1

    t0 = time.monotonic()
    inv = invoke(lambda_client, name, {"sleep": 5})
    elapsed = time.monotonic() - t0
    assert inv.status == 200
    assert inv.function_error == "Unhandled"
    assert inv.payload["errorType"] == "Sandbox.Timedout", inv.payload
    assert "Task timed out after 1.00 seconds" in inv.payload["errorMessage"], inv.payload
    assert elapsed < 4.0, f"the timeout answered after {elapsed:.1f}s (Timeout is 1 s)"
    assert "Task timed out after 1.00 seconds" in inv.log, inv.log
    assert f"END RequestId: {inv.request_id}" in inv.log
    assert f"REPORT RequestId: {inv.request_id}" in inv.log

    # The environment was replaced: the next invoke works, starts cold, and its counter restarts.
    nxt = invoke(lambda_client, name, {})
    assert nxt.function_error is None, str(nxt)
    assert nxt.payload["count"] == 1, "the timed-out environment was reused"
    assert nxt.payload["pid"] != warm.payload["pid"]
    assert_log_frame(nxt, cold=True)


def test_exit_during_init(lambda_client, functions):
    name = functions.create({"app.py": "import sys\nprint('about to exit')\nsys.exit(3)\n"})[
        "FunctionName"]
    for _ in range(2):  # and again: a failed init must not wedge the function
        inv = invoke(lambda_client, name, {})
        assert inv.status == 200
        assert inv.function_error == "Unhandled"
        assert inv.payload["errorType"] == "Runtime.ExitError", inv.payload
        assert "exit status 3" in inv.payload["errorMessage"], inv.payload


def test_exit_during_invoke_then_recovery(lambda_client, err_fn):
    first = invoke(lambda_client, err_fn, {})
    inv = invoke(lambda_client, err_fn, {"exit": 7})
    assert inv.function_error == "Unhandled"
    assert inv.payload["errorType"] == "Runtime.ExitError", inv.payload
    assert "exit status 7" in inv.payload["errorMessage"], inv.payload
    nxt = invoke(lambda_client, err_fn, {})
    assert nxt.function_error is None, str(nxt)
    assert nxt.payload["count"] == 1 and nxt.payload["pid"] != first.payload["pid"]


def test_import_error(lambda_client, functions):
    name = functions.create({"app.py": "import no_such_module_xyz\n"
                                       "def handler(e, c):\n    return 1\n"})["FunctionName"]
    inv = invoke(lambda_client, name, {})
    assert inv.status == 200
    assert inv.function_error == "Unhandled"
    assert inv.payload["errorType"] == "Runtime.ImportModuleError", inv.payload
    assert inv.payload["errorMessage"].startswith("Unable to import module 'app':"), inv.payload
    assert "no_such_module_xyz" in inv.payload["errorMessage"]


def test_missing_module_and_handler(lambda_client, functions):
    name = functions.create({"app.py": "def handler(e, c):\n    return 1\n"},
                            handler="nothere.handler")["FunctionName"]
    inv = invoke(lambda_client, name, {})
    assert inv.function_error == "Unhandled"
    assert inv.payload["errorType"] == "Runtime.ImportModuleError", inv.payload

    name = functions.create({"app.py": "def handler(e, c):\n    return 1\n"},
                            handler="app.missing")["FunctionName"]
    inv = invoke(lambda_client, name, {})
    assert inv.function_error == "Unhandled"
    assert inv.payload["errorType"] == "Runtime.HandlerNotFound", inv.payload


def test_syntax_error(lambda_client, functions):
    name = functions.create({"app.py": "def handler(e, c)\n    return 1\n"})["FunctionName"]
    inv = invoke(lambda_client, name, {})
    assert inv.function_error == "Unhandled"
    assert inv.payload["errorType"] == "Runtime.UserCodeSyntaxError", inv.payload


def test_node_errors(lambda_client, functions):
    files = {"index.js": "exports.handler = async (event) => {\n"
                         "  if (event.kind === 'type') throw new TypeError('wrong type');\n"
                         "  throw new Error('node boom');\n};\n"}
    name = functions.create(files, runtime="nodejs20.x", handler="index.handler")["FunctionName"]
    inv = invoke(lambda_client, name, {})
    assert inv.status == 200
    assert inv.function_error == "Unhandled"
    assert inv.payload["errorType"] == "Error", inv.payload
    assert inv.payload["errorMessage"] == "node boom"
    assert isinstance(inv.payload.get("trace"), list) and inv.payload["trace"], inv.payload
    inv = invoke(lambda_client, name, {"kind": "type"})
    assert inv.payload["errorType"] == "TypeError"

    name = functions.create({"index.js": "require('no-such-package-xyz');\n"
                                         "exports.handler = async () => 1;\n"},
                            runtime="nodejs20.x", handler="index.handler")["FunctionName"]
    inv = invoke(lambda_client, name, {})
    assert inv.function_error == "Unhandled"
    assert inv.payload["errorType"] == "Runtime.ImportModuleError", inv.payload


# ---------------------------------------------------------------------------------------------
# Invoke API errors

def test_invoke_unknown_function(lambda_client):
    resp = client_error(lambda_client.invoke, FunctionName="no-such-function-xyz", Payload=b"{}")
    assert resp["Error"]["Code"] == "ResourceNotFoundException"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert resp["Error"]["Message"] == \
        f"Function not found: {function_arn('no-such-function-xyz')}"


def test_invoke_unknown_function_awscli(aws, tmp_path):
    res = aws("lambda", "invoke", "--function-name", "no-such-function-cli",
              str(tmp_path / "o.json"), check=False)
    assert res.rc == 254
    assert re.search(r"An error occurred \(ResourceNotFoundException\) when calling the "
                     r"Invoke operation( \(reached max retries: \d+\))?: Function not found: "
                     + re.escape(function_arn("no-such-function-cli")), res.stderr), res.stderr


def test_request_too_large(lambda_client, err_fn):
    payload = b'"' + b"a" * (6291457 - 2) + b'"'
    assert len(payload) == 6291457
    resp = client_error(lambda_client.invoke, FunctionName=err_fn, Payload=payload)
    assert resp["Error"]["Code"] == "RequestTooLargeException"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 413
    # The server is still fine.
    assert invoke(lambda_client, err_fn, {}).payload["ok"] is True


def test_invalid_json_payload(lambda_client, err_fn):
    resp = client_error(lambda_client.invoke, FunctionName=err_fn, Payload=b"{not json")
    assert resp["Error"]["Code"] == "InvalidRequestContentException"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert invoke(lambda_client, err_fn, {}).payload["ok"] is True


def test_response_too_large(lambda_client, functions):
    name = functions.create({"app.py": "def handler(e, c):\n    return 'x' * (7 * 1024 * 1024)\n"},
                            MemorySize=512)["FunctionName"]
    inv = invoke(lambda_client, name, {}, tail=False)
    assert inv.status == 200
    assert inv.function_error == "Unhandled"
    assert inv.payload["errorType"] == "Function.ResponseSizeTooLarge", inv.payload


# ---------------------------------------------------------------------------------------------
# Control-plane errors

def test_create_conflict(lambda_client, functions):
    name = functions.create({"app.py": PY_ERRORS})["FunctionName"]
    resp = client_error(functions.create, {"app.py": PY_ERRORS}, name=name)
    assert resp["Error"]["Code"] == "ResourceConflictException"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert resp["Error"]["Message"] == f"Function already exist: {name}"


def create_args(name="ok-name", **overrides):
    args = {"FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
            "Code": {"ZipFile": make_zip({"app.py": PY_ERRORS})}}
    args.update(overrides)
    return args


@pytest.mark.parametrize("name", ["bad name!", "x" * 65])
def test_create_bad_name(raw_lambda_client, lambda_client, name):
    resp = client_error(raw_lambda_client.create_function, **create_args(name))
    assert resp["Error"]["Code"] == "ValidationException", resp["Error"]
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert resp["Error"]["Message"].startswith("1 validation error detected: Value"), resp["Error"]


@pytest.mark.parametrize("field,value", [("MemorySize", 64), ("MemorySize", 10241),
                                         ("Timeout", 901), ("Timeout", 0)])
def test_create_out_of_range(raw_lambda_client, lambda_client, functions, field, value):
    name = functions.unique("range")
    resp = client_error(raw_lambda_client.create_function, **create_args(name, **{field: value}))
    assert resp["Error"]["Code"] == "ValidationException", resp["Error"]
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert resp["Error"]["Message"].startswith("1 validation error detected: "
                                               f"Value '{value}'"), resp["Error"]
    client_error(lambda_client.get_function, FunctionName=name)


def test_limits_accepted(lambda_client, functions):
    resp = functions.create({"app.py": PY_ERRORS}, MemorySize=10240, Timeout=900)
    assert resp["MemorySize"] == 10240 and resp["Timeout"] == 900


def test_update_configuration_out_of_range(raw_lambda_client, functions):
    name = functions.create({"app.py": PY_ERRORS})["FunctionName"]
    resp = client_error(raw_lambda_client.update_function_configuration, FunctionName=name,
                        MemorySize=64)
    assert resp["Error"]["Code"] == "ValidationException", resp["Error"]
    resp = client_error(raw_lambda_client.update_function_configuration, FunctionName=name,
                        Timeout=901)
    assert resp["Error"]["Code"] == "ValidationException", resp["Error"]


def test_environment_too_large(lambda_client, functions):
    name = functions.unique("env")
    resp = client_error(lambda_client.create_function,
                        **create_args(name, Environment={"Variables": {"BIG": "x" * 4200}}))
    assert resp["Error"]["Code"] == "InvalidParameterValueException", resp["Error"]
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "4KB" in resp["Error"]["Message"], resp["Error"]
    # Just under the limit is fine.
    ok = functions.create({"app.py": PY_ERRORS}, name=name,
                          Environment={"Variables": {"BIG": "x" * 4000}})
    assert ok["Environment"]["Variables"]["BIG"] == "x" * 4000
    resp = client_error(lambda_client.update_function_configuration, FunctionName=name,
                        Environment={"Variables": {"BIG": "y" * 5000}})
    assert resp["Error"]["Code"] == "InvalidParameterValueException", resp["Error"]


@pytest.mark.parametrize("key", ["AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME"])
def test_reserved_environment_keys(lambda_client, functions, key):
    """Lambda's reserved variables cannot be set through Environment."""
    resp = client_error(lambda_client.create_function,
                        **create_args(functions.unique("resv"),
                                      Environment={"Variables": {key: "x", "OK_KEY": "y"}}))
    assert resp["Error"]["Code"] == "InvalidParameterValueException", resp["Error"]
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert f"Reserved keys used in this request: {key}" in resp["Error"]["Message"], resp["Error"]


def test_unsupported_runtime(raw_lambda_client, functions):
    resp = client_error(raw_lambda_client.create_function,
                        **create_args(functions.unique("rt"), Runtime="cobol85"))
    assert resp["Error"]["Code"] in ("InvalidParameterValueException", "ValidationException")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_get_missing_function(lambda_client):
    for op in (lambda_client.get_function, lambda_client.get_function_configuration):
        resp = client_error(op, FunctionName="missing-fn-abc")
        assert resp["Error"]["Code"] == "ResourceNotFoundException"
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert resp["Error"]["Message"] == \
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing-fn-abc"
    resp = client_error(lambda_client.update_function_code, FunctionName="missing-fn-abc",
                        ZipFile=make_zip({"a.py": ""}))
    assert resp["Error"]["Code"] == "ResourceNotFoundException"
    resp = client_error(lambda_client.update_function_configuration,
                        FunctionName="missing-fn-abc", Timeout=5)
    assert resp["Error"]["Code"] == "ResourceNotFoundException"


def test_bad_zip(lambda_client, functions):
    resp = client_error(lambda_client.create_function,
                        **create_args(functions.unique("zip"), Code={"ZipFile": b"not a zip"}))
    assert resp["Error"]["Code"] == "InvalidParameterValueException", resp["Error"]
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400


# ---------------------------------------------------------------------------------------------
# Raw HTTP: malformed bodies

def assert_json_error(status, headers, body, expected_status=400):
    assert status == expected_status, (status, body)
    assert headers.get("x-amzn-ErrorType"), f"no x-amzn-ErrorType header: {dict(headers)}"
    doc = json.loads(body)
    assert isinstance(doc, dict), doc
    message = doc.get("message", doc.get("Message"))
    assert isinstance(message, str) and message, doc
    return doc


def test_raw_malformed_json_create(endpoint, lambda_client):
    for body in [b'{"FunctionName": "x",', b"not json at all", b"[1, 2]"]:
        status, headers, data = sign_and_send(endpoint, "POST", "/2015-03-31/functions", body)
        assert_json_error(status, headers, data)
    assert lambda_client.list_functions()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_raw_wrong_type_create(endpoint, lambda_client, functions):
    name = functions.unique("wrongtype")
    functions.track(name)
    doc = {"FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
           "Code": {"ZipFile": base64.b64encode(make_zip({"app.py": PY_ERRORS})).decode()},
           "MemorySize": "big"}
    status, headers, data = sign_and_send(endpoint, "POST", "/2015-03-31/functions",
                                          json.dumps(doc))
    assert_json_error(status, headers, data)
    client_error(lambda_client.get_function, FunctionName=name)

    doc["MemorySize"] = 128
    doc["Timeout"] = [1]
    status, headers, data = sign_and_send(endpoint, "POST", "/2015-03-31/functions",
                                          json.dumps(doc))
    assert_json_error(status, headers, data)

    doc["Timeout"] = 3
    doc["Code"] = {"ZipFile": "%%% not base64 %%%"}
    status, headers, data = sign_and_send(endpoint, "POST", "/2015-03-31/functions",
                                          json.dumps(doc))
    assert_json_error(status, headers, data)

    # The same document with good types is accepted, so the server kept serving.
    doc["Code"] = {"ZipFile": base64.b64encode(make_zip({"app.py": PY_ERRORS})).decode()}
    status, headers, data = sign_and_send(endpoint, "POST", "/2015-03-31/functions",
                                          json.dumps(doc))
    assert status == 201, data
    assert invoke(lambda_client, name, {}).payload["ok"] is True


def test_raw_missing_required_fields(endpoint):
    status, headers, data = sign_and_send(endpoint, "POST", "/2015-03-31/functions",
                                          json.dumps({"FunctionName": "no-code-given"}))
    assert status == 400, data
    assert headers.get("x-amzn-ErrorType"), dict(headers)


def test_raw_unknown_route(endpoint, lambda_client):
    status, headers, data = sign_and_send(endpoint, "GET", "/2015-03-31/no-such-thing")
    assert 400 <= status < 500, (status, data)
    assert lambda_client.list_functions()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_memory_size_the_host_cannot_give(server_factory):
    srv = server_factory(args=["--max-function-memory", "256"])
    client = make_lambda_client(srv.endpoint)
    code = make_zip({"app.py": "def handler(e, c):\n    return 1\n"})
    with pytest.raises(ClientError) as raised:
        client.create_function(FunctionName="too-big", Runtime="python3.12", Role=ROLE,
                               Handler="app.handler", Code={"ZipFile": code}, MemorySize=512)
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "more than this host can give" in raised.value.response["Error"]["Message"]
    client.create_function(FunctionName="fits", Runtime="python3.12", Role=ROLE,
                           Handler="app.handler", Code={"ZipFile": code}, MemorySize=256)
    with pytest.raises(ClientError) as raised:
        client.update_function_configuration(FunctionName="fits", MemorySize=1024)
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"
