"""Versions and aliases: PublishVersion, ListVersionsByFunction, the alias operations with
weighted routing, qualifiers in Invoke/Get/Delete, X-Amz-Executed-Version, durability."""

import collections

import pytest
from botocore.exceptions import ClientError

from lambda_helpers import ACCOUNT, REGION, ROLE, invoke, make_lambda_client, make_zip

APP = """
import os
TAG = {tag!r}
def handler(event, context):
    return {{"tag": TAG, "version": context.function_version,
             "arn": context.invoked_function_arn,
             "env": os.environ["AWS_LAMBDA_FUNCTION_VERSION"]}}
"""


def code(tag):
    return make_zip({"app.py": APP.format(tag=tag)})


def arn(name, qualifier=None):
    base = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def versioned(functions, lambda_client):
    """A function with versions 1 (tag v1) and 2 (tag v2); $LATEST is v2."""
    name = functions.unique("ver")
    functions.create(name=name, zip_file=code("v1"))
    v1 = lambda_client.publish_version(FunctionName=name, Description="first")
    lambda_client.update_function_code(FunctionName=name, ZipFile=code("v2"))
    v2 = lambda_client.publish_version(FunctionName=name)
    return name, v1, v2


def test_publish_version_snapshots_code_and_config(versioned, lambda_client):
    name, v1, v2 = versioned
    assert v1["Version"] == "1" and v2["Version"] == "2"
    assert v1["FunctionArn"] == arn(name, "1")
    assert v1["Description"] == "first"
    assert v1["CodeSha256"] != v2["CodeSha256"]
    # Publishing again with nothing changed returns the newest version.
    again = lambda_client.publish_version(FunctionName=name)
    assert again["Version"] == "2"
    assert invoke(lambda_client, name, Qualifier="1").payload["tag"] == "v1"
    out = invoke(lambda_client, f"{name}:2")
    assert out.payload == {"tag": "v2", "version": "2", "arn": arn(name, "2"), "env": "2"}
    assert out.executed_version == "2"
    latest = invoke(lambda_client, name)
    assert latest.executed_version == "$LATEST"
    assert latest.payload["version"] == "$LATEST"
    # A version's configuration does not follow later changes to $LATEST.
    lambda_client.update_function_configuration(FunctionName=name, Timeout=9)
    assert lambda_client.get_function_configuration(FunctionName=name, Qualifier="1")["Timeout"] == 3
    got = lambda_client.get_function(FunctionName=arn(name, "2"))["Configuration"]
    assert got["Version"] == "2" and got["FunctionArn"] == arn(name, "2")


def test_publish_version_preconditions(versioned, lambda_client):
    name, _, v2 = versioned
    with pytest.raises(ClientError) as e:
        lambda_client.publish_version(FunctionName=name, CodeSha256="AAAA")
    assert error_of(e)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lambda_client.publish_version(FunctionName=name, RevisionId="nope")
    assert error_of(e)[0] == "PreconditionFailedException"


def test_list_versions_with_latest_and_pages(versioned, lambda_client):
    name, _, _ = versioned
    listed = lambda_client.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in listed] == ["$LATEST", "1", "2"]
    assert listed[0]["FunctionArn"] == arn(name, "$LATEST")
    page = lambda_client.list_versions_by_function(FunctionName=name, MaxItems=2)
    assert [v["Version"] for v in page["Versions"]] == ["$LATEST", "1"]
    rest = lambda_client.list_versions_by_function(FunctionName=name, Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["Versions"]] == ["2"]
    assert "NextMarker" not in rest
    paginator = lambda_client.get_paginator("list_versions_by_function")
    seen = [v["Version"] for p in paginator.paginate(FunctionName=name,
                                                     PaginationConfig={"PageSize": 1})
            for v in p["Versions"]]
    assert seen == ["$LATEST", "1", "2"]


def test_missing_qualifier_is_function_not_found(versioned, lambda_client):
    name, _, _ = versioned
    for call in (lambda: lambda_client.invoke(FunctionName=name, Qualifier="7"),
                 lambda: lambda_client.get_function(FunctionName=f"{name}:7"),
                 lambda: lambda_client.get_function_configuration(FunctionName=name,
                                                                  Qualifier="nosuch")):
        with pytest.raises(ClientError) as e:
            call()
        code_, message, status = error_of(e)
        assert code_ == "ResourceNotFoundException" and status == 404
        assert message.startswith(f"Function not found: {arn(name)}:")


def test_alias_lifecycle(versioned, lambda_client, aws):
    name, v1, _ = versioned
    created = lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                                         Description="prod")
    assert created["AliasArn"] == arn(name, "live")
    assert created["FunctionVersion"] == "1"
    got = lambda_client.get_alias(FunctionName=name, Name="live")
    assert got["RevisionId"] == created["RevisionId"]
    out = invoke(lambda_client, name, Qualifier="live")
    assert out.payload["tag"] == "v1" and out.executed_version == "1"
    assert out.payload["arn"] == arn(name, "live")
    conf = lambda_client.get_function_configuration(FunctionName=f"{name}:live")
    assert conf["Version"] == "1" and conf["FunctionArn"] == arn(name, "live")

    with pytest.raises(ClientError) as e:
        lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="2")
    assert error_of(e)[0] == "ResourceConflictException"
    with pytest.raises(ClientError) as e:
        lambda_client.update_alias(FunctionName=name, Name="live", RevisionId="stale")
    assert error_of(e)[0] == "PreconditionFailedException"

    updated = lambda_client.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    assert updated["FunctionVersion"] == "2" and updated["RevisionId"] != created["RevisionId"]
    assert invoke(lambda_client, f"{name}:live").payload["tag"] == "v2"

    # awscli sees the same.
    listed = aws("lambda", "list-aliases", "--function-name", name).json["Aliases"]
    assert [a["Name"] for a in listed] == ["live"]

    # A version an alias points to cannot be deleted.
    with pytest.raises(ClientError) as e:
        lambda_client.delete_function(FunctionName=name, Qualifier="2")
    assert error_of(e)[0] == "ResourceConflictException"
    lambda_client.delete_alias(FunctionName=name, Name="live")
    with pytest.raises(ClientError) as e:
        lambda_client.get_alias(FunctionName=name, Name="live")
    code_, message, _ = error_of(e)
    assert code_ == "ResourceNotFoundException"
    assert message == f"Alias not found: {arn(name, 'live')}"
    lambda_client.delete_function(FunctionName=name, Qualifier="1")
    versions = lambda_client.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "2"]
    # Numbers are never reused.
    lambda_client.update_function_code(FunctionName=name, ZipFile=code("v3"))
    assert lambda_client.publish_version(FunctionName=name)["Version"] == "3"
    with pytest.raises(ClientError) as e:
        lambda_client.delete_function(FunctionName=name, Qualifier="$LATEST")
    assert error_of(e)[0] == "InvalidParameterValueException"


def test_alias_bad_input(versioned, lambda_client, raw_lambda_client):
    name, _, _ = versioned
    with pytest.raises(ClientError) as e:
        lambda_client.create_alias(FunctionName=name, Name="a", FunctionVersion="9")
    code_, message, status = error_of(e)
    assert (code_, status) == ("ResourceNotFoundException", 404)
    assert message == f"Function not found: {arn(name, '9')}"
    for weight in (1.5, -0.1):
        with pytest.raises(ClientError) as e:
            raw_lambda_client.create_alias(
                FunctionName=name, Name="w", FunctionVersion="1",
                RoutingConfig={"AdditionalVersionWeights": {"2": weight}})
        code_, message, status = error_of(e)
        assert (code_, status) == ("ValidationException", 400), message
        assert "additionalVersionWeights" in message
    with pytest.raises(ClientError) as e:
        lambda_client.create_alias(FunctionName=name, Name="w", FunctionVersion="1",
                                   RoutingConfig={"AdditionalVersionWeights": {"5": 0.5}})
    assert error_of(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lambda_client.create_alias(FunctionName=name, Name="w", FunctionVersion="1",
                                   RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
    assert error_of(e)[0] == "InvalidParameterValueException"


def test_alias_weights_route_within_tolerance(versioned, lambda_client):
    name, _, _ = versioned
    lambda_client.create_alias(FunctionName=name, Name="canary", FunctionVersion="1",
                               RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
    counts = collections.Counter()
    n = 300
    for _ in range(n):
        out = invoke(lambda_client, name, Qualifier="canary", tail=False)
        assert out.executed_version == out.payload["version"]
        counts[out.executed_version] += 1
    # Binomial(300, 0.3): mean 90, sd ~7.9; 5 sd either side never fails by chance in practice.
    assert 50 <= counts["2"] <= 130, counts
    assert counts["1"] + counts["2"] == n


def test_versions_and_aliases_survive_restart(server_factory, tmp_path):
    data = str(tmp_path / "data")
    first = server_factory(data)
    client = make_lambda_client(first.endpoint)
    client.create_function(FunctionName="kept", Runtime="python3.12", Role=ROLE,
                           Handler="app.handler", Code={"ZipFile": code("one")})
    client.publish_version(FunctionName="kept")
    client.create_alias(FunctionName="kept", Name="prod", FunctionVersion="1")
    first.stop()
    second = server_factory(data)
    client = make_lambda_client(second.endpoint)
    assert [v["Version"] for v in
            client.list_versions_by_function(FunctionName="kept")["Versions"]] == ["$LATEST", "1"]
    assert client.get_alias(FunctionName="kept", Name="prod")["FunctionVersion"] == "1"
    assert invoke(client, "kept:prod").payload["tag"] == "one"
    # Numbering continues after a restart.
    client.update_function_code(FunctionName="kept", ZipFile=code("two"))
    assert client.publish_version(FunctionName="kept")["Version"] == "2"


def test_publish_flag_on_create_and_update(functions, lambda_client):
    name = functions.unique("pub")
    created = functions.create(name=name, zip_file=code("a"), Publish=True)
    assert created["Version"] == "1" and created["FunctionArn"] == arn(name, "1")
    updated = lambda_client.update_function_code(FunctionName=name, ZipFile=code("b"),
                                                 Publish=True)
    assert updated["Version"] == "2"
    assert invoke(lambda_client, name, Qualifier="1").payload["tag"] == "a"
    assert invoke(lambda_client, name, Qualifier="2").payload["tag"] == "b"


JS_CLIENT = r"""
const { LambdaClient, PublishVersionCommand, CreateAliasCommand, InvokeCommand,
        PutFunctionConcurrencyCommand } = require("@aws-sdk/client-lambda");
const [endpoint, name] = process.argv.slice(2);
const client = new LambdaClient({ endpoint, region: "us-east-1", maxAttempts: 1,
  credentials: { accessKeyId: "test", secretAccessKey: "test" } });
(async () => {
  const out = {};
  out.version = (await client.send(new PublishVersionCommand({ FunctionName: name }))).Version;
  out.alias = (await client.send(new CreateAliasCommand(
    { FunctionName: name, Name: "js", FunctionVersion: out.version }))).AliasArn;
  const inv = await client.send(new InvokeCommand(
    { FunctionName: name, Qualifier: "js", Payload: Buffer.from("{}") }));
  out.executed = inv.ExecutedVersion;
  out.payload = JSON.parse(Buffer.from(inv.Payload).toString());
  await client.send(new PutFunctionConcurrencyCommand(
    { FunctionName: name, ReservedConcurrentExecutions: 0 }));
  try {
    await client.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from("{}") }));
  } catch (e) {
    out.throttle = { name: e.name, reason: e.Reason, message: e.message,
                     status: e.$metadata.httpStatusCode, retryAfter: e.retryAfterSeconds };
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def test_javascript_sdk_sees_versions_aliases_and_throttles(functions, endpoint, tmp_path):
    import json
    import os
    import subprocess
    name = functions.unique("js")
    functions.create(name=name, zip_file=code("js"))
    script = tmp_path / "client.js"
    script.write_text(JS_CLIENT)
    env = dict(os.environ, NODE_PATH=os.path.join(os.path.dirname(__file__), "node_modules"))
    env.pop("NODE_EXTRA_CA_CERTS", None)
    proc = subprocess.run(["node", str(script), endpoint, name], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["version"] == "1"
    assert out["alias"] == arn(name, "js")
    assert out["executed"] == "1"
    assert out["payload"]["tag"] == "js" and out["payload"]["arn"] == arn(name, "js")
    assert out["throttle"] == {"name": "TooManyRequestsException",
                               "reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                               "message": "Rate Exceeded.", "status": 429, "retryAfter": "1"}
