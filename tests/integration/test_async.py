"""Event (async) invocations: 202 at once, a durable queue that survives SIGKILL, Lambda's retry
policy, the EventInvokeConfig operations, destinations (a function or a dead-letter queue read
back with `haneul dlq`) with Lambda's destination record shape, and the 1 MB async limit."""

import json
import os
import signal
import subprocess

import pytest
from botocore.exceptions import ClientError

from lambda_helpers import ACCOUNT, REGION, ROLE, haneul_bin, make_lambda_client, make_zip, poll

APP = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail: " + str(event.get("n")))
    return {"echo": event, "request": context.aws_request_id}
"""


def queue_arn(name):
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def function_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def dlq(srv, name):
    """The records in dead-letter queue name, through `haneul dlq read`."""
    out = subprocess.run([haneul_bin(), "dlq", "read", name, "--endpoint", srv.endpoint],
                         capture_output=True, text=True, timeout=30, check=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def wait_for(srv, name, count, timeout=30):
    records = poll(lambda: (lambda r: r if len(r) >= count else None)(dlq(srv, name)),
                   timeout=timeout, interval=0.1)
    got = dlq(srv, name)
    assert len(got) >= count, f"expected {count} records in {name}, got {len(got)}: {got}"
    return records or got


@pytest.fixture
def fast(server_factory):
    """A server whose async retries come after 50 ms and 100 ms instead of 1 and 2 minutes."""
    srv = server_factory(args=["--async-retry-delay-ms", "50"])
    client = make_lambda_client(srv.endpoint)
    client.create_function(FunctionName="worker", Runtime="python3.12", Role=ROLE,
                           Handler="app.handler", Code={"ZipFile": make_zip({"app.py": APP})})
    return srv, client


def event(client, name, payload, **kwargs):
    return client.invoke(FunctionName=name, InvocationType="Event",
                         Payload=json.dumps(payload).encode(), **kwargs)


def test_event_is_accepted_and_delivered_to_on_success(fast):
    srv, client = fast
    client.put_function_event_invoke_config(
        FunctionName="worker", DestinationConfig={"OnSuccess": {"Destination": queue_arn("ok")}})
    resp = event(client, "worker", {"n": 1})
    assert resp["StatusCode"] == 202
    assert resp["Payload"].read() == b""
    request_id = resp["ResponseMetadata"]["RequestId"]
    record = wait_for(srv, "ok", 1)[0]
    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z")
    assert record["requestContext"] == {
        "requestId": request_id, "functionArn": function_arn("worker") + ":$LATEST",
        "condition": "Success", "approximateInvokeCount": 1}
    assert record["requestPayload"] == {"n": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"echo": {"n": 1}, "request": request_id}
    listed = subprocess.run([haneul_bin(), "dlq", "list", "--endpoint", srv.endpoint],
                            capture_output=True, text=True, timeout=30, check=True).stdout
    assert "ok\t1" in listed


def test_failures_are_retried_then_land_in_on_failure(fast):
    srv, client = fast
    client.put_function_event_invoke_config(
        FunctionName="worker", MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": queue_arn("failed")}})
    resp = event(client, "worker", {"fail": True, "n": 7})
    request_id = resp["ResponseMetadata"]["RequestId"]
    record = wait_for(srv, "failed", 1)[0]
    assert record["requestContext"] == {
        "requestId": request_id, "functionArn": function_arn("worker") + ":$LATEST",
        "condition": "RetriesExhausted", "approximateInvokeCount": 3}
    assert record["requestPayload"] == {"fail": True, "n": 7}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "asked to fail: 7"
    # Zero retries: one attempt only.
    client.update_function_event_invoke_config(FunctionName="worker", MaximumRetryAttempts=0)
    event(client, "worker", {"fail": True, "n": 8})
    records = wait_for(srv, "failed", 2)
    assert records[1]["requestContext"]["approximateInvokeCount"] == 1


def test_function_destination_receives_the_record(fast):
    srv, client = fast
    client.create_function(FunctionName="collector", Runtime="python3.12", Role=ROLE,
                           Handler="app.handler", Code={"ZipFile": make_zip({"app.py": APP})})
    client.put_function_event_invoke_config(
        FunctionName="collector",
        DestinationConfig={"OnSuccess": {"Destination": queue_arn("collected")}})
    client.put_function_event_invoke_config(
        FunctionName="worker", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": function_arn("collector")}})
    event(client, "worker", {"fail": True, "n": 3})
    # The collector got the failure record as its event; its own success record echoes it.
    collected = wait_for(srv, "collected", 1)[0]
    inner = collected["requestPayload"]
    assert inner["requestContext"]["condition"] == "RetriesExhausted"
    assert inner["requestPayload"] == {"fail": True, "n": 3}
    assert inner["responseContext"]["functionError"] == "Unhandled"
    assert collected["responsePayload"]["echo"] == inner


def test_event_invoke_config_operations(fast, aws):
    srv, client = fast
    with pytest.raises(ClientError) as e:
        client.get_function_event_invoke_config(FunctionName="worker")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    put = client.put_function_event_invoke_config(FunctionName="worker", MaximumRetryAttempts=1,
                                                  MaximumEventAgeInSeconds=120)
    assert put["FunctionArn"] == function_arn("worker") + ":$LATEST"
    assert put["MaximumRetryAttempts"] == 1 and put["MaximumEventAgeInSeconds"] == 120
    updated = client.update_function_event_invoke_config(
        FunctionName="worker",
        DestinationConfig={"OnFailure": {"Destination": queue_arn("x")}})
    assert updated["MaximumRetryAttempts"] == 1
    assert updated["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn("x")
    # Put replaces the whole configuration.
    replaced = client.put_function_event_invoke_config(FunctionName="worker",
                                                       MaximumRetryAttempts=2)
    assert "MaximumEventAgeInSeconds" not in replaced
    assert replaced["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    listed = client.list_function_event_invoke_configs(FunctionName="worker")
    assert [c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]] == [
        function_arn("worker") + ":$LATEST"]
    raw = make_lambda_client(srv.endpoint, parameter_validation=False)
    for bad in ({"MaximumRetryAttempts": 3}, {"MaximumEventAgeInSeconds": 59},
                {"MaximumEventAgeInSeconds": 21601}):
        with pytest.raises(ClientError) as e:
            raw.put_function_event_invoke_config(FunctionName="worker", **bad)
        assert e.value.response["Error"]["Code"] == "ValidationException", bad
    client.delete_function_event_invoke_config(FunctionName="worker")
    with pytest.raises(ClientError) as e:
        client.delete_function_event_invoke_config(FunctionName="worker")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_async_payload_limit_is_one_megabyte(fast):
    srv, client = fast
    big = {"data": "x" * (600 * 1024)}  # over the old 256 KB limit, under 1 MB
    assert event(client, "worker", big)["StatusCode"] == 202
    with pytest.raises(ClientError) as e:
        event(client, "worker", {"data": "x" * (1024 * 1024)})
    assert e.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_sigkill_restart_delivers_every_accepted_event(server_factory, tmp_path):
    data = str(tmp_path / "data")
    first = server_factory(data, args=["--async-retry-delay-ms", "50"])
    client = make_lambda_client(first.endpoint)
    client.create_function(FunctionName="durable", Runtime="python3.12", Role=ROLE,
                           Handler="app.handler", Code={"ZipFile": make_zip({"app.py": APP})})
    client.put_function_event_invoke_config(
        FunctionName="durable", DestinationConfig={"OnSuccess": {"Destination": queue_arn("done")}})
    # Held back by a zero reservation, so every event is still queued when the server dies.
    client.put_function_concurrency(FunctionName="durable", ReservedConcurrentExecutions=0)
    accepted = set()
    for n in range(20):
        resp = event(client, "durable", {"n": n})
        assert resp["StatusCode"] == 202
        accepted.add(resp["ResponseMetadata"]["RequestId"])
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait(10)
    first.proc = None
    second = server_factory(data, args=["--async-retry-delay-ms", "50"])
    client = make_lambda_client(second.endpoint)
    client.delete_function_concurrency(FunctionName="durable")
    records = wait_for(second, "done", 20)
    delivered = {r["requestContext"]["requestId"] for r in records}
    assert accepted <= delivered
    assert sorted(r["requestPayload"]["n"] for r in records if r["requestContext"]["requestId"]
                  in accepted)[:20] == list(range(20))
