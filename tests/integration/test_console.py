"""The web console end to end in headless Chromium (Debian's `chromium`, driven by playwright-core
from npm): function list, saved test event, Test button with its result and REPORT figures, a
malformed event refused inline, live logs, a chart drawn from real invocations, and the read-only
browsers of buckets and APIs; then a server that wants signed requests, where the page asks for
the key pair and signs every call itself. Screenshots of each page are kept in
$HANEUL_ARTIFACTS_DIR/console (or the test's temporary folder)."""

import json
import os
import shutil
import subprocess

import boto3
import pytest

from test_objects import make_s3

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = "/usr/bin/chromium"


def test_console_end_to_end(server, lambda_client, functions, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed (scripts/install-deps.sh installs it)")
    name = functions.create({"app.py": (
        "def handler(event, context):\n"
        "    print('console says', event.get('name'))\n"
        "    return {'hello': event.get('name')}\n")})["FunctionName"]
    shots = os.path.join(os.environ.get("HANEUL_ARTIFACTS_DIR", str(tmp_path)), "console")
    os.makedirs(shots, exist_ok=True)
    bucket = "console-" + name[-8:]
    s3 = make_s3(server.endpoint)
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="photos/cat.txt", Body=b"meow")
    gateway = boto3.client("apigatewayv2", endpoint_url=server.endpoint, region_name="us-east-1")
    api = gateway.create_api(Name="console-api", ProtocolType="HTTP")
    integration = gateway.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY",
                                             IntegrationUri=name, PayloadFormatVersion="2.0")
    gateway.create_route(ApiId=api["ApiId"], RouteKey="GET /items/{id}",
                         Target="integrations/" + integration["IntegrationId"])
    gateway.create_stage(ApiId=api["ApiId"], StageName="prod", AutoDeploy=True)
    proc = subprocess.run(["node", os.path.join(HERE, "console_e2e.js"), server.endpoint, name, shots,
                           bucket, api["ApiId"]],
                          capture_output=True, text=True, timeout=240, cwd=HERE)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert "failure" not in report, report.get("failure")
    assert report["listed"] >= 1
    assert report["saved"] == 1 and report["savedAfterReload"] == 1
    assert report["status"] == "Execution succeeded"
    assert json.loads(report["payload"]) == {"hello": "console"}
    assert report["duration"].endswith(" ms") and report["billed"].endswith(" ms"), report
    assert report["memoryUsed"].endswith(" MB")
    assert report["initDuration"].endswith(" ms"), "the first invocation is a cold start"
    assert "console says console" in report["logTail"] and "REPORT RequestId" in report["logTail"]
    assert "not valid JSON" in report["malformedMessage"] and report["malformedClass"] == "error"
    assert report["sentForMalformed"] == 0
    assert "console says console" in report["logs"]
    assert report["chartPoints"] >= 2 and report["chartLatest"] > 0
    assert "ResourceNotFoundException" in report["missingFunction"]
    assert report["pageErrors"] == []
    assert report["bucketListed"] == 1
    assert report["folders"] == ["photos/"] and report["objects"] == ["cat.txt"]
    assert report["routes"] == ["GET /items/{id}"] and report["stages"] == ["prod"]
    for shot in ("functions", "test", "malformed", "logs", "metrics", "bucket", "api"):
        assert os.path.getsize(os.path.join(shots, f"{shot}.png")) > 1000


def test_console_signs_its_requests_for_a_server_with_credentials(server_factory, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed (scripts/install-deps.sh installs it)")
    from test_auth import KEY, SECRET, client
    from lambda_helpers import ROLE, make_zip
    srv = server_factory(args=["--credentials", f"{KEY}:{SECRET}"])
    client(srv.endpoint, "lambda").create_function(
        FunctionName="signed-fn", Runtime="python3.12", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": "def handler(e, c):\n    return {'hi': e.get('name')}\n"})})
    client(srv.endpoint, "s3").create_bucket(Bucket="signed-bucket")
    client(srv.endpoint, "dynamodb").create_table(
        TableName="signed-table", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    shots = os.path.join(os.environ.get("HANEUL_ARTIFACTS_DIR", str(tmp_path)), "console")
    os.makedirs(shots, exist_ok=True)
    proc = subprocess.run(["node", os.path.join(HERE, "console_signed_e2e.js"), srv.endpoint, KEY,
                           SECRET, "signed-fn", shots],
                          capture_output=True, text=True, timeout=240, cwd=HERE)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert "failure" not in report, report.get("failure")
    assert "MissingAuthenticationToken" in report["refusal"] or "Missing" in report["refusal"], report
    assert "Signature" in report["wrongSecret"]
    assert report["listed"] == 1
    assert json.loads(report["payload"]) == {"hi": "signed"}
    assert report["tables"] == ["signed-table"]
    assert report["buckets"] == ["signed-bucket"]
    assert report["pageErrors"] == []
