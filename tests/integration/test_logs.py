"""Logs: huge output, `haneul logs`, and the CloudWatch Logs API (boto3 and awscli)."""

import json
import subprocess

from lambda_helpers import haneul_bin, invoke, poll

PY_LOGGER = r'''
import os
def handler(event, context):
    print("log line from handler:", event.get("tag"))
    return {"stream": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")}
'''

PY_FLOOD = r'''
import sys
def handler(event, context):
    line = "L" * 1023 + "\n"
    write = sys.stdout.write
    for _ in range(event["mb"] * 1024):
        write(line)
    sys.stdout.flush()
    print("flood done")
    return {"done": True, "mb": event["mb"]}
'''


def test_hundred_megabytes_of_logs(lambda_client, functions):
    name = functions.create({"app.py": PY_FLOOD}, Timeout=120, MemorySize=256)["FunctionName"]
    inv = invoke(lambda_client, name, {"mb": 100})
    assert inv.function_error is None, str(inv)
    assert inv.payload == {"done": True, "mb": 100}
    # LogResult is the last 4 KB of the execution log.
    assert len(inv.log.encode()) <= 4096, len(inv.log.encode())
    assert f"REPORT RequestId: {inv.request_id}" in inv.log
    # Past the log budget (16 MB/s after a 32 MB burst) lines are dropped, counted and reported
    # right before END, instead of slowing every other function down.
    import re
    dropped = re.search(r"LOGS_DROPPED Dropped Records: (\d+)\tDropped Bytes: (\d+)\tReason: ",
                        inv.log)
    assert dropped, inv.log[-600:]
    lines, size = int(dropped.group(1)), int(dropped.group(2))
    assert 0 < lines < 100 * 1024 and abs(size - lines * 1024) < 1024  # 1 KB lines

    # The server keeps serving: another function, the control plane, and this function again.
    other = functions.create({"app.py": PY_LOGGER})["FunctionName"]
    assert invoke(lambda_client, other, {"tag": "after flood"}).function_error is None
    assert lambda_client.list_functions()["ResponseMetadata"]["HTTPStatusCode"] == 200
    again = invoke(lambda_client, name, {"mb": 1})
    assert again.function_error is None, str(again)
    assert again.payload == {"done": True, "mb": 1}
    # With 1 MB of output, the 4 KB tail holds only the end of it, END and REPORT.
    assert len(again.log.encode()) <= 4096
    assert f"END RequestId: {again.request_id}" in again.log
    report = again.report()
    assert report["memory"] == "256" and not report["init"], report


def run_haneul(*args, timeout=60):
    return subprocess.run([haneul_bin(), *args], capture_output=True, text=True, timeout=timeout)


def test_haneul_logs_cli(lambda_client, functions, endpoint):
    name = functions.create({"app.py": PY_LOGGER})["FunctionName"]
    inv = invoke(lambda_client, name, {"tag": "for-haneul-logs"})
    rid = inv.request_id

    def has_frame():
        res = run_haneul("logs", name, "--endpoint", endpoint)
        return res if (res.returncode == 0 and f"REPORT RequestId: {rid}" in res.stdout) else None

    res = poll(has_frame, timeout=10, interval=0.3)
    assert res, run_haneul("logs", name, "--endpoint", endpoint)
    assert f"START RequestId: {rid} Version: $LATEST" in res.stdout
    assert "log line from handler: for-haneul-logs" in res.stdout
    assert f"END RequestId: {rid}" in res.stdout


def events_text(events):
    return "".join(e["message"] if e["message"].endswith("\n") else e["message"] + "\n"
                   for e in events)


def test_filter_log_events_awscli(aws, lambda_client, functions):
    name = functions.create({"app.py": PY_LOGGER})["FunctionName"]
    inv = invoke(lambda_client, name, {"tag": "for-awscli"})
    rid = inv.request_id

    def fetch():
        out = aws("logs", "filter-log-events", "--log-group-name", f"/aws/lambda/{name}").json
        text = events_text(out["events"])
        return (out, text) if f"REPORT RequestId: {rid}" in text else None

    got = poll(fetch, timeout=10, interval=0.3)
    assert got, aws("logs", "filter-log-events", "--log-group-name", f"/aws/lambda/{name}").stdout
    out, text = got
    assert f"START RequestId: {rid} Version: $LATEST" in text
    assert "log line from handler: for-awscli" in text
    assert f"END RequestId: {rid}" in text
    stream = inv.payload["stream"]
    for e in out["events"]:
        assert e["logStreamName"] == stream, e
        assert isinstance(e["timestamp"], int) and e["timestamp"] > 1_600_000_000_000, e
        assert isinstance(e["ingestionTime"], int), e
        assert e.get("eventId"), e


def test_logs_api_boto3(logs_client, lambda_client, functions):
    name = functions.create({"app.py": PY_LOGGER})["FunctionName"]
    first = invoke(lambda_client, name, {"tag": "one"})
    assert first.function_error is None, str(first)
    second = invoke(lambda_client, name, {"tag": "two"})
    assert second.function_error is None, str(second)
    group = f"/aws/lambda/{name}"
    stream = first.payload["stream"]
    assert second.payload["stream"] == stream, "one environment writes one stream"

    def streams():
        resp = logs_client.describe_log_streams(logGroupName=group)
        return resp if any(s["logStreamName"] == stream for s in resp["logStreams"]) else None

    resp = poll(streams, timeout=10, interval=0.2)
    assert resp, logs_client.describe_log_streams(logGroupName=group)

    def events():
        resp = logs_client.get_log_events(logGroupName=group, logStreamName=stream,
                                          startFromHead=True)
        text = events_text(resp["events"])
        return text if f"REPORT RequestId: {second.request_id}" in text else None

    text = poll(events, timeout=10, interval=0.2)
    assert text, logs_client.get_log_events(logGroupName=group, logStreamName=stream,
                                            startFromHead=True)
    # Both invocations, in order.
    assert text.index(f"START RequestId: {first.request_id}") \
        < text.index("log line from handler: one") \
        < text.index(f"END RequestId: {first.request_id}") \
        < text.index(f"START RequestId: {second.request_id}") \
        < text.index("log line from handler: two")

    # filterPattern: a plain term matches the events that contain it.
    resp = logs_client.filter_log_events(logGroupName=group, filterPattern="REPORT")
    assert resp["events"], resp
    assert all("REPORT" in e["message"] for e in resp["events"]), resp["events"]
    assert len(resp["events"]) == 2


def test_logs_missing_group(logs_client):
    import pytest
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as e:
        logs_client.filter_log_events(logGroupName="/aws/lambda/never-existed-xyz")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert json.dumps(e.value.response["Error"])  # a proper error document


PY_JSON_LOGGER = r'''
import json
def handler(event, context):
    for i in range(event["n"]):
        print(json.dumps({"level": "ERROR" if i % 3 == 0 else "INFO", "latency": i * 10,
                          "path": f"/items/{i}"}))
    print("plain text line 404 1534")
    return {}
'''


def test_filter_patterns_json_terms_and_space_delimited(logs_client, lambda_client, functions):
    name = functions.create({"app.py": PY_JSON_LOGGER})["FunctionName"]
    inv = invoke(lambda_client, name, {"n": 9})
    assert inv.function_error is None, str(inv)
    group = f"/aws/lambda/{name}"

    def messages(pattern):
        resp = logs_client.filter_log_events(logGroupName=group, filterPattern=pattern)
        return [e["message"].strip() for e in resp["events"]]

    assert poll(lambda: len(messages('{ $.level = "ERROR" }')) == 3, timeout=10)
    assert len(messages('{ $.level = "ERROR" && $.latency > 20 }')) == 2  # i = 3, 6
    assert len(messages('{ $.level = "INFO" || $.latency = 0 }')) == 7
    assert len(messages('{ $.path = "/items/1*" }')) == 1
    assert len(messages('{ $.nothing NOT EXISTS && $.level = "INFO" }')) == 6
    # Terms: START/END/REPORT lines carry RequestId; -term excludes.
    assert len(messages(f'"{inv.request_id}" -REPORT -END')) == 1  # START only
    assert len(messages("?REPORT ?END")) == 2
    # Space-delimited: the plain line has 5 words.
    assert messages("[w1, w2, w3, status = 404, bytes > 1000]") == ["plain text line 404 1534"]
    assert messages("[..., status = 5*, bytes]") == []


def test_bad_filter_pattern_is_invalid_parameter(logs_client, lambda_client, functions):
    from botocore.exceptions import ClientError
    import pytest
    name = functions.create({"app.py": PY_LOGGER})["FunctionName"]
    assert invoke(lambda_client, name, {"tag": "x"}).function_error is None
    with pytest.raises(ClientError) as e:
        logs_client.filter_log_events(logGroupName=f"/aws/lambda/{name}",
                                      filterPattern='{ $.a = "unterminated }')
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"


def test_retention_policy_and_log_groups(aws, logs_client):
    from botocore.exceptions import ClientError
    import pytest
    group = "/custom/retention-test"
    logs_client.create_log_group(logGroupName=group)
    with pytest.raises(ClientError) as e:
        logs_client.create_log_group(logGroupName=group)
    assert e.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    aws("logs", "put-retention-policy", "--log-group-name", group, "--retention-in-days", "7")
    described = aws("logs", "describe-log-groups", "--log-group-name-prefix", group).json
    assert described["logGroups"][0]["retentionInDays"] == 7
    assert described["logGroups"][0]["creationTime"] > 1_600_000_000_000
    with pytest.raises(ClientError) as e:
        logs_client.put_retention_policy(logGroupName=group, retentionInDays=2)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "enum value set" in e.value.response["Error"]["Message"]
    logs_client.delete_retention_policy(logGroupName=group)
    described = logs_client.describe_log_groups(logGroupNamePrefix=group)
    assert "retentionInDays" not in described["logGroups"][0]
    logs_client.delete_log_group(logGroupName=group)
    assert logs_client.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
    with pytest.raises(ClientError) as e:
        logs_client.delete_log_group(logGroupName=group)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_aws_logs_tail(aws, lambda_client, functions):
    """`aws logs tail` (awscli v2) reads a function's log through FilterLogEvents."""
    name = functions.create({"app.py": PY_LOGGER})["FunctionName"]
    inv = invoke(lambda_client, name, {"tag": "for-tail"})
    assert inv.function_error is None
    got = poll(lambda: "log line from handler: for-tail" in aws(
        "logs", "tail", f"/aws/lambda/{name}", "--since", "10m", "--format", "short").stdout,
        timeout=10, interval=0.3)
    assert got


JSON_LOGGING_APP = r'''
import logging
logger = logging.getLogger("app")
def handler(event, context):
    print("plain print stays text")
    logger.debug("debug detail")
    logger.info("hello %s", event.get("name"), extra={"order": 42})
    try:
        raise ValueError("bad value")
    except ValueError:
        logger.exception("caught it")
    return {}
'''

JSON_LOGGING_NODE = r'''
exports.handler = async (event) => {
  console.log("hello", event.name);
  console.debug({ structured: true });
  console.error(new Error("node broke"));
  return {};
};
'''


def lambda_sdk(endpoint, command, **params):
    """One command through the AWS SDK for JavaScript v3 (Debian's boto3 predates LoggingConfig)."""
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    proc = subprocess.run(["node", os.path.join(here, "lambda_sdk.mjs"), endpoint, command,
                           json.dumps(params)], cwd=here, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_logging_config_json_format(endpoint, lambda_client, logs_client, functions):
    """LoggingConfig JSON (set with the JS SDK v3): the platform lines become platform.* events,
    python's logging writes one JSON object per record at ApplicationLogLevel, print stays text,
    and the logs go to the configured LogGroup."""
    name = functions.create({"app.py": JSON_LOGGING_APP})["FunctionName"]
    updated = lambda_sdk(endpoint, "UpdateFunctionConfiguration", FunctionName=name, LoggingConfig={
        "LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "LogGroup": "/custom/json-logs"})
    assert "error" not in updated, updated
    config = lambda_sdk(endpoint, "GetFunctionConfiguration", FunctionName=name)["LoggingConfig"]
    assert config == {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG",
                      "SystemLogLevel": "INFO", "LogGroup": "/custom/json-logs"}
    inv = invoke(lambda_client, name, {"name": "json"})
    assert inv.function_error is None, str(inv)

    def messages():
        try:
            events = logs_client.filter_log_events(logGroupName="/custom/json-logs")["events"]
        except logs_client.exceptions.ResourceNotFoundException:
            return None
        found = [e["message"] for e in events]
        return found if any('"platform.report"' in m for m in found) else None

    lines = poll(messages, timeout=15)
    assert lines, "no logs in the custom group"
    parsed = [json.loads(m) for m in lines if m.startswith("{")]
    types = [p.get("type") for p in parsed if "type" in p]
    assert types[:3] == ["platform.initStart", "platform.start", "platform.report"], types
    assert not any(m.startswith(("START ", "END ", "REPORT ")) for m in lines), lines
    report = next(p for p in parsed if p.get("type") == "platform.report")["record"]
    assert report["requestId"] == inv.request_id and report["status"] == "success"
    assert report["metrics"]["memorySizeMB"] == 128 and "initDurationMs" in report["metrics"]
    assert report["metrics"]["billedDurationMs"] >= 1
    app = [p for p in parsed if "level" in p]
    by_message = {p["message"]: p for p in app}
    assert by_message["debug detail"]["level"] == "DEBUG"
    hello = by_message["hello json"]
    assert hello["logger"] == "app" and hello["requestId"] == inv.request_id
    assert hello["order"] == 42 and hello["timestamp"].endswith("Z")
    caught = by_message["caught it"]
    assert caught["level"] == "ERROR" and caught["errorType"] == "ValueError"
    assert caught["errorMessage"] == "bad value" and caught["stackTrace"]
    assert "plain print stays text" in lines
    # The same with the log tail of the invocation itself.
    assert '"platform.start"' in inv.log

    # Back to Text: the levels go; levels with Text are refused as Lambda does.
    lambda_sdk(endpoint, "UpdateFunctionConfiguration", FunctionName=name,
               LoggingConfig={"LogFormat": "Text"})
    text = lambda_sdk(endpoint, "GetFunctionConfiguration", FunctionName=name)["LoggingConfig"]
    assert text == {"LogFormat": "Text", "LogGroup": "/custom/json-logs"}
    refused = lambda_sdk(endpoint, "UpdateFunctionConfiguration", FunctionName=name,
                         LoggingConfig={"LogFormat": "Text", "ApplicationLogLevel": "INFO"})
    assert refused["error"] == "InvalidParameterValueException", refused
    refused = lambda_sdk(endpoint, "UpdateFunctionConfiguration", FunctionName=name,
                         LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "ERROR"})
    assert refused["error"] == "ValidationException", refused


def test_logging_config_json_node_console_and_level(endpoint, lambda_client, functions):
    name = functions.unique("json-node")
    functions.track(name)
    from lambda_helpers import ROLE, make_zip
    import base64
    created = lambda_sdk(endpoint, "CreateFunction", FunctionName=name, Runtime="nodejs20.x",
                         Handler="index.handler", Role=ROLE,
                         Code={"ZipFile": base64.b64encode(make_zip({"index.js": JSON_LOGGING_NODE})).decode()},
                         LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO",
                                        "SystemLogLevel": "WARN"})
    assert created.get("LoggingConfig", {}).get("SystemLogLevel") == "WARN", created
    inv = invoke(lambda_client, name, {"name": "node"})
    assert inv.function_error is None, str(inv)
    lines = [l for l in inv.log.splitlines() if l.startswith("{")]
    parsed = [json.loads(l) for l in lines]
    # SystemLogLevel WARN: no platform.start / platform.report; DEBUG records filtered out.
    assert not any("type" in p for p in parsed), parsed
    assert [p["level"] for p in parsed] == ["INFO", "ERROR"], parsed
    assert parsed[0]["message"] == "hello node" and parsed[0]["requestId"] == inv.request_id
    assert parsed[1]["errorType"] == "Error" and parsed[1]["errorMessage"] == "node broke"
