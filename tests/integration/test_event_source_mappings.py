"""Lambda event source mappings from table streams, with boto3's `lambda` client against the
real server: the CreateEventSourceMapping family (states, fields, paging, Lambda's errors), and
delivery of stream records to a python function: batches in order, filters, retries that block
the shard, the on-failure record in an S3 bucket, and every change of 10,000 writes delivered in
per-item order across a SIGKILL of the server.

Functions run in the process sandbox and append each batch they receive to a file (one write()
per batch) that the tests read."""

import json
import os
import signal
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import HaneulServer
from lambda_helpers import REGION, ROLE, function_arn, make_lambda_client, make_zip, poll
from test_objects import make_s3

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

RECORDER = r'''
import json, os
def handler(event, context):
    fail_on = os.environ.get("FAIL_ON", "")
    data = json.dumps(event) + "\n"
    fd = os.open(os.environ["OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)
    for record in event.get("Records", []):
        keys = record["dynamodb"]["Keys"]
        if fail_on and keys.get("pk", {}).get("S") == fail_on:
            raise RuntimeError("poison record " + fail_on)
    return {}
'''


def make_ddb(endpoint):
    cfg = Config(retries={"max_attempts": 0}, read_timeout=60, connect_timeout=10)
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name=REGION)
    return session.client("dynamodb", endpoint_url=endpoint, config=cfg)


def start_server(base, data=None):
    srv = HaneulServer(data or str(base / "data"), str(base / "server.log"),
                       ["--sandbox", "process"])
    return srv.start()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("esm")
    srv = start_server(base)
    yield {"server": srv, "base": base, "lambda": make_lambda_client(srv.endpoint),
           "raw": make_lambda_client(srv.endpoint, parameter_validation=False),
           "ddb": make_ddb(srv.endpoint)}
    srv.stop()


def make_table(ddb):
    name = "esm-" + uuid.uuid4().hex[:10]
    resp = ddb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    stream = resp["TableDescription"].get("LatestStreamArn")
    if not stream:
        pytest.skip("the table service has no streams yet (LatestStreamArn missing)")
    return name, stream


def make_recorder(client, out, **env_vars):
    name = "esm-fn-" + uuid.uuid4().hex[:10]
    variables = {"OUT": out}
    variables.update(env_vars)
    client.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                           Handler="app.handler", Code={"ZipFile": make_zip({"app.py": RECORDER})},
                           Environment={"Variables": variables})
    return name


def batches(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def records(path):
    return [r for b in batches(path) for r in b.get("Records", [])]


def wait_state(client, mapping_id, state, timeout=10):
    got = poll(lambda: client.get_event_source_mapping(UUID=mapping_id)["State"] == state,
               timeout=timeout, interval=0.05)
    assert got, client.get_event_source_mapping(UUID=mapping_id)


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"], \
        err.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_mapping_lifecycle_states_and_fields(env):
    client, ddb = env["lambda"], env["ddb"]
    _, stream = make_table(ddb)
    fn = make_recorder(client, str(env["base"] / "unused"))
    created = client.create_event_source_mapping(
        FunctionName=fn, EventSourceArn=stream, StartingPosition="LATEST", BatchSize=10,
        MaximumBatchingWindowInSeconds=0, MaximumRetryAttempts=3, BisectBatchOnFunctionError=True,
        ParallelizationFactor=2, FunctionResponseTypes=["ReportBatchItemFailures"],
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    import re
    assert re.match(UUID_RE, created["UUID"])
    assert created["State"] == "Creating"
    assert created["StateTransitionReason"] == "USER_INITIATED"
    assert created["FunctionArn"] == function_arn(fn)
    assert created["EventSourceArn"] == stream
    assert created["BatchSize"] == 10
    assert created["StartingPosition"] == "LATEST"
    assert created["MaximumRetryAttempts"] == 3
    assert created["MaximumRecordAgeInSeconds"] == -1
    assert created["BisectBatchOnFunctionError"] is True
    assert created["ParallelizationFactor"] == 2
    assert created["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert created["FilterCriteria"] == {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]}
    assert created["LastProcessingResult"] == "No records processed"
    assert created["DestinationConfig"] == {"OnFailure": {}}
    assert created["LastModified"].year >= 2024
    mapping_id = created["UUID"]
    wait_state(client, mapping_id, "Enabled")

    # Defaults of a DynamoDB mapping.
    other_fn = make_recorder(client, str(env["base"] / "unused"))
    defaults = client.create_event_source_mapping(FunctionName=function_arn(other_fn),
                                                  EventSourceArn=stream,
                                                  StartingPosition="TRIM_HORIZON")
    assert defaults["BatchSize"] == 100
    assert defaults["MaximumRetryAttempts"] == -1
    assert defaults["ParallelizationFactor"] == 1
    assert defaults["FunctionResponseTypes"] == []

    listed = client.list_event_source_mappings(EventSourceArn=stream)["EventSourceMappings"]
    assert sorted(m["UUID"] for m in listed) == sorted([mapping_id, defaults["UUID"]])
    by_fn = client.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert [m["UUID"] for m in by_fn] == [mapping_id]
    page = client.list_event_source_mappings(EventSourceArn=stream, MaxItems=1)
    assert len(page["EventSourceMappings"]) == 1 and page["NextMarker"]
    rest = client.list_event_source_mappings(EventSourceArn=stream, Marker=page["NextMarker"])
    assert len(rest["EventSourceMappings"]) == 1 and "NextMarker" not in rest
    assert rest["EventSourceMappings"][0]["UUID"] != page["EventSourceMappings"][0]["UUID"]

    updated = client.update_event_source_mapping(UUID=mapping_id, BatchSize=50, Enabled=False)
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert updated["State"] == "Disabling"
    assert updated["BatchSize"] == 50
    wait_state(client, mapping_id, "Disabled")
    assert client.update_event_source_mapping(UUID=mapping_id, Enabled=True)["State"] == "Enabling"
    wait_state(client, mapping_id, "Enabled")

    deleted = client.delete_event_source_mapping(UUID=mapping_id)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert deleted["State"] == "Deleting"
    code, _, status = error_of(client.get_event_source_mapping, UUID=mapping_id)
    assert (code, status) == ("ResourceNotFoundException", 404)
    client.delete_event_source_mapping(UUID=defaults["UUID"])


def test_errors_are_lambdas(env):
    client, raw, ddb = env["lambda"], env["raw"], env["ddb"]
    _, stream = make_table(ddb)
    fn = make_recorder(client, str(env["base"] / "unused"))

    code, message, status = error_of(client.create_event_source_mapping,
                                     FunctionName="no-such-fn-" + uuid.uuid4().hex[:6],
                                     EventSourceArn=stream, StartingPosition="LATEST")
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert message.startswith("Function not found: arn:aws:lambda:")
    code, _, status = error_of(client.create_event_source_mapping, FunctionName=fn,
                               EventSourceArn=stream.replace("table/", "table/missing"),
                               StartingPosition="LATEST")
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, _, status = error_of(client.create_event_source_mapping, FunctionName=fn,
                               EventSourceArn=stream)
    assert (code, status) == ("InvalidParameterValueException", 400)
    code, _, _ = error_of(client.create_event_source_mapping, FunctionName=fn,
                          EventSourceArn=stream, StartingPosition="AT_TIMESTAMP",
                          StartingPositionTimestamp=1)
    assert code == "InvalidParameterValueException"
    code, message, status = error_of(raw.create_event_source_mapping, FunctionName=fn,
                                     EventSourceArn=stream, StartingPosition="LATEST",
                                     BatchSize=20000)
    assert (code, status) == ("ValidationException", 400)
    assert "batchSize" in message
    code, _, _ = error_of(raw.create_event_source_mapping, FunctionName=fn, EventSourceArn=stream,
                          StartingPosition="LATEST", ParallelizationFactor=11)
    assert code == "ValidationException"
    code, _, _ = error_of(client.create_event_source_mapping, FunctionName=fn,
                          EventSourceArn=stream, StartingPosition="LATEST",
                          MaximumRecordAgeInSeconds=30)
    assert code == "InvalidParameterValueException"
    code, message, _ = error_of(client.create_event_source_mapping, FunctionName=fn,
                                EventSourceArn=stream, StartingPosition="LATEST",
                                FilterCriteria={"Filters": [{"Pattern": "{not json"}]})
    assert (code, message) == ("InvalidParameterValueException", "Invalid filter pattern definition.")
    code, _, _ = error_of(client.create_event_source_mapping, FunctionName=fn,
                          EventSourceArn=stream, StartingPosition="LATEST",
                          DestinationConfig={"OnFailure": {
                              "Destination": f"arn:aws:sqs:{REGION}:000000000000:dlq"}})
    assert code == "InvalidParameterValueException"
    code, _, _ = error_of(client.create_event_source_mapping, FunctionName=fn,
                          EventSourceArn=f"arn:aws:sqs:{REGION}:000000000000:queue")
    assert code == "InvalidParameterValueException"
    mapping = client.create_event_source_mapping(FunctionName=fn, EventSourceArn=stream,
                                                 StartingPosition="LATEST")
    code, message, status = error_of(client.create_event_source_mapping, FunctionName=fn,
                                     EventSourceArn=stream, StartingPosition="LATEST")
    assert (code, status) == ("ResourceConflictException", 409)
    assert mapping["UUID"] in message
    code, _, status = error_of(client.update_event_source_mapping,
                               UUID=str(uuid.uuid4()), BatchSize=5)
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, _, status = error_of(client.delete_event_source_mapping, UUID=str(uuid.uuid4()))
    assert (code, status) == ("ResourceNotFoundException", 404)
    client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_stream_records_reach_the_function_in_order(env):
    client, ddb = env["lambda"], env["ddb"]
    table, stream = make_table(ddb)
    out = str(env["base"] / ("order-" + uuid.uuid4().hex[:6]))
    fn = make_recorder(client, out)
    mapping = client.create_event_source_mapping(FunctionName=fn, EventSourceArn=stream,
                                                 StartingPosition="TRIM_HORIZON", BatchSize=10)
    for i in range(3):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"k{i}"}, "v": {"N": "1"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "k0"}, "v": {"N": "2"}})
    ddb.delete_item(TableName=table, Key={"pk": {"S": "k1"}})
    got = poll(lambda: len(records(out)) >= 5 and records(out), timeout=20, interval=0.05)
    assert got, records(out)
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in got] == [
        ("INSERT", "k0"), ("INSERT", "k1"), ("INSERT", "k2"), ("MODIFY", "k0"), ("REMOVE", "k1")]
    for r in got:
        assert r["eventSourceARN"] == stream
        assert r["eventSource"] == "aws:dynamodb"
        assert r["awsRegion"] == REGION
    assert got[3]["dynamodb"]["OldImage"]["v"] == {"N": "1"}
    assert got[3]["dynamodb"]["NewImage"]["v"] == {"N": "2"}
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in got]
    assert seqs == sorted(seqs)
    assert poll(lambda: client.get_event_source_mapping(UUID=mapping["UUID"])
                ["LastProcessingResult"] == "OK", timeout=5)
    client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_filters_and_latest(env):
    client, ddb = env["lambda"], env["ddb"]
    table, stream = make_table(ddb)
    ddb.put_item(TableName=table, Item={"pk": {"S": "before"}})
    out = str(env["base"] / ("filter-" + uuid.uuid4().hex[:6]))
    fn = make_recorder(client, out)
    mapping = client.create_event_source_mapping(
        FunctionName=fn, EventSourceArn=stream, StartingPosition="LATEST",
        FilterCriteria={"Filters": [
            {"Pattern": json.dumps({"eventName": ["INSERT"],
                                    "dynamodb": {"NewImage": {"pk": {"S": [{"prefix": "keep"}]}}}})}]})
    ddb.put_item(TableName=table, Item={"pk": {"S": "drop-1"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "keep-1"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "keep-1"}, "x": {"S": "modified"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "keep-2"}})
    got = poll(lambda: len(records(out)) >= 2 and records(out), timeout=20, interval=0.05)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in got] == ["keep-1", "keep-2"]
    assert not poll(lambda: len(records(out)) > 2, timeout=1.0, interval=0.1)
    client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_failing_batch_blocks_the_shard_then_goes_to_the_s3_destination(env):
    client, ddb = env["lambda"], env["ddb"]
    table, stream = make_table(ddb)
    s3 = make_s3(env["server"].endpoint)
    bucket = "esm-failures-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    out = str(env["base"] / ("fail-" + uuid.uuid4().hex[:6]))
    fn = make_recorder(client, out, FAIL_ON="poison")
    mapping = client.create_event_source_mapping(
        FunctionName=fn, EventSourceArn=stream, StartingPosition="TRIM_HORIZON", BatchSize=1,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}})
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}}
    ddb.put_item(TableName=table, Item={"pk": {"S": "poison"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "after"}})
    got = poll(lambda: any(r["dynamodb"]["Keys"]["pk"]["S"] == "after" for r in records(out))
               and records(out), timeout=60, interval=0.1)
    assert got, records(out)
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in got]
    # One attempt and two retries of the poison batch, and nothing after it got through first.
    assert keys == ["poison", "poison", "poison", "after"], keys

    def failure_objects():
        return s3.list_objects_v2(Bucket=bucket, Prefix=f"aws/lambda/{mapping['UUID']}/").get("Contents")
    objects = poll(failure_objects, timeout=10)
    assert objects and len(objects) == 1, objects
    body = json.loads(s3.get_object(Bucket=bucket, Key=objects[0]["Key"])["Body"].read())
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["requestContext"]["functionArn"] == function_arn(fn)
    assert body["requestContext"]["approximateInvokeCount"] == 3
    assert body["responseContext"]["functionError"] == "Unhandled"
    assert body["version"] == "1.0"
    info = body["DDBStreamBatchInfo"]
    assert info["streamArn"] == stream
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == \
        got[0]["dynamodb"]["SequenceNumber"]
    assert json.loads(body["payload"])["Records"][0]["dynamodb"]["Keys"]["pk"]["S"] == "poison"
    result = client.get_event_source_mapping(UUID=mapping["UUID"])["LastProcessingResult"]
    assert result in ("OK", "PROBLEM: Function call failed")
    client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_ten_thousand_writes_in_per_item_order_across_a_sigkill(tmp_path):
    srv = start_server(tmp_path)
    data = srv.data_dir
    try:
        client, ddb = make_lambda_client(srv.endpoint), make_ddb(srv.endpoint)
        table, stream = make_table(ddb)
        out = str(tmp_path / "out")
        fn = make_recorder(client, out)
        client.create_event_source_mapping(FunctionName=fn, EventSourceArn=stream,
                                           StartingPosition="TRIM_HORIZON", BatchSize=100,
                                           ParallelizationFactor=2)
        keys = [f"item-{i:04d}" for i in range(2000)]

        def write_round(ddb, value):
            # 2,000 writes per round, 25 per BatchWriteItem; round 4 deletes every item.
            for start in range(0, len(keys), 25):
                chunk = keys[start:start + 25]
                if value < 4:
                    reqs = [{"PutRequest": {"Item": {"pk": {"S": k}, "v": {"N": str(value)}}}}
                            for k in chunk]
                else:
                    reqs = [{"DeleteRequest": {"Key": {"pk": {"S": k}}}} for k in chunk]
                resp = ddb.batch_write_item(RequestItems={table: reqs})
                assert not resp.get("UnprocessedItems"), resp
        for value in range(2):
            write_round(ddb, value)
        assert poll(lambda: len(records(out)) > 0, timeout=30)
        # SIGKILL the server and its workers mid-stream.
        os.killpg(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(10)
        srv.proc = None
    finally:
        srv.stop()
    srv = start_server(tmp_path, data)
    try:
        ddb = make_ddb(srv.endpoint)
        for value in range(2, 5):
            write_round(ddb, value)
        got = poll(lambda: len({r["eventID"] for r in records(out)}) >= 10000 and records(out),
                   timeout=180, interval=0.5)
        assert got, f"{len({r['eventID'] for r in records(out)})} of 10000 distinct records"
    finally:
        srv.stop()
    seen = set()
    per_key = {}
    duplicates = 0
    for r in got:
        if r["eventID"] in seen:
            duplicates += 1
            continue
        seen.add(r["eventID"])
        per_key.setdefault(r["dynamodb"]["Keys"]["pk"]["S"], []).append(
            (r["eventName"], int(r["dynamodb"]["SequenceNumber"]),
             r["dynamodb"].get("NewImage", {}).get("v", {}).get("N")))
    assert len(seen) == 10000
    for key in keys:
        events = per_key[key]
        assert [e[0] for e in events] == ["INSERT", "MODIFY", "MODIFY", "MODIFY", "REMOVE"], (key, events)
        assert [e[2] for e in events] == ["0", "1", "2", "3", None], (key, events)
        assert [e[1] for e in events] == sorted(e[1] for e in events)
    # At-least-once, like Lambda: only batches in flight at the SIGKILL (uncheckpointed) repeat.
    assert duplicates <= 2 * 100, duplicates
    print(f"10000 records, {duplicates} redelivered after the SIGKILL")


def test_awscli_manages_mappings(aws, endpoint, functions):
    ddb = make_ddb(endpoint)
    _, stream = make_table(ddb)
    fn = functions.create({"app.py": "def handler(event, context):\n    return {}\n"})["FunctionName"]
    created = aws("lambda", "create-event-source-mapping", "--function-name", fn,
                  "--event-source-arn", stream, "--starting-position", "TRIM_HORIZON",
                  "--batch-size", "5", "--maximum-retry-attempts", "1").json
    assert created["State"] == "Creating"
    assert created["BatchSize"] == 5
    listed = aws("lambda", "list-event-source-mappings", "--function-name", fn).json
    assert [m["UUID"] for m in listed["EventSourceMappings"]] == [created["UUID"]]
    disabled = aws("lambda", "update-event-source-mapping", "--uuid", created["UUID"],
                   "--no-enabled").json
    assert disabled["State"] == "Disabling"
    missing = aws("lambda", "get-event-source-mapping", "--uuid", str(uuid.uuid4()), check=False)
    assert missing.rc != 0 and "ResourceNotFoundException" in missing.stderr
    assert aws("lambda", "delete-event-source-mapping", "--uuid",
               created["UUID"]).json["State"] == "Deleting"
