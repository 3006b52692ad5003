"""The official Node.js runtime interface client (npm aws-lambda-ric 4.0.2, with its native
C++ aws-lambda-cpp/libcurl client) as a provided.al2023 function's bootstrap, talking to our
Runtime API."""

import os

import pytest

from lambda_helpers import assert_log_frame, function_arn, invoke, make_zip

HANDLERS = r'''
let count = 0;

export const handler = async (event, context) => {
  count += 1;
  console.log("ric handler log", JSON.stringify(event));
  await new Promise((resolve) => setTimeout(resolve, 10));
  return {
    ok: true, count, event,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    memoryLimitInMB: context.memoryLimitInMB,
    invokedFunctionArn: context.invokedFunctionArn,
    remaining: context.getRemainingTimeInMillis(),
  };
};

export const fails = async () => {
  throw new TypeError("ric says no");
};

class CustomError extends Error {
  constructor(message) { super(message); this.name = "CustomError"; }
}

export const custom = async () => {
  throw new CustomError("custom failure");
};
'''


@pytest.fixture
def ric_zip(node_ric):
    """The client ships inside the function's zip, as users deploy it, so the bootstrap finds it
    under LAMBDA_TASK_ROOT in any sandbox (the namespace sandbox shows no host paths)."""
    files = {"index.mjs": HANDLERS}
    modules = os.path.dirname(os.path.dirname(node_ric["entry"]))  # .../node_modules
    for package in ("aws-lambda-ric", os.path.join("@aws", "lambda-invoke-store")):
        top = os.path.join(modules, package)
        for folder, _, names in os.walk(top):
            if os.path.relpath(folder, top).split(os.sep)[0] in ("deps", "src", "scripts",
                                                                   "node-addon-api"):
                continue  # sources of the native build, not needed at run time
            for name in names:
                path = os.path.join(folder, name)
                with open(path, "rb") as handle:
                    files["node_modules/" + os.path.relpath(path, modules)] = handle.read()
    files["bootstrap"] = ("#!/bin/sh\n"
                          "# The runtime interface client reads _HANDLER, LAMBDA_TASK_ROOT and\n"
                          "# AWS_LAMBDA_RUNTIME_API from the environment Lambda sets.\n"
                          f"exec {node_ric['node']} "
                          "\"$LAMBDA_TASK_ROOT/node_modules/aws-lambda-ric/index.mjs\" "
                          "\"$_HANDLER\"\n")
    return make_zip(files)


def test_ric_async_handler(lambda_client, functions, ric_zip):
    name = functions.create(zip_file=ric_zip, runtime="provided.al2023",
                            handler="index.handler")["FunctionName"]
    first = invoke(lambda_client, name, {"hello": "ric"})
    assert first.status == 200
    assert first.function_error is None, str(first)
    assert first.executed_version == "$LATEST"
    body = first.payload
    assert body["ok"] is True and body["count"] == 1
    assert body["event"] == {"hello": "ric"}
    assert body["requestId"] == first.request_id
    assert body["functionName"] == name
    assert body["functionVersion"] == "$LATEST"
    assert str(body["memoryLimitInMB"]) == "128"
    assert body["invokedFunctionArn"] == function_arn(name)
    assert 0 < body["remaining"] <= 3000, body
    assert "ric handler log" in first.log, first.log
    assert_log_frame(first, cold=True)

    second = invoke(lambda_client, name, [1, 2, 3])
    assert second.function_error is None, str(second)
    assert second.payload["count"] == 2
    assert second.payload["event"] == [1, 2, 3]
    assert second.payload["requestId"] == second.request_id
    assert_log_frame(second, cold=False)


@pytest.mark.parametrize("handler,error_type,message", [
    ("index.fails", "TypeError", "ric says no"),
    ("index.custom", "CustomError", "custom failure"),
])
def test_ric_throwing_handler(lambda_client, functions, ric_zip, handler, error_type, message):
    name = functions.create(zip_file=ric_zip, runtime="provided.al2023",
                            handler=handler)["FunctionName"]
    for _ in range(2):  # the client keeps serving after a handler error
        inv = invoke(lambda_client, name, {})
        assert inv.status == 200
        assert inv.function_error == "Unhandled", str(inv)
        body = inv.payload
        assert body["errorType"] == error_type, body
        assert body["errorMessage"] == message, body
        assert isinstance(body.get("trace"), list) and body["trace"], body
        assert f"END RequestId: {inv.request_id}" in inv.log


def test_ric_handler_not_found(lambda_client, functions, ric_zip):
    """The client reports this through /runtime/init/error."""
    name = functions.create(zip_file=ric_zip, runtime="provided.al2023",
                            handler="index.nothere")["FunctionName"]
    inv = invoke(lambda_client, name, {})
    assert inv.status == 200
    assert inv.function_error == "Unhandled", str(inv)
    assert inv.payload["errorType"] == "Runtime.HandlerNotFound", inv.payload
    assert "index.nothere is undefined or not exported" in inv.payload["errorMessage"]
