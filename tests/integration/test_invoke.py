"""Invoke (RequestResponse and DryRun): results, tail logs, context, environment, warm reuse."""

import base64
import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from lambda_helpers import (
    REPORT_RE,
    UUID_RE,
    assert_log_frame,
    function_arn,
    invoke,
    make_lambda_client,
)

PY_INTROSPECT = r'''
import json, os, sys, time
COUNT = 0
INIT_PID = os.getpid()
ENV_KEYS = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_RUNTIME_API", "_HANDLER",
            "LAMBDA_TASK_ROOT", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_LOG_GROUP_NAME",
            "AWS_LAMBDA_LOG_STREAM_NAME", "TZ", "AWS_EXECUTION_ENV", "LAMBDA_RUNTIME_DIR",
            "AWS_LAMBDA_INITIALIZATION_TYPE"]

def handler(event, context):
    global COUNT
    COUNT += 1
    if "print" in event:
        print(event["print"])
    if "eprint" in event:
        print(event["eprint"], file=sys.stderr)
    root = os.environ.get("LAMBDA_TASK_ROOT") or "."
    return {
        "count": COUNT,
        "pid": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"],
        "init_pid": INIT_PID,
        "event": event,
        "env": {k: os.environ.get(k) for k in ENV_KEYS},
        "user_env": {k: os.environ.get(k) for k in event.get("env_keys", [])},
        "cwd": os.getcwd(),
        "task_root_files": sorted(os.listdir(root)),
        "ctx": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining": context.get_remaining_time_in_millis(),
        },
    }
'''

NODE_ESM = r'''
let count = 0;
export const handler = async (event, context) => {
  count += 1;
  console.log("node-esm-log", JSON.stringify(event));
  await new Promise((r) => setTimeout(r, 5));
  return {
    count, pid: process.pid, event,
    ctx: {
      functionName: context.functionName, functionVersion: context.functionVersion,
      invokedFunctionArn: context.invokedFunctionArn, memoryLimitInMB: context.memoryLimitInMB,
      awsRequestId: context.awsRequestId, logGroupName: context.logGroupName,
      logStreamName: context.logStreamName, remaining: context.getRemainingTimeInMillis(),
    },
    env: {
      AWS_LAMBDA_FUNCTION_NAME: process.env.AWS_LAMBDA_FUNCTION_NAME,
      AWS_LAMBDA_RUNTIME_API: process.env.AWS_LAMBDA_RUNTIME_API,
      _HANDLER: process.env._HANDLER, AWS_REGION: process.env.AWS_REGION, TZ: process.env.TZ,
    },
  };
};
'''

NODE_CJS_CALLBACK = r'''
let count = 0;
exports.handler = (event, context, callback) => {
  count += 1;
  console.log("node-cjs-log");
  callback(null, { style: "callback", count, sum: (event.a || 0) + (event.b || 0),
                   requestId: context.awsRequestId });
};
'''


@pytest.fixture
def py_fn(functions):
    return functions.create({"app.py": PY_INTROSPECT})["FunctionName"]


def test_python_invoke_tail_logs_and_request_id(lambda_client, py_fn):
    inv = invoke(lambda_client, py_fn, {"print": "hello from the handler", "n": 1,
                                        "eprint": "and from its stderr"})
    assert inv.status == 200
    assert inv.function_error is None, str(inv)
    assert inv.executed_version == "$LATEST"
    assert inv.payload["event"]["n"] == 1
    assert re.fullmatch(UUID_RE, inv.request_id), inv.request_id
    assert inv.headers.get("x-amzn-requestid") == inv.request_id
    assert inv.headers.get("x-amz-executed-version") == "$LATEST"
    assert "hello from the handler" in inv.log
    assert "and from its stderr" in inv.log
    assert_log_frame(inv, cold=True)
    # The handler's output lies between START and END.
    assert inv.log.index("START RequestId") < inv.log.index("hello from the handler") \
        < inv.log.index("END RequestId"), inv.log
    assert inv.payload["ctx"]["aws_request_id"] == inv.request_id


def test_python_context(lambda_client, py_fn):
    inv = invoke(lambda_client, py_fn, {})
    ctx = inv.payload["ctx"]
    assert ctx["function_name"] == py_fn
    assert ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == function_arn(py_fn)
    assert str(ctx["memory_limit_in_mb"]) == "128"
    assert ctx["aws_request_id"] == inv.request_id
    assert ctx["log_group_name"] == f"/aws/lambda/{py_fn}"
    assert ctx["log_stream_name"] == inv.payload["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert 0 < ctx["remaining"] <= 3000, ctx


def test_python_standard_environment(lambda_client, py_fn):
    inv = invoke(lambda_client, py_fn, {})
    env = inv.payload["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == py_fn
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert re.fullmatch(r"[\w.-]+:\d+", env["AWS_LAMBDA_RUNTIME_API"] or ""), env
    assert env["_HANDLER"] == "app.handler"
    assert env["LAMBDA_TASK_ROOT"], env
    assert "app.py" in inv.payload["task_root_files"]
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{py_fn}"
    # Documented stream name format: YYYY/MM/DD/[$LATEST]<32 hex>.
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}",
                        env["AWS_LAMBDA_LOG_STREAM_NAME"] or ""), env
    assert env["TZ"] == ":UTC"


def test_python_execution_env_and_cwd(lambda_client, py_fn):
    """AWS_EXECUTION_ENV is a documented reserved variable; the working dir is the task root."""
    inv = invoke(lambda_client, py_fn, {})
    env = inv.payload["env"]
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert os.path.realpath(inv.payload["cwd"]) == os.path.realpath(env["LAMBDA_TASK_ROOT"])


def test_user_environment_variables(lambda_client, functions):
    name = functions.create({"app.py": PY_INTROSPECT},
                            Environment={"Variables": {"FOO": "bar", "EMPTY": "",
                                                       "WITH_SPACE": "a b=c"}})["FunctionName"]
    inv = invoke(lambda_client, name, {"env_keys": ["FOO", "EMPTY", "WITH_SPACE", "MISSING"]})
    assert inv.payload["user_env"] == {"FOO": "bar", "EMPTY": "", "WITH_SPACE": "a b=c",
                                       "MISSING": None}


def test_warm_reuse(lambda_client, py_fn):
    first = invoke(lambda_client, py_fn, {"print": "first"})
    assert first.function_error is None, str(first)
    second = invoke(lambda_client, py_fn, {"print": "second"})
    assert second.function_error is None, str(second)
    assert first.payload["count"] == 1
    assert second.payload["count"] == 2, "the second invoke did not reuse the warm environment"
    assert first.payload["pid"] == second.payload["pid"]
    assert first.request_id != second.request_id
    assert_log_frame(first, cold=True)
    assert_log_frame(second, cold=False)
    # The tail of the second invoke is about the second invoke only.
    assert "first" not in second.log.replace("second", "")


def test_dry_run(lambda_client, py_fn):
    resp = lambda_client.invoke(FunctionName=py_fn, InvocationType="DryRun")
    assert resp["StatusCode"] == 204
    assert resp["Payload"].read() == b""
    # A dry run does not run the function.
    assert invoke(lambda_client, py_fn, {}).payload["count"] == 1


def test_dry_run_missing_function(lambda_client):
    with pytest.raises(ClientError) as e:
        lambda_client.invoke(FunctionName="no-such-function-dry", InvocationType="DryRun")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_invoke_by_arn_and_latest_qualifier(lambda_client, py_fn):
    assert invoke(lambda_client, function_arn(py_fn), {}).payload["count"] == 1
    inv = invoke(lambda_client, py_fn, {}, Qualifier="$LATEST")
    assert inv.function_error is None, str(inv)
    assert inv.payload["count"] == 2
    assert inv.executed_version == "$LATEST"


def test_invoke_without_tail_has_no_log_result(lambda_client, py_fn):
    resp = lambda_client.invoke(FunctionName=py_fn, Payload=b"{}")
    assert "LogResult" not in resp
    assert json.loads(resp["Payload"].read())["count"] == 1


def test_invoke_payload_kinds(lambda_client, functions):
    """Any JSON value is a valid event; an empty body is an empty event ({})."""
    name = functions.create({"app.py": "def handler(event, context):\n    return event\n"})[
        "FunctionName"]
    for value in [[1, 2, 3], "a string", 42, None, {"nested": {"ü": "ünïcode ✓"}}]:
        inv = invoke(lambda_client, name, raw=json.dumps(value).encode())
        assert inv.function_error is None, f"{value!r}: {inv}"
        assert inv.payload == value
    inv = invoke(lambda_client, name, raw=b"", tail=False)
    assert inv.function_error is None, str(inv)
    assert inv.payload == {}


def test_large_payload_within_limit(lambda_client, functions):
    name = functions.create({"app.py": "def handler(event, context):\n"
                                       "    return {'len': len(event['data'])}\n"},
                            MemorySize=512, Timeout=30)["FunctionName"]
    data = "x" * (5 * 1024 * 1024)
    inv = invoke(lambda_client, name, {"data": data}, tail=False)
    assert inv.function_error is None, str(inv)
    assert inv.payload == {"len": len(data)}


def test_node_esm_async_handler(lambda_client, functions):
    name = functions.create({"index.mjs": NODE_ESM}, runtime="nodejs20.x",
                            handler="index.handler")["FunctionName"]
    first = invoke(lambda_client, name, {"hello": "node"})
    assert first.status == 200
    assert first.function_error is None, str(first)
    assert first.executed_version == "$LATEST"
    body = first.payload
    assert body["event"] == {"hello": "node"}
    assert body["ctx"]["functionName"] == name
    assert body["ctx"]["functionVersion"] == "$LATEST"
    assert body["ctx"]["invokedFunctionArn"] == function_arn(name)
    assert str(body["ctx"]["memoryLimitInMB"]) == "128"
    assert body["ctx"]["awsRequestId"] == first.request_id
    assert body["ctx"]["logGroupName"] == f"/aws/lambda/{name}"
    assert 0 < body["ctx"]["remaining"] <= 3000
    assert body["env"]["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert body["env"]["_HANDLER"] == "index.handler"
    assert body["env"]["AWS_REGION"] == "us-east-1"
    assert body["env"]["TZ"] == ":UTC"
    assert_log_frame(first, cold=True)
    # Node's console.log lines are "<ISO time>\t<request id>\tINFO\t<message>".
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t" + re.escape(first.request_id)
                     + r"\tINFO\tnode-esm-log \{\"hello\":\"node\"\}", first.log), first.log

    second = invoke(lambda_client, name, {})
    assert second.function_error is None, str(second)
    assert second.payload["count"] == 2
    assert second.payload["pid"] == body["pid"]
    assert_log_frame(second, cold=False)


def test_node_cjs_callback_handler(lambda_client, functions):
    name = functions.create({"index.js": NODE_CJS_CALLBACK}, runtime="nodejs20.x",
                            handler="index.handler")["FunctionName"]
    inv = invoke(lambda_client, name, {"a": 2, "b": 40})
    assert inv.function_error is None, str(inv)
    assert inv.payload == {"style": "callback", "count": 1, "sum": 42,
                           "requestId": inv.request_id}
    assert "node-cjs-log" in inv.log
    assert_log_frame(inv, cold=True)


def test_node_handler_in_subfolder(lambda_client, functions):
    name = functions.create({"src/handlers/main.js":
                             "exports.run = async (e) => ({where: 'subfolder', e});\n"},
                            runtime="nodejs20.x", handler="src/handlers/main.run")["FunctionName"]
    inv = invoke(lambda_client, name, {"x": 1})
    assert inv.function_error is None, str(inv)
    assert inv.payload == {"where": "subfolder", "e": {"x": 1}}


def test_python_handler_in_package(lambda_client, functions):
    name = functions.create({"pkg/__init__.py": "", "pkg/mod.py":
                             "def run(event, context):\n    return {'where': 'package'}\n"},
                            handler="pkg.mod.run")["FunctionName"]
    inv = invoke(lambda_client, name, {})
    assert inv.function_error is None, str(inv)
    assert inv.payload == {"where": "package"}


PROVIDED_BOOTSTRAP = r'''#!/usr/bin/python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
handler = os.environ["_HANDLER"]
count = 0
while True:
    with urllib.request.urlopen(api + "next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        deadline = r.headers["Lambda-Runtime-Deadline-Ms"]
        arn = r.headers["Lambda-Runtime-Invoked-Function-Arn"]
        event = json.loads(r.read() or b"null")
    count += 1
    print("custom runtime got", rid, flush=True)
    if isinstance(event, dict) and event.get("fail"):
        body = json.dumps({"errorMessage": "custom failure", "errorType": "CustomError"}).encode()
        req = urllib.request.Request(api + rid + "/error", data=body, method="POST",
                                     headers={"Lambda-Runtime-Function-Error-Type": "CustomError"})
    else:
        body = json.dumps({"handler": handler, "event": event, "request_id": rid, "arn": arn,
                           "deadline": int(deadline), "count": count}).encode()
        req = urllib.request.Request(api + rid + "/response", data=body, method="POST")
    urllib.request.urlopen(req).read()
'''


@pytest.mark.parametrize("runtime", ["provided.al2023", "provided.al2", "provided"])
def test_provided_runtime_bootstrap(lambda_client, functions, runtime):
    name = functions.create({"bootstrap": PROVIDED_BOOTSTRAP}, runtime=runtime,
                            handler="my.handler")["FunctionName"]
    before_ms = int(time.time() * 1000)
    inv = invoke(lambda_client, name, {"k": "v"})
    assert inv.function_error is None, str(inv)
    body = inv.payload
    assert body["handler"] == "my.handler"
    assert body["event"] == {"k": "v"}
    assert body["request_id"] == inv.request_id
    assert body["arn"] == function_arn(name)
    # Lambda-Runtime-Deadline-Ms: now + Timeout (3 s), in ms since the epoch.
    assert before_ms < body["deadline"] <= before_ms + 3000 + 2000, body
    assert f"custom runtime got {inv.request_id}" in inv.log
    assert_log_frame(inv, cold=True)

    again = invoke(lambda_client, name, {})
    assert again.function_error is None, str(again)
    assert again.payload["count"] == 2
    assert_log_frame(again, cold=False)

    err = invoke(lambda_client, name, {"fail": True})
    assert err.status == 200
    assert err.function_error == "Unhandled"
    assert err.payload == {"errorMessage": "custom failure", "errorType": "CustomError"}


def test_awscli_invoke_with_tail(aws, tmp_path, functions):
    name = functions.create({"app.py": PY_INTROSPECT})["FunctionName"]
    out = tmp_path / "out.json"
    res = aws("lambda", "invoke", "--function-name", name, "--cli-binary-format",
              "raw-in-base64-out", "--payload", json.dumps({"print": "via awscli"}),
              "--log-type", "Tail", str(out))
    meta = res.json
    assert meta["StatusCode"] == 200
    assert meta["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in meta
    body = json.loads(out.read_text())
    assert body["event"] == {"print": "via awscli"}
    log = base64.b64decode(meta["LogResult"]).decode()
    rid = body["ctx"]["aws_request_id"]
    assert f"START RequestId: {rid} Version: $LATEST" in log
    assert "via awscli" in log
    assert f"END RequestId: {rid}" in log
    m = [m for m in REPORT_RE.finditer(log) if m.group("id") == rid]
    assert m and m[0].group("init"), log

    res = aws("lambda", "invoke", "--function-name", name, "--invocation-type", "DryRun",
              str(tmp_path / "dry.json"))
    assert res.json["StatusCode"] == 204


PY_LOGGING = r"""
import logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)

def handler(event, context):
    logger.info("info via logging %s", 42)
    logger.warning("warn via logging")
    logger.debug("debug is below the level")
    return "ok"
"""


def test_python_logging_format(lambda_client, functions):
    """The python runtime's root logger writes "[LEVEL]\t<ISO time>\t<request id>\t<message>"."""
    name = functions.create({"app.py": PY_LOGGING})["FunctionName"]
    inv = invoke(lambda_client, name, {})
    assert inv.function_error is None, str(inv)
    ts = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    rid = re.escape(inv.request_id)
    assert re.search(r"\[INFO\]\t" + ts + r"\t" + rid + r"\tinfo via logging 42\n", inv.log), inv.log
    assert re.search(r"\[WARNING\]\t" + ts + r"\t" + rid + r"\twarn via logging\n", inv.log), inv.log
    assert "debug is below the level" not in inv.log


PY_SLEEPER = r"""
import os, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"pid": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]}
"""


def test_concurrent_invokes_use_separate_environments(lambda_client, functions, endpoint):
    name = functions.create({"app.py": PY_SLEEPER}, Timeout=30)["FunctionName"]
    n = 4
    clients = [make_lambda_client(endpoint) for _ in range(n)]
    t0 = time.monotonic()
    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(lambda c: invoke(c, name, {"sleep": 1.0}), clients))
    elapsed = time.monotonic() - t0
    for inv in results:
        assert inv.function_error is None, str(inv)
        assert_log_frame(inv, cold=True)
    pids = {inv.payload["pid"] for inv in results}
    assert len(pids) == n, f"{n} concurrent invokes ran in {len(pids)} environments"
    assert len({inv.request_id for inv in results}) == n
    assert elapsed < 3.5, f"{n} concurrent 1 s invokes took {elapsed:.1f}s: they were serialised"
    # Afterwards the warm environments are reused.
    inv = invoke(lambda_client, name, {})
    assert inv.function_error is None, str(inv)
    assert inv.payload["pid"] in pids
    assert_log_frame(inv, cold=False)


PY_CLIENT_CONTEXT = r"""
def handler(event, context):
    cc = context.client_context
    return None if cc is None else {"custom": cc.custom, "env": cc.env}
"""


def test_client_context(lambda_client, functions):
    """ClientContext (base64 JSON in X-Amz-Client-Context) reaches context.client_context."""
    name = functions.create({"app.py": PY_CLIENT_CONTEXT})["FunctionName"]
    cc = {"custom": {"tenant": "t-42"}, "env": {"platform": "test"}, "client": {}}
    inv = invoke(lambda_client, name, {},
                 ClientContext=base64.b64encode(json.dumps(cc).encode()).decode())
    assert inv.function_error is None, str(inv)
    assert inv.payload == {"custom": {"tenant": "t-42"}, "env": {"platform": "test"}}
    plain = invoke(lambda_client, name, {})
    assert plain.function_error is None, str(plain)
    assert plain.payload is None
