"""Handlers reach the bundled services from inside their sandbox with no code change: the
environment carries AWS_ENDPOINT_URL (and per-service forms) and credentials, and boto3 (Debian's,
older than AWS_ENDPOINT_URL support; the python runtime teaches it) writes to the object store and
the table service and calls Lambda. In the namespace sandbox the socket it reaches lives inside the
function's own network namespace; with the process sandbox it is the server's endpoint."""

import json
import uuid

import boto3
import pytest

from lambda_helpers import invoke
from test_objects import make_s3

USES_SERVICES = r'''
import json, os
import boto3

def handler(event, context):
    s3 = boto3.client("s3")
    s3.put_object(Bucket=event["bucket"], Key="from-handler.txt", Body=b"written inside")
    ddb = boto3.client("dynamodb")
    ddb.put_item(TableName=event["table"], Item={"id": {"S": "from-handler"}})
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    return {
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "s3_endpoint": os.environ.get("AWS_ENDPOINT_URL_S3"),
        "me_listed": context.function_name in names,
        "object": s3.get_object(Bucket=event["bucket"], Key="from-handler.txt")["Body"].read().decode(),
    }
'''

OWN_ENDPOINT = r'''
import os
def handler(event, context):
    return {"endpoint": os.environ.get("AWS_ENDPOINT_URL"),
            "s3_endpoint": os.environ.get("AWS_ENDPOINT_URL_S3")}
'''


def make_dynamodb(endpoint):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def make_resources(endpoint):
    suffix = uuid.uuid4().hex[:10]
    bucket, table = "fnsvc-" + suffix, "fnsvc-" + suffix
    make_s3(endpoint).create_bucket(Bucket=bucket)
    make_dynamodb(endpoint).create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    return bucket, table


def test_boto3_in_a_handler_reaches_s3_dynamodb_and_lambda_unchanged(server, functions,
                                                                   lambda_client):
    bucket, table = make_resources(server.endpoint)
    name = functions.create({"app.py": USES_SERVICES}, Timeout=30)["FunctionName"]
    out = invoke(lambda_client, name, {"bucket": bucket, "table": table})
    assert out.status == 200 and not out.function_error, out
    body = out.payload
    assert body["me_listed"] is True
    assert body["object"] == "written inside"
    if server.sandbox == "namespace":
        # The function's own network has only loopback: the services answer on a socket in it.
        assert body["endpoint"] == "http://127.0.0.1:4747"
    else:
        assert body["endpoint"] == server.endpoint
    assert body["s3_endpoint"] == body["endpoint"]
    # Seen from outside: the writes landed in the server's stores.
    got = make_s3(server.endpoint).get_object(Bucket=bucket, Key="from-handler.txt")
    assert got["Body"].read() == b"written inside"
    item = make_dynamodb(server.endpoint).get_item(TableName=table,
                                                   Key={"id": {"S": "from-handler"}})
    assert item["Item"] == {"id": {"S": "from-handler"}}


def test_a_functions_own_endpoint_variable_wins(server, functions, lambda_client):
    name = functions.create({"app.py": OWN_ENDPOINT},
                            Environment={"Variables": {
                                "AWS_ENDPOINT_URL_S3": "http://s3.example.invalid"}})["FunctionName"]
    body = invoke(lambda_client, name, {}).payload
    assert body["s3_endpoint"] == "http://s3.example.invalid"
    assert body["endpoint"]


def test_signed_server_accepts_the_handlers_requests(server_factory, request):
    """With --credentials the handler's SDK signs with the key pair it was given."""
    from test_auth import KEY, SECRET, client
    srv = server_factory(args=["--credentials", f"{KEY}:{SECRET}"])
    lam = client(srv.endpoint, "lambda")
    suffix = uuid.uuid4().hex[:10]
    client(srv.endpoint, "s3").create_bucket(Bucket="signed-" + suffix)
    client(srv.endpoint, "dynamodb").create_table(
        TableName="signed-" + suffix, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    from lambda_helpers import ROLE, make_zip
    lam.create_function(FunctionName="svc", Runtime="python3.12", Role=ROLE,
                        Handler="app.handler", Timeout=30,
                        Code={"ZipFile": make_zip({"app.py": USES_SERVICES})})
    out = lam.invoke(FunctionName="svc", Payload=json.dumps(
        {"bucket": "signed-" + suffix, "table": "signed-" + suffix}).encode())
    payload = out["Payload"].read()
    assert "FunctionError" not in out, payload
    assert json.loads(payload)["object"] == "written inside"
