"""The API-Gateway-compatible HTTP front (issue #8), driven by boto3 `apigatewayv2` and awscli
for the management API and by plain HTTP (http.client) for the routes.

Covers: the management API and its errors, payload formats 1.0 and 2.0 field by field,
path/query/header/cookie/binary handling, response mapping, every error status (404, 413, 429
is not provoked here, 502, 504), HTTP proxy integrations, CORS preflight, Lambda authorizers
(allow, deny, cached), OpenAPI import/export round trips, Host-based routing and durability.
"""

import base64
import http.client
import http.server
import json
import os
import threading

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambda_helpers import REGION, function_arn

HANDLER = r'''
import base64, json, time

def handler(event, context):
    qs = event.get("queryStringParameters") or {}
    mode = qs.get("mode", "echo")
    if mode == "echo":
        return {"statusCode": 200, "headers": {"content-type": "application/json"},
                "body": json.dumps(event)}
    if mode == "bare":
        return {"hello": "world"}
    if mode == "cookies":
        return {"statusCode": 201, "cookies": ["a=1", "b=2; Path=/"],
                "headers": {"X-Custom": "yes"}, "body": "made"}
    if mode == "binary":
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
    if mode == "multi":
        return {"statusCode": 200, "headers": {"X-Both": "single", "X-One": "a"},
                "multiValueHeaders": {"X-Both": ["m1", "m2"], "X-Two": ["b", "c"]}, "body": "ok"}
    if mode == "garbage":
        return {"statusCode": "not-a-number", "body": 5}
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "sleep":
        time.sleep(float(qs.get("s", "2")))
        return {"statusCode": 200, "body": "slept"}
    return {"statusCode": 400, "body": "unknown mode"}
'''

NODE_HANDLER = r'''
exports.handler = async (event) => ({
  statusCode: 200,
  headers: {"content-type": "application/json", "x-runtime": "node"},
  body: JSON.stringify(event),
});
'''

SIMPLE_AUTHORIZER = r'''
calls = 0

def handler(event, context):
    global calls
    calls += 1
    token = (event.get("headers") or {}).get("authorization", "")
    return {"isAuthorized": token.startswith("allow"),
            "context": {"user": "alice", "calls": calls, "type": event.get("type"),
                        "identity": event.get("identitySource")}}
'''

POLICY_AUTHORIZER = r'''
def handler(event, context):
    token = (event.get("headers") or {}).get("authorization", "")
    effect = "Allow" if token == "let-me-in" else "Deny"
    return {"principalId": "user-7",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]},
            "context": {"tier": "gold"}}
'''


def make_apigw(endpoint):
    cfg = Config(retries={"max_attempts": 0}, read_timeout=60, connect_timeout=10)
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name=REGION)
    return session.client("apigatewayv2", endpoint_url=endpoint, config=cfg)


@pytest.fixture(scope="module")
def apigw(endpoint):
    return make_apigw(endpoint)


@pytest.fixture(scope="module")
def module_functions(lambda_client):
    from conftest import FunctionFactory
    factory = FunctionFactory(lambda_client)
    yield factory
    factory.cleanup()


@pytest.fixture(scope="module")
def py_fn(module_functions):
    return module_functions.create({"app.py": HANDLER}, Timeout=30)["FunctionName"]


@pytest.fixture(scope="module")
def node_fn(module_functions):
    return module_functions.create({"index.js": NODE_HANDLER}, runtime="nodejs20.x",
                                   handler="index.handler")["FunctionName"]


class Route:
    """http.client against the server: returns (status, headers as list, body bytes)."""

    def __init__(self, server):
        self.port = server.port

    def __call__(self, path, method="GET", body=None, headers=(), host=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host or f"127.0.0.1:{self.port}")
            for name, value in headers:
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def route(server):
    return Route(server)


def header(headers, name):
    values = [v for k, v in headers if k.lower() == name.lower()]
    return values[-1] if values else None


def headers_all(headers, name):
    return [v for k, v in headers if k.lower() == name.lower()]


def make_api(apigw, function, fmt="2.0", route_keys=("ANY /{proxy+}",), stage="dev", **api_args):
    api = apigw.create_api(Name="it-api", ProtocolType="HTTP", **api_args)
    api_id = api["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                     IntegrationUri=function_arn(function),
                                     PayloadFormatVersion=fmt)
    for key in route_keys:
        apigw.create_route(ApiId=api_id, RouteKey=key,
                           Target="integrations/" + integ["IntegrationId"])
    apigw.create_stage(ApiId=api_id, StageName=stage, AutoDeploy=True,
                       StageVariables={"color": "blue"})
    return api_id, integ["IntegrationId"]


@pytest.fixture(scope="module")
def v2_api(apigw, py_fn):
    api_id, _ = make_api(apigw, py_fn, "2.0", ("ANY /{proxy+}", "GET /items/{id}"))
    return api_id


@pytest.fixture(scope="module")
def v1_api(apigw, py_fn):
    api_id, _ = make_api(apigw, py_fn, "1.0", ("ANY /{proxy+}", "GET /items/{id}"))
    return api_id


# ------------------------------------------------------------------------------------------
# Management API.

def test_create_and_get_api_shapes(apigw):
    api = apigw.create_api(Name="shapes", ProtocolType="HTTP", Description="d")
    api_id = api["ApiId"]
    assert len(api_id) == 10 and api_id.isalnum() and api_id.lower() == api_id
    assert api["Name"] == "shapes" and api["ProtocolType"] == "HTTP"
    assert api["RouteSelectionExpression"] == "$request.method $request.path"
    assert api["ApiEndpoint"].endswith("/_api/" + api_id)
    got = apigw.get_api(ApiId=api_id)
    assert got["Description"] == "d" and got["CreatedDate"]
    assert api_id in [a["ApiId"] for a in apigw.get_apis()["Items"]]
    updated = apigw.update_api(ApiId=api_id, Name="renamed")
    assert updated["Name"] == "renamed" and updated["Description"] == "d"
    apigw.delete_api(ApiId=api_id)
    with pytest.raises(ClientError) as e:
        apigw.get_api(ApiId=api_id)
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_management_errors(apigw, py_fn):
    with pytest.raises(ClientError) as e:
        apigw.create_api(Name="ws", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.a")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    api_id = apigw.create_api(Name="errs", ProtocolType="HTTP")["ApiId"]
    for bad in ("GET", "FETCH /x", "GET /{proxy+}/x"):
        with pytest.raises(ClientError) as e:
            apigw.create_route(ApiId=api_id, RouteKey=bad)
        assert e.value.response["Error"]["Code"] == "BadRequestException", bad
    apigw.create_route(ApiId=api_id, RouteKey="GET /x")
    with pytest.raises(ClientError) as e:
        apigw.create_route(ApiId=api_id, RouteKey="GET /x")
    assert e.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as e:
        apigw.create_route(ApiId=api_id, RouteKey="GET /y", Target="integrations/nope")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                 IntegrationUri=function_arn(py_fn), PayloadFormatVersion="3.0")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        apigw.get_route(ApiId=api_id, RouteId="nope123")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError) as e:
        apigw.get_stage(ApiId=api_id, StageName="nope")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    apigw.create_stage(ApiId=api_id, StageName="s")
    with pytest.raises(ClientError) as e:
        apigw.create_stage(ApiId=api_id, StageName="s")
    assert e.value.response["Error"]["Code"] == "ConflictException"
    apigw.delete_api(ApiId=api_id)


def test_routes_integrations_stages_crud(apigw, py_fn):
    api_id = apigw.create_api(Name="crud", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                     IntegrationUri=function_arn(py_fn), PayloadFormatVersion="2.0",
                                     TimeoutInMillis=5000)
    assert integ["TimeoutInMillis"] == 5000 and integ["PayloadFormatVersion"] == "2.0"
    assert apigw.get_integration(ApiId=api_id, IntegrationId=integ["IntegrationId"])[
        "IntegrationUri"] == function_arn(py_fn)
    r = apigw.create_route(ApiId=api_id, RouteKey="GET /a",
                           Target="integrations/" + integ["IntegrationId"])
    assert r["AuthorizationType"] == "NONE" and r["RouteKey"] == "GET /a"
    r2 = apigw.update_route(ApiId=api_id, RouteId=r["RouteId"], RouteKey="GET /b")
    assert r2["RouteKey"] == "GET /b" and r2["Target"] == r["Target"]
    assert [x["RouteKey"] for x in apigw.get_routes(ApiId=api_id)["Items"]] == ["GET /b"]
    assert len(apigw.get_integrations(ApiId=api_id)["Items"]) == 1
    # Explicit deployments: a stage without AutoDeploy serves what was deployed to it.
    stage = apigw.create_stage(ApiId=api_id, StageName="manual", StageVariables={"k": "v"})
    assert stage["StageVariables"] == {"k": "v"} and stage["AutoDeploy"] is False
    assert "DeploymentId" not in stage
    dep = apigw.create_deployment(ApiId=api_id, StageName="manual", Description="first")
    assert dep["DeploymentStatus"] == "DEPLOYED"
    assert apigw.get_stage(ApiId=api_id, StageName="manual")["DeploymentId"] == dep["DeploymentId"]
    ids = [d["DeploymentId"] for d in apigw.get_deployments(ApiId=api_id)["Items"]]
    assert dep["DeploymentId"] in ids
    assert [s["StageName"] for s in apigw.get_stages(ApiId=api_id)["Items"]] == ["manual"]
    with pytest.raises(ClientError) as e:
        apigw.delete_integration(ApiId=api_id, IntegrationId=integ["IntegrationId"])
    assert e.value.response["Error"]["Code"] == "ConflictException"
    apigw.delete_route(ApiId=api_id, RouteId=r["RouteId"])
    apigw.delete_integration(ApiId=api_id, IntegrationId=integ["IntegrationId"])
    apigw.delete_stage(ApiId=api_id, StageName="manual")
    assert apigw.get_stages(ApiId=api_id)["Items"] == []
    apigw.delete_api(ApiId=api_id)


def test_explicit_deployment_snapshots_routes(apigw, route, py_fn):
    api_id = apigw.create_api(Name="snap", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                     IntegrationUri=py_fn, PayloadFormatVersion="2.0")
    apigw.create_route(ApiId=api_id, RouteKey="GET /one", Target="integrations/" + integ["IntegrationId"])
    apigw.create_stage(ApiId=api_id, StageName="prod")
    # Not deployed yet: nothing is served.
    assert route(f"/_api/{api_id}/prod/one?mode=bare")[0] == 404
    apigw.create_deployment(ApiId=api_id, StageName="prod")
    assert route(f"/_api/{api_id}/prod/one?mode=bare")[0] == 200
    # A new route is not live until the next deployment.
    apigw.create_route(ApiId=api_id, RouteKey="GET /two", Target="integrations/" + integ["IntegrationId"])
    assert route(f"/_api/{api_id}/prod/two?mode=bare")[0] == 404
    apigw.create_deployment(ApiId=api_id, StageName="prod")
    assert route(f"/_api/{api_id}/prod/two?mode=bare")[0] == 200
    apigw.delete_api(ApiId=api_id)


def test_quick_create_with_awscli(aws, route, py_fn):
    out = aws("apigatewayv2", "create-api", "--name", "quick", "--protocol-type", "HTTP",
              "--target", function_arn(py_fn)).json
    api_id = out["ApiId"]
    stages = aws("apigatewayv2", "get-stages", "--api-id", api_id).json["Items"]
    assert [s["StageName"] for s in stages] == ["$default"] and stages[0]["AutoDeploy"] is True
    routes = aws("apigatewayv2", "get-routes", "--api-id", api_id).json["Items"]
    assert [r["RouteKey"] for r in routes] == ["$default"]
    status, headers, body = route(f"/_api/{api_id}/anything/at/all?mode=bare")
    assert status == 200 and json.loads(body) == {"hello": "world"}
    aws("apigatewayv2", "delete-api", "--api-id", api_id)


# ------------------------------------------------------------------------------------------
# Payload format 2.0.

def test_v2_event_fields(route, v2_api):
    status, headers, body = route(
        f"/_api/{v2_api}/dev/items/42?mode=echo&a=1&a=2&sp=x%20y",
        headers=[("X-Multi", "one"), ("X-Multi", "two"), ("Cookie", "c1=v1; c2=v2"),
                 ("User-Agent", "gw-test/1.0")])
    assert status == 200, body
    assert header(headers, "apigw-requestid")
    event = json.loads(body)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == "/dev/items/42"
    assert event["rawQueryString"] == "mode=echo&a=1&a=2&sp=x%20y"
    assert event["queryStringParameters"] == {"mode": "echo", "a": "1,2", "sp": "x y"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-multi"] == "one,two"
    assert "cookie" not in event["headers"]
    assert event["pathParameters"] == {"id": "42"}
    assert event["stageVariables"] == {"color": "blue"}
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    ctx = event["requestContext"]
    assert ctx["apiId"] == v2_api and ctx["stage"] == "dev"
    assert ctx["accountId"] == "000000000000"
    assert ctx["routeKey"] == "GET /items/{id}"
    assert ctx["requestId"] == header(headers, "apigw-requestid")
    assert ctx["http"] == {"method": "GET", "path": "/dev/items/42", "protocol": "HTTP/1.1",
                           "sourceIp": "127.0.0.1", "userAgent": "gw-test/1.0"}
    assert isinstance(ctx["timeEpoch"], int) and ctx["time"].endswith("+0000")
    assert ctx["domainName"]


def test_v2_greedy_route_text_and_binary_bodies(route, v2_api):
    status, _, body = route(f"/_api/{v2_api}/dev/a/b/c?mode=echo", method="POST",
                            body=b'{"x": 1}', headers=[("Content-Type", "application/json")])
    event = json.loads(body)
    assert status == 200
    assert event["routeKey"] == "ANY /{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c"}
    assert event["body"] == '{"x": 1}' and event["isBase64Encoded"] is False
    raw = bytes(range(256))
    status, _, body = route(f"/_api/{v2_api}/dev/up?mode=echo", method="PUT", body=raw,
                            headers=[("Content-Type", "application/octet-stream")])
    event = json.loads(body)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_v2_response_mapping(route, v2_api):
    status, headers, body = route(f"/_api/{v2_api}/dev/x?mode=bare")
    assert status == 200 and json.loads(body) == {"hello": "world"}
    assert header(headers, "content-type") == "application/json"
    status, headers, body = route(f"/_api/{v2_api}/dev/x?mode=cookies")
    assert status == 201 and body == b"made"
    assert header(headers, "x-custom") == "yes"
    assert headers_all(headers, "set-cookie") == ["a=1", "b=2; Path=/"]
    status, headers, body = route(f"/_api/{v2_api}/dev/x?mode=binary")
    assert status == 200 and body == bytes(range(256))


def test_node_function_v2(apigw, route, node_fn):
    api_id, _ = make_api(apigw, node_fn, "2.0", ("POST /n/{id}",))
    status, headers, body = route(f"/_api/{api_id}/dev/n/7?q=1", method="POST", body=b"hi",
                                  headers=[("Content-Type", "text/plain")])
    assert status == 200, body
    assert header(headers, "x-runtime") == "node"
    event = json.loads(body)
    assert event["pathParameters"] == {"id": "7"} and event["body"] == "hi"
    assert event["queryStringParameters"] == {"q": "1"}
    apigw.delete_api(ApiId=api_id)


# ------------------------------------------------------------------------------------------
# Payload format 1.0.

def test_v1_event_fields(route, v1_api):
    status, headers, body = route(
        f"/_api/{v1_api}/dev/items/9?mode=echo&a=1&a=2",
        headers=[("X-Multi", "one"), ("X-Multi", "two"), ("User-Agent", "v1-agent")])
    assert status == 200, body
    event = json.loads(body)
    assert event["version"] == "1.0"
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/dev/items/9"
    assert event["httpMethod"] == "GET"
    assert event["headers"]["x-multi"] == "two"
    assert event["multiValueHeaders"]["x-multi"] == ["one", "two"]
    assert event["queryStringParameters"] == {"mode": "echo", "a": "2"}
    assert event["multiValueQueryStringParameters"] == {"mode": ["echo"], "a": ["1", "2"]}
    assert event["pathParameters"] == {"id": "9"}
    assert event["stageVariables"] == {"color": "blue"}
    assert event["body"] is None and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert ctx["identity"]["userAgent"] == "v1-agent"
    assert ctx["httpMethod"] == "GET" and ctx["stage"] == "dev"
    assert ctx["resourcePath"] == "/items/{id}"
    assert isinstance(ctx["requestTimeEpoch"], int)


def test_v1_response_mapping(route, v1_api):
    status, headers, body = route(f"/_api/{v1_api}/dev/x?mode=multi")
    assert status == 200 and body == b"ok"
    assert headers_all(headers, "x-both") == ["m1", "m2"]
    assert headers_all(headers, "x-two") == ["b", "c"]
    assert header(headers, "x-one") == "a"
    # A bare value is not a valid 1.0 answer.
    status, _, body = route(f"/_api/{v1_api}/dev/x?mode=bare")
    assert status == 502 and json.loads(body) == {"message": "Internal server error"}


# ------------------------------------------------------------------------------------------
# Errors.

def test_unknown_api_stage_route_are_404(route, v2_api, apigw, py_fn):
    for path in ("/_api/nosuchapi0/dev/x", f"/_api/{v2_api}/nostage/x"):
        status, _, body = route(path)
        assert status == 404 and json.loads(body) == {"message": "Not Found"}, path
    api_id, _ = make_api(apigw, py_fn, "2.0", ("GET /only",))
    status, _, body = route(f"/_api/{api_id}/dev/other")
    assert status == 404 and json.loads(body) == {"message": "Not Found"}
    status, _, body = route(f"/_api/{api_id}/dev/only", method="POST", body=b"")
    assert status == 404
    apigw.delete_api(ApiId=api_id)


def test_function_garbage_and_errors_are_502(route, v2_api):
    for mode in ("garbage", "raise"):
        status, headers, body = route(f"/_api/{v2_api}/dev/x?mode={mode}")
        assert status == 502, (mode, body)
        assert json.loads(body) == {"message": "Internal server error"}
        assert header(headers, "apigw-requestid")


def test_body_over_10_mb_is_413(route, v2_api):
    status, _, body = route(f"/_api/{v2_api}/dev/x?mode=echo", method="POST",
                            body=b"a" * (10 * 1024 * 1024 + 1),
                            headers=[("Content-Type", "text/plain")])
    assert status == 413
    assert json.loads(body) == {"message": "Request Entity Too Large"}


def test_integration_timeout_is_504_and_does_not_block_other_routes(apigw, route, py_fn, v2_api):
    api_id = apigw.create_api(Name="slow", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                     IntegrationUri=py_fn, PayloadFormatVersion="2.0",
                                     TimeoutInMillis=300)
    apigw.create_route(ApiId=api_id, RouteKey="$default", Target="integrations/" + integ["IntegrationId"])
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    results = {}

    def slow():
        results["slow"] = route(f"/_api/{api_id}/x?mode=sleep&s=3")

    thread = threading.Thread(target=slow)
    thread.start()
    # While the slow call is in flight, other routes answer.
    status, _, body = route(f"/_api/{v2_api}/dev/x?mode=bare")
    assert status == 200
    thread.join(60)
    status, _, body = results["slow"]
    assert status == 504, body
    assert json.loads(body) == {"message": "Service Unavailable"}
    apigw.delete_api(ApiId=api_id)


# ------------------------------------------------------------------------------------------
# Stages, Host-based routing.

def test_default_stage_and_host_routing(apigw, route, py_fn):
    api_id, _ = make_api(apigw, py_fn, "2.0", ("GET /h",), stage="$default")
    apigw.create_stage(ApiId=api_id, StageName="beta", AutoDeploy=True)
    status, _, body = route(f"/_api/{api_id}/h?mode=echo")
    assert status == 200 and json.loads(body)["requestContext"]["stage"] == "$default"
    host = f"{api_id}.execute-api.localhost:{route.port}"
    status, _, body = route("/h?mode=echo", host=host)
    event = json.loads(body)
    assert status == 200 and event["requestContext"]["stage"] == "$default"
    assert event["requestContext"]["domainName"] == host
    assert event["requestContext"]["domainPrefix"] == api_id
    status, _, body = route("/beta/h?mode=echo", host=host)
    event = json.loads(body)
    assert status == 200 and event["requestContext"]["stage"] == "beta"
    assert event["rawPath"] == "/beta/h"
    apigw.delete_api(ApiId=api_id)


# ------------------------------------------------------------------------------------------
# HTTP proxy integrations.

class _EchoHandler(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        out = json.dumps({"method": self.command, "path": self.path,
                          "headers": {k.lower(): v for k, v in self.headers.items()},
                          "body": data.decode("latin-1")}).encode()
        self.send_response(207)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Backend", "echo")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def echo_backend():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_http_proxy_integration(apigw, route, echo_backend):
    api_id = apigw.create_api(Name="proxy", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY",
                                     IntegrationMethod="ANY", PayloadFormatVersion="1.0",
                                     IntegrationUri=echo_backend + "/${stageVariables.base}/{proxy}")
    apigw.create_route(ApiId=api_id, RouteKey="ANY /svc/{proxy+}",
                       Target="integrations/" + integ["IntegrationId"])
    apigw.create_stage(ApiId=api_id, StageName="dev", AutoDeploy=True,
                       StageVariables={"base": "v1"})
    status, headers, body = route(f"/_api/{api_id}/dev/svc/a/b?x=1", method="POST", body=b"payload",
                                  headers=[("X-Client", "c")])
    assert status == 207, body
    assert header(headers, "x-backend") == "echo"
    echoed = json.loads(body)
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/v1/a/b?x=1"
    assert echoed["body"] == "payload"
    assert echoed["headers"]["x-client"] == "c"
    assert echoed["headers"]["x-forwarded-for"] == "127.0.0.1"
    apigw.delete_api(ApiId=api_id)


# ------------------------------------------------------------------------------------------
# CORS.

def test_cors_preflight_and_headers(apigw, route, py_fn):
    api_id, _ = make_api(apigw, py_fn, "2.0", ("GET /c",), CorsConfiguration={
        "AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["content-type", "x-token"], "ExposeHeaders": ["x-custom"],
        "MaxAge": 600, "AllowCredentials": True})
    status, headers, body = route(f"/_api/{api_id}/dev/c", method="OPTIONS", headers=[
        ("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "x-token")])
    assert status == 204, body
    assert header(headers, "access-control-allow-origin") == "https://app.example"
    assert header(headers, "access-control-allow-methods") == "GET,POST"
    assert header(headers, "access-control-allow-headers") == "content-type,x-token"
    assert header(headers, "access-control-max-age") == "600"
    assert header(headers, "access-control-allow-credentials") == "true"
    status, headers, _ = route(f"/_api/{api_id}/dev/c", method="OPTIONS", headers=[
        ("Origin", "https://evil.example"), ("Access-Control-Request-Method", "GET")])
    assert status == 204 and header(headers, "access-control-allow-origin") is None
    status, headers, _ = route(f"/_api/{api_id}/dev/c?mode=cookies",
                               headers=[("Origin", "https://app.example")])
    assert status == 201
    assert header(headers, "access-control-allow-origin") == "https://app.example"
    assert header(headers, "access-control-expose-headers") == "x-custom"
    apigw.delete_api(ApiId=api_id)


# ------------------------------------------------------------------------------------------
# Lambda authorizers.

def test_simple_lambda_authorizer_allow_deny_cached(apigw, route, py_fn, module_functions):
    auth_fn = module_functions.create({"app.py": SIMPLE_AUTHORIZER})["FunctionName"]
    api_id, integ_id = make_api(apigw, py_fn, "2.0", ())
    auth = apigw.create_authorizer(
        ApiId=api_id, AuthorizerType="REQUEST", Name="simple",
        AuthorizerUri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
                      f"{function_arn(auth_fn)}/invocations",
        AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True,
        IdentitySource=["$request.header.Authorization"], AuthorizerResultTtlInSeconds=300)
    assert [a["Name"] for a in apigw.get_authorizers(ApiId=api_id)["Items"]] == ["simple"]
    apigw.create_route(ApiId=api_id, RouteKey="GET /secret", AuthorizationType="CUSTOM",
                       AuthorizerId=auth["AuthorizerId"], Target="integrations/" + integ_id)
    path = f"/_api/{api_id}/dev/secret?mode=echo"
    status, _, body = route(path)
    assert status == 401 and json.loads(body) == {"message": "Unauthorized"}
    status, _, body = route(path, headers=[("Authorization", "deny-me")])
    assert status == 403 and json.loads(body) == {"message": "Forbidden"}
    status, _, body = route(path, headers=[("Authorization", "allow-1")])
    assert status == 200, body
    lam = json.loads(body)["requestContext"]["authorizer"]["lambda"]
    assert lam["user"] == "alice" and lam["type"] == "REQUEST"
    assert lam["identity"] == ["allow-1"]
    first_calls = lam["calls"]
    # Cached by identity source: the authorizer is not called again for the same token.
    status, _, body = route(path, headers=[("Authorization", "allow-1")])
    assert json.loads(body)["requestContext"]["authorizer"]["lambda"]["calls"] == first_calls
    status, _, body = route(path, headers=[("Authorization", "allow-2")])
    assert json.loads(body)["requestContext"]["authorizer"]["lambda"]["calls"] > first_calls
    with pytest.raises(ClientError) as e:
        apigw.delete_authorizer(ApiId=api_id, AuthorizerId=auth["AuthorizerId"])
    assert e.value.response["Error"]["Code"] == "ConflictException"
    apigw.delete_api(ApiId=api_id)


def test_policy_lambda_authorizer_v1(apigw, route, py_fn, module_functions):
    auth_fn = module_functions.create({"app.py": POLICY_AUTHORIZER})["FunctionName"]
    api_id, integ_id = make_api(apigw, py_fn, "1.0", ())
    auth = apigw.create_authorizer(ApiId=api_id, AuthorizerType="REQUEST", Name="policy",
                                   AuthorizerUri=function_arn(auth_fn),
                                   AuthorizerPayloadFormatVersion="1.0",
                                   IdentitySource=["$request.header.Authorization"])
    apigw.create_route(ApiId=api_id, RouteKey="GET /p", AuthorizationType="CUSTOM",
                       AuthorizerId=auth["AuthorizerId"], Target="integrations/" + integ_id)
    status, _, body = route(f"/_api/{api_id}/dev/p?mode=echo", headers=[("Authorization", "nope")])
    assert status == 403
    status, _, body = route(f"/_api/{api_id}/dev/p?mode=echo", headers=[("Authorization", "let-me-in")])
    assert status == 200, body
    authorizer = json.loads(body)["requestContext"]["authorizer"]
    assert authorizer["tier"] == "gold" and authorizer["principalId"] == "user-7"
    apigw.delete_api(ApiId=api_id)


# ------------------------------------------------------------------------------------------
# JWT authorizers: the key set is served by a function behind a route of its own.

JWKS_HANDLER = r"""
import json
CONFIG = json.loads(%r)

def handler(event, context):
    if event["rawPath"].endswith("/.well-known/openid-configuration"):
        return {"issuer": CONFIG["issuer"], "jwks_uri": CONFIG["issuer"] + "/keys.json"}
    if event["rawPath"].endswith("/keys.json"):
        return {"keys": CONFIG["keys"]}
    return {"statusCode": 404, "body": "no"}
"""


def _b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64u(value):
    return _b64u(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def test_jwt_authorizer(apigw, route, py_fn, module_functions, endpoint):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    import time

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    # The issuer's API exists first so that its URL can go into the key-set function.
    issuer_api = apigw.create_api(Name="issuer", ProtocolType="HTTP")["ApiId"]
    issuer = f"{endpoint}/_api/{issuer_api}"
    config = {"issuer": issuer, "keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
                                          "n": _int_b64u(numbers.n), "e": _int_b64u(numbers.e)}]}
    jwks_fn = module_functions.create({"app.py": JWKS_HANDLER % json.dumps(config)})["FunctionName"]
    integ = apigw.create_integration(ApiId=issuer_api, IntegrationType="AWS_PROXY",
                                     IntegrationUri=jwks_fn, PayloadFormatVersion="2.0")
    apigw.create_route(ApiId=issuer_api, RouteKey="$default",
                       Target="integrations/" + integ["IntegrationId"])
    apigw.create_stage(ApiId=issuer_api, StageName="$default", AutoDeploy=True)

    api_id, integ_id = make_api(apigw, py_fn, "2.0", ())
    auth = apigw.create_authorizer(ApiId=api_id, AuthorizerType="JWT", Name="jwt",
                                   IdentitySource=["$request.header.Authorization"],
                                   JwtConfiguration={"Issuer": issuer, "Audience": ["my-app"]})
    apigw.create_route(ApiId=api_id, RouteKey="GET /me", AuthorizationType="JWT",
                       AuthorizerId=auth["AuthorizerId"], AuthorizationScopes=["read"],
                       Target="integrations/" + integ_id)

    def token(signer=key, **overrides):
        claims = {"iss": issuer, "aud": "my-app", "sub": "user-1", "scope": "read write",
                  "exp": int(time.time()) + 600}
        claims.update(overrides)
        header = _b64u(json.dumps({"alg": "RS256", "kid": "k1", "typ": "JWT"}).encode())
        payload = _b64u(json.dumps(claims).encode())
        signature = signer.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{payload}.{_b64u(signature)}"

    path = f"/_api/{api_id}/dev/me?mode=echo"
    status, _, body = route(path)
    assert status == 401 and json.loads(body) == {"message": "Unauthorized"}
    status, _, body = route(path, headers=[("Authorization", "Bearer " + token())])
    assert status == 200, body
    jwt = json.loads(body)["requestContext"]["authorizer"]["jwt"]
    assert jwt["claims"]["sub"] == "user-1" and jwt["claims"]["aud"] == "my-app"
    assert jwt["scopes"] == ["read", "write"]
    for bad in (token(aud="other"), token(exp=int(time.time()) - 10), token(signer=other),
                token(iss="https://elsewhere"), "not.a.jwt"):
        status, _, _ = route(path, headers=[("Authorization", "Bearer " + bad)])
        assert status == 401
    status, _, body = route(path, headers=[("Authorization", "Bearer " + token(scope="write"))])
    assert status == 403 and json.loads(body) == {"message": "Forbidden"}
    apigw.delete_api(ApiId=api_id)
    apigw.delete_api(ApiId=issuer_api)


# ------------------------------------------------------------------------------------------
# OpenAPI.

def openapi_doc(function):
    return {
        "openapi": "3.0.1",
        "info": {"title": "imported", "version": "3"},
        "x-amazon-apigateway-cors": {"allowOrigins": ["*"], "allowMethods": ["GET"]},
        "paths": {
            "/pets/{id}": {"get": {
                "x-amazon-apigateway-integration": {
                    "type": "aws_proxy", "httpMethod": "POST", "uri": function_arn(function),
                    "payloadFormatVersion": "2.0", "timeoutInMillis": 10000}}},
            "$default": {"x-amazon-apigateway-any-method": {
                "x-amazon-apigateway-integration": {
                    "type": "aws_proxy", "httpMethod": "POST", "uri": function_arn(function),
                    "payloadFormatVersion": "1.0"}}},
        },
    }


def normalized(apigw, api_id):
    integrations = {i["IntegrationId"]: i for i in apigw.get_integrations(ApiId=api_id)["Items"]}
    out = []
    for r in apigw.get_routes(ApiId=api_id)["Items"]:
        i = integrations[r["Target"].split("/")[1]]
        out.append((r["RouteKey"], i["IntegrationType"], i["IntegrationUri"],
                    i["PayloadFormatVersion"], i.get("TimeoutInMillis")))
    return sorted(out)


def test_openapi_import_export_round_trip(apigw, aws, route, py_fn, tmp_path):
    doc = tmp_path / "api.json"
    doc.write_text(json.dumps(openapi_doc(py_fn)))
    imported = aws("apigatewayv2", "import-api", "--body", f"file://{doc}").json
    api_id = imported["ApiId"]
    assert imported["Name"] == "imported"
    first = normalized(apigw, api_id)
    assert [x[0] for x in first] == ["$default", "GET /pets/{id}"]
    out = tmp_path / "out.json"
    aws("apigatewayv2", "export-api", "--api-id", api_id, "--specification", "OAS30",
        "--output-type", "JSON", str(out))
    exported = json.loads(out.read_text())
    assert exported["openapi"].startswith("3.")
    assert "/pets/{id}" in exported["paths"]
    again = apigw.import_api(Body=out.read_text())
    assert normalized(apigw, again["ApiId"]) == first
    assert apigw.get_api(ApiId=again["ApiId"])["CorsConfiguration"]["AllowOrigins"] == ["*"]
    # Serve it: a stage on the imported API.
    apigw.create_stage(ApiId=api_id, StageName="v", AutoDeploy=True)
    status, _, body = route(f"/_api/{api_id}/v/pets/5?mode=echo")
    assert status == 200 and json.loads(body)["pathParameters"] == {"id": "5"}
    # Reimport replaces the routes.
    doc2 = openapi_doc(py_fn)
    del doc2["paths"]["$default"]
    apigw.reimport_api(ApiId=api_id, Body=json.dumps(doc2))
    assert [x[0] for x in normalized(apigw, api_id)] == ["GET /pets/{id}"]
    apigw.delete_api(ApiId=api_id)
    apigw.delete_api(ApiId=again["ApiId"])


def test_malformed_openapi_names_the_path(apigw, py_fn):
    doc = openapi_doc(py_fn)
    del doc["paths"]["/pets/{id}"]["get"]["x-amazon-apigateway-integration"]["uri"]
    with pytest.raises(ClientError) as e:
        apigw.import_api(Body=json.dumps(doc))
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    assert "paths./pets/{id}.get.x-amazon-apigateway-integration.uri" in \
        e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        apigw.import_api(Body="{not json")
    assert e.value.response["Error"]["Code"] == "BadRequestException"


# ------------------------------------------------------------------------------------------
# Durability.

def test_apis_survive_a_restart(server_factory, tmp_path):
    data = str(tmp_path / "gwdata")
    srv = server_factory(data_dir=data)
    from lambda_helpers import make_lambda_client, make_zip
    lam = make_lambda_client(srv.endpoint)
    lam.create_function(FunctionName="gw-restart", Runtime="python3.12",
                        Role="arn:aws:iam::000000000000:role/x", Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": HANDLER})})
    apigw = make_apigw(srv.endpoint)
    api_id = apigw.create_api(Name="durable", ProtocolType="HTTP",
                              Target=function_arn("gw-restart"))["ApiId"]
    srv.stop()
    srv = server_factory(data_dir=data)
    apigw = make_apigw(srv.endpoint)
    got = apigw.get_api(ApiId=api_id)
    assert got["Name"] == "durable"
    assert got["ApiEndpoint"] == f"{srv.endpoint}/_api/{api_id}"
    status, _, body = Route(srv)(f"/_api/{api_id}/x?mode=bare")
    assert status == 200 and json.loads(body) == {"hello": "world"}


def test_missing_function_and_unreachable_backend_are_500(apigw, route):
    api_id = apigw.create_api(Name="broken", ProtocolType="HTTP")["ApiId"]
    missing = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                       IntegrationUri=function_arn("no-such-function-here"),
                                       PayloadFormatVersion="2.0")
    # A port nothing listens on: bind one, note it, close it.
    import socket
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    dead_port = probe.getsockname()[1]
    probe.close()
    dead = apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="GET",
                                    IntegrationUri=f"http://127.0.0.1:{dead_port}/x")
    apigw.create_route(ApiId=api_id, RouteKey="GET /missing", Target="integrations/" + missing["IntegrationId"])
    apigw.create_route(ApiId=api_id, RouteKey="GET /dead", Target="integrations/" + dead["IntegrationId"])
    apigw.create_stage(ApiId=api_id, StageName="s", AutoDeploy=True)
    for path in ("missing", "dead"):
        status, _, body = route(f"/_api/{api_id}/s/{path}")
        assert status == 500, (path, body)
        assert json.loads(body) == {"message": "Internal Server Error"}
    apigw.delete_api(ApiId=api_id)


def test_routes_are_public_when_the_server_requires_signatures(server_factory, tmp_path):
    srv = server_factory(data_dir=str(tmp_path / "signed"), args=["--credentials", "test:test"])
    apigw = make_apigw(srv.endpoint)  # boto3 signs with test/test
    api = apigw.create_api(Name="public", ProtocolType="HTTP",
                           Target="http://127.0.0.1:9/unused")
    # Unsigned management calls are refused ...
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request("GET", "/v2/apis")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 403
    conn.close()
    # ... while the route itself is public HTTP (it answers, here 500 from the dead backend).
    status, _, body = Route(srv)(f"/_api/{api['ApiId']}/x")
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}


def test_stage_access_logs(apigw, route, py_fn, logs_client):
    import time
    api_id, _ = make_api(apigw, py_fn, "2.0", ("GET /logged",), stage="$default")
    group = f"gw-access-{api_id}"
    apigw.update_stage(ApiId=api_id, StageName="$default", AccessLogSettings={
        "DestinationArn": f"arn:aws:logs:{REGION}:000000000000:log-group:{group}",
        "Format": '{"requestId":"$context.requestId","routeKey":"$context.routeKey",'
                  '"status":"$context.status","ip":"$context.identity.sourceIp",'
                  '"integrationStatus":"$context.integrationStatus","error":"$context.error.message"}'})
    status, headers, _ = route(f"/_api/{api_id}/logged?mode=bare")
    assert status == 200
    request_id = header(headers, "apigw-requestid")
    assert route(f"/_api/{api_id}/nowhere")[0] == 404
    deadline = time.monotonic() + 10
    lines = []
    while time.monotonic() < deadline and len(lines) < 2:
        try:
            events = logs_client.filter_log_events(logGroupName=group)["events"]
        except ClientError:
            events = []
        lines = [json.loads(e["message"]) for e in events]
        if len(lines) < 2:
            time.sleep(0.1)
    assert lines[0] == {"requestId": request_id, "routeKey": "GET /logged", "status": "200",
                        "ip": "127.0.0.1", "integrationStatus": "200", "error": "-"}
    assert lines[1]["status"] == "404" and lines[1]["error"] == "Not Found"
    apigw.delete_api(ApiId=api_id)


def test_haneul_api_commands(endpoint, route, py_fn, tmp_path):
    import subprocess
    from lambda_helpers import haneul_bin

    def haneul(*args, check=True):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        proc = subprocess.run([haneul_bin(), "api", *args, "--endpoint", endpoint], env=env,
                              capture_output=True, text=True, timeout=60)
        assert not check or proc.returncode == 0, proc.stderr
        return proc

    api_id, url = haneul("create", "cli-api", "--target", py_fn).stdout.split()
    assert url.endswith(f"/_api/{api_id}/")
    assert api_id in haneul("list").stdout
    status, _, body = route(f"/_api/{api_id}/x?mode=bare")
    assert status == 200
    exported = json.loads(haneul("export", api_id).stdout)
    assert "$default" in exported["paths"]
    doc = tmp_path / "exported.json"
    doc.write_text(json.dumps(exported))
    second_id = haneul("import", str(doc)).stdout.split()[0]
    failed = haneul("export", "nosuchapi0", check=False)
    assert failed.returncode == 1 and "NotFoundException" in failed.stderr
    haneul("delete", api_id)
    haneul("delete", second_id)
    assert api_id not in haneul("list").stdout
