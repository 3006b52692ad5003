"""Optional request authentication: a server started with --credentials accepts requests that
awscli and boto3 sign with those keys, and refuses unsigned, wrongly signed, unknown-key and
replayed requests with each service's own error (Lambda, DynamoDB, CloudWatch Logs, S3)."""

import datetime
import json
import os
import subprocess
import urllib.error
import urllib.request

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from lambda_helpers import REGION

KEY, SECRET = "AKIDHANEULTEST", "s3cr3t/with+chars"


def client(endpoint, service, key=KEY, secret=SECRET):
    session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                    region_name=REGION)
    cfg = Config(retries={"max_attempts": 0}, connect_timeout=10, read_timeout=60,
                 s3={"addressing_style": "path"})
    return session.client(service, endpoint_url=endpoint, config=cfg)


@pytest.fixture(scope="module")
def signed_server(tmp_path_factory, request):
    from conftest import HaneulServer
    tmp = tmp_path_factory.mktemp("auth")
    srv = HaneulServer(str(tmp / "data"), str(tmp / "server.log"),
                       ["--credentials", f"{KEY}:{SECRET}", "--example"])
    srv.start()
    yield srv
    srv.stop()


def error_of(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response


def test_signed_requests_pass_and_example_was_deployed_signed(signed_server):
    lam = client(signed_server.endpoint, "lambda")
    names = lambda: [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    from lambda_helpers import poll
    assert poll(lambda: "hello" in names(), timeout=20), names()
    out = lam.invoke(FunctionName="hello", Payload=b'{"name":"signed"}')
    assert out["StatusCode"] == 200
    assert b"signed" in out["Payload"].read()


def test_wrong_secret_unknown_key_and_unsigned_are_refused_in_lambdas_shape(signed_server):
    endpoint = signed_server.endpoint
    wrong = error_of(lambda: client(endpoint, "lambda", secret="nope").list_functions())
    assert wrong["Error"]["Code"] == "InvalidSignatureException"
    assert wrong["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert wrong["Error"]["Message"].startswith("The request signature we calculated does not")
    unknown = error_of(lambda: client(endpoint, "lambda", key="AKIDNOBODY").list_functions())
    assert unknown["Error"]["Code"] == "UnrecognizedClientException"
    assert unknown["Error"]["Message"] == "The security token included in the request is invalid."
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(endpoint + "/2015-03-31/functions/", timeout=10)
    assert e.value.code == 403
    assert e.value.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert json.loads(e.value.read())["message"] == "Missing Authentication Token"


def test_refusals_in_dynamodb_logs_and_s3_shapes(signed_server):
    endpoint = signed_server.endpoint
    ddb = error_of(lambda: client(endpoint, "dynamodb", secret="nope").list_tables())
    assert ddb["Error"]["Code"] == "InvalidSignatureException"
    assert ddb["ResponseMetadata"]["HTTPStatusCode"] == 400
    logs = error_of(lambda: client(endpoint, "logs", key="AKIDNOBODY").describe_log_groups())
    assert logs["Error"]["Code"] == "UnrecognizedClientException"
    s3 = error_of(lambda: client(endpoint, "s3", secret="nope").list_buckets())
    assert s3["Error"]["Code"] == "SignatureDoesNotMatch"
    assert s3["ResponseMetadata"]["HTTPStatusCode"] == 403
    s3_unknown = error_of(lambda: client(endpoint, "s3", key="AKIDNOBODY").list_buckets())
    assert s3_unknown["Error"]["Code"] == "InvalidAccessKeyId"


def test_replayed_old_signature_is_refused(signed_server, monkeypatch):
    """A request signed 20 minutes ago (a captured and replayed one) is past the 15-minute skew."""
    past = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)

    class Past(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return past
    monkeypatch.setattr(botocore.auth.datetime, "datetime", Past)
    req = AWSRequest("GET", signed_server.endpoint + "/2015-03-31/functions/")
    botocore.auth.SigV4Auth(Credentials(KEY, SECRET), "lambda", REGION).add_auth(req)
    monkeypatch.undo()
    prepared = urllib.request.Request(req.url, headers=dict(req.headers.items()))
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(prepared, timeout=10)
    assert e.value.code == 403
    assert e.value.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert "Signature expired" in json.loads(e.value.read())["message"]


def test_awscli_with_the_keys_works_and_without_fails(signed_server, tmp_path):
    from conftest import AWS_CLI, CLIENT_ENV
    env = dict(os.environ, **CLIENT_ENV)
    env.update({"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET})
    cmd = [AWS_CLI, "lambda", "list-functions", "--endpoint-url", signed_server.endpoint]
    ok = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    env["AWS_SECRET_ACCESS_KEY"] = "nope"
    bad = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0
    assert "InvalidSignatureException" in bad.stderr
