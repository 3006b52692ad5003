"""The gateway's remaining gaps of issue #8, driven by boto3 `apigatewayv2`, awscli and plain HTTP
against a real server: MOCK integrations with integration responses (haneul's extension for HTTP
APIs, REST's semantics), TOKEN Lambda authorizers (allow, deny, cached, validation-expression
mismatch, "Unauthorized"), OpenAPI in YAML (import, export JSON and YAML, reimport: the same
API), pagination of the list calls, and parameter mapping (request parameters of HTTP_PROXY
integrations, response parameters by status).
"""

import json
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from lambda_helpers import REGION, function_arn
from test_gateway import HANDLER, Route, echo_backend, header, make_apigw  # noqa: F401 (fixture)

COUNTER = r'''
calls = 0

def handler(event, context):
    global calls
    calls += 1
    return {"statusCode": 200, "body": str(calls)}
'''

TOKEN_AUTHORIZER = r'''
calls = 0

def handler(event, context):
    global calls
    calls += 1
    token = event["authorizationToken"]
    if token == "Bearer boom":
        raise Exception("Unauthorized")
    effect = "Allow" if token.startswith("Bearer allow") else "Deny"
    return {"principalId": "tok-" + token.split()[-1],
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]},
            "context": {"calls": calls, "type": event["type"], "keys": ",".join(sorted(event)),
                        "arn": event["methodArn"]}}
'''


@pytest.fixture(scope="module")
def apigw(endpoint):
    return make_apigw(endpoint)


@pytest.fixture(scope="module")
def route(server):
    return Route(server)


@pytest.fixture(scope="module")
def module_functions(lambda_client):
    from conftest import FunctionFactory
    factory = FunctionFactory(lambda_client)
    yield factory
    factory.cleanup()


@pytest.fixture(scope="module")
def py_fn(module_functions):
    return module_functions.create({"app.py": HANDLER}, Timeout=30)["FunctionName"]


# ------------------------------------------------------------------------------------------
# MOCK integrations.

def make_mock_api(apigw, counter_fn):
    api_id = apigw.create_api(Name="mock", ProtocolType="HTTP")["ApiId"]
    # The URI names a real function: a mock must never invoke it.
    integ = apigw.create_integration(
        ApiId=api_id, IntegrationType="MOCK", IntegrationUri=function_arn(counter_fn),
        RequestTemplates={"application/json": '{"statusCode": $input.params(\'code\')}'})
    assert integ["IntegrationType"] == "MOCK" and integ["PassthroughBehavior"] == "WHEN_NO_MATCH"
    iid = integ["IntegrationId"]
    ok = apigw.create_integration_response(
        ApiId=api_id, IntegrationId=iid, IntegrationResponseKey="/2\\d\\d/",
        ResponseTemplates={"application/json": '{"pet": "$input.params(\'id\')", "stage": "$context.stage"}',
                           "text/plain": "pet $input.params('id')"},
        ResponseParameters={"method.response.header.X-Mock": "'yes'",
                            "method.response.header.X-Request": "context.requestId"})
    missing = apigw.create_integration_response(
        ApiId=api_id, IntegrationId=iid, IntegrationResponseKey="$default",
        ResponseTemplates={"application/json": '{"message": "no pet $input.params(\'id\')"}'},
        ResponseParameters={"overwrite:header.X-Mock": "fallback"})
    apigw.create_route(ApiId=api_id, RouteKey="GET /pets/{id}", Target="integrations/" + iid)
    apigw.create_stage(ApiId=api_id, StageName="dev", AutoDeploy=True)
    return api_id, iid, ok, missing


def test_mock_answers_from_templates_and_invokes_nothing(apigw, route, module_functions, lambda_client):
    counter_fn = module_functions.create({"app.py": COUNTER})["FunctionName"]
    api_id, iid, ok, missing = make_mock_api(apigw, counter_fn)
    status, headers, body = route(f"/_api/{api_id}/dev/pets/7?code=201")
    assert status == 201, body
    assert json.loads(body) == {"pet": "7", "stage": "dev"}
    assert header(headers, "Content-Type") == "application/json"
    assert header(headers, "X-Mock") == "yes"
    assert header(headers, "X-Request") == header(headers, "Apigw-Requestid")
    # Another media type: the body passes through (WHEN_NO_MATCH) and its statusCode counts...
    text = [("Content-Type", "text/plain")]
    status, _, body = route(f"/_api/{api_id}/dev/pets/7", body=b'{"statusCode": 203}', headers=text)
    assert status == 203 and json.loads(body)["pet"] == "7"
    # ... unless PassthroughBehavior says NEVER: 415.
    apigw.update_integration(ApiId=api_id, IntegrationId=iid, PassthroughBehavior="NEVER")
    status, _, body = route(f"/_api/{api_id}/dev/pets/7", body=b"{}", headers=text)
    assert (status, json.loads(body)) == (415, {"message": "Unsupported Media Type"})
    apigw.update_integration(ApiId=api_id, IntegrationId=iid, PassthroughBehavior="WHEN_NO_MATCH")
    # Accept picks the response template.
    status, headers, body = route(f"/_api/{api_id}/dev/pets/8?code=200", headers=[("Accept", "text/plain")])
    assert status == 200 and body == b"pet 8" and header(headers, "Content-Type") == "text/plain"
    # Another status falls to $default, with that status.
    status, headers, body = route(f"/_api/{api_id}/dev/pets/9?code=404")
    assert status == 404 and json.loads(body) == {"message": "no pet 9"}
    assert header(headers, "X-Mock") == "fallback"
    # No usable statusCode: API Gateway's 500.
    status, _, body = route(f"/_api/{api_id}/dev/pets/9")
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}
    # The function behind the URI was never called: its first direct call counts 1.
    answer = lambda_client.invoke(FunctionName=counter_fn, Payload=b"{}")
    assert json.loads(answer["Payload"].read())["body"] == "1"

    # Management: list, get, update, errors.
    items = apigw.get_integration_responses(ApiId=api_id, IntegrationId=iid)["Items"]
    assert sorted(i["IntegrationResponseKey"] for i in items) == ["$default", "/2\\d\\d/"]
    got = apigw.get_integration_response(ApiId=api_id, IntegrationId=iid,
                                         IntegrationResponseId=ok["IntegrationResponseId"])
    assert got["ResponseParameters"]["method.response.header.X-Mock"] == "'yes'"
    apigw.update_integration_response(ApiId=api_id, IntegrationId=iid,
                                      IntegrationResponseId=ok["IntegrationResponseId"],
                                      IntegrationResponseKey="/20[01]/")
    status, _, _ = route(f"/_api/{api_id}/dev/pets/7?code=202")
    assert status == 202  # now $default's
    with pytest.raises(ClientError) as e:
        apigw.create_integration_response(ApiId=api_id, IntegrationId=iid, IntegrationResponseKey="$default")
    assert e.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as e:
        apigw.create_integration_response(ApiId=api_id, IntegrationId=iid, IntegrationResponseKey="/([/")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    apigw.delete_integration_response(ApiId=api_id, IntegrationId=iid,
                                      IntegrationResponseId=missing["IntegrationResponseId"])
    status, _, _ = route(f"/_api/{api_id}/dev/pets/7?code=404")
    assert status == 500  # no match and no $default
    with pytest.raises(ClientError) as e:
        apigw.get_integration_response(ApiId=api_id, IntegrationId=iid,
                                       IntegrationResponseId=missing["IntegrationResponseId"])
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    apigw.delete_api(ApiId=api_id)


def test_integration_responses_only_on_mock(apigw, py_fn):
    api_id = apigw.create_api(Name="proxy", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                     IntegrationUri=function_arn(py_fn), PayloadFormatVersion="2.0")
    with pytest.raises(ClientError) as e:
        apigw.create_integration_response(ApiId=api_id, IntegrationId=integ["IntegrationId"],
                                          IntegrationResponseKey="$default")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        apigw.create_integration(ApiId=api_id, IntegrationType="MOCK", PassthroughBehavior="SOMETIMES")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    apigw.delete_api(ApiId=api_id)


# ------------------------------------------------------------------------------------------
# TOKEN authorizers.

def test_token_authorizer_allow_deny_cached_and_validation(apigw, route, py_fn, module_functions):
    auth_fn = module_functions.create({"app.py": TOKEN_AUTHORIZER})["FunctionName"]
    api_id = apigw.create_api(Name="token", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                     IntegrationUri=function_arn(py_fn), PayloadFormatVersion="1.0")
    auth = apigw.create_authorizer(
        ApiId=api_id, AuthorizerType="TOKEN", Name="tok",
        AuthorizerUri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
                      f"{function_arn(auth_fn)}/invocations",
        IdentitySource=["$request.header.Authorization"],
        IdentityValidationExpression="^Bearer [a-z0-9-]+$", AuthorizerResultTtlInSeconds=300)
    assert auth["AuthorizerType"] == "TOKEN"
    assert auth["IdentityValidationExpression"] == "^Bearer [a-z0-9-]+$"
    apigw.create_route(ApiId=api_id, RouteKey="GET /t", AuthorizationType="CUSTOM",
                       AuthorizerId=auth["AuthorizerId"], Target="integrations/" + integ["IntegrationId"])
    apigw.create_stage(ApiId=api_id, StageName="dev", AutoDeploy=True)
    path = f"/_api/{api_id}/dev/t?mode=echo"

    def call(token=None):
        status, _, body = route(path, headers=[("Authorization", token)] if token else [])
        return status, json.loads(body)

    assert call() == (401, {"message": "Unauthorized"})
    # Fails the validation expression: 401, and the authorizer is not called (its count below).
    assert call("Basic abc") == (401, {"message": "Unauthorized"})
    assert call("Bearer UPPER") == (401, {"message": "Unauthorized"})
    status, body = call("Bearer deny-1")
    assert (status, body) == (403, {"message": "Forbidden"})
    status, event = call("Bearer allow-1")
    assert status == 200, event
    authorizer = event["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "tok-allow-1"
    assert authorizer["type"] == "TOKEN" and authorizer["keys"] == "authorizationToken,methodArn,type"
    assert authorizer["arn"].endswith(f":{api_id}/dev/GET/t")
    assert authorizer["calls"] == 2  # deny-1 was the first call: the invalid tokens never invoked
    # Cached by token: same token, same answer, no call; a denial is cached too.
    status, event = call("Bearer allow-1")
    assert event["requestContext"]["authorizer"]["calls"] == 2
    assert call("Bearer deny-1")[0] == 403
    status, event = call("Bearer allow-2")
    assert event["requestContext"]["authorizer"]["calls"] == 3
    # The authorizer failing with "Unauthorized" is 401, as REST answers.
    assert call("Bearer boom") == (401, {"message": "Unauthorized"})

    # Validation of the management calls.
    for bad in ({"IdentitySource": ["$request.header.A", "$request.header.B"]},
                {"IdentitySource": ["$request.querystring.token"]},
                {"IdentitySource": ["$request.header.A"], "IdentityValidationExpression": "(unclosed"}):
        with pytest.raises(ClientError) as e:
            apigw.create_authorizer(ApiId=api_id, AuthorizerType="TOKEN", Name="bad",
                                    AuthorizerUri=function_arn(auth_fn), **bad)
        assert e.value.response["Error"]["Code"] == "BadRequestException"
    default = apigw.create_authorizer(ApiId=api_id, AuthorizerType="TOKEN", Name="defaults",
                                      AuthorizerUri=function_arn(auth_fn),
                                      IdentitySource=["$request.header.Authorization"])
    assert default["AuthorizerResultTtlInSeconds"] == 300  # REST's default for TOKEN
    apigw.delete_api(ApiId=api_id)


def test_token_authorizer_context_for_payload_2(apigw, route, py_fn, module_functions):
    auth_fn = module_functions.create({"app.py": TOKEN_AUTHORIZER})["FunctionName"]
    api_id = apigw.create_api(Name="token2", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                     IntegrationUri=function_arn(py_fn), PayloadFormatVersion="2.0")
    auth = apigw.create_authorizer(ApiId=api_id, AuthorizerType="TOKEN", Name="tok",
                                   AuthorizerUri=function_arn(auth_fn),
                                   IdentitySource=["$request.header.X-Token"],
                                   AuthorizerResultTtlInSeconds=0)
    apigw.create_route(ApiId=api_id, RouteKey="GET /t", AuthorizationType="CUSTOM",
                       AuthorizerId=auth["AuthorizerId"], Target="integrations/" + integ["IntegrationId"])
    apigw.create_stage(ApiId=api_id, StageName="dev", AutoDeploy=True)
    status, _, body = route(f"/_api/{api_id}/dev/t?mode=echo", headers=[("X-Token", "Bearer allow-x")])
    assert status == 200, body
    authorizer = json.loads(body)["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "tok-allow-x" and authorizer["lambda"]["type"] == "TOKEN"
    # TTL 0: every request calls the authorizer.
    status, _, body = route(f"/_api/{api_id}/dev/t?mode=echo", headers=[("X-Token", "Bearer allow-x")])
    assert json.loads(body)["requestContext"]["authorizer"]["lambda"]["calls"] == 2
    apigw.delete_api(ApiId=api_id)


# ------------------------------------------------------------------------------------------
# OpenAPI in YAML.

YAML_DOC = """\
openapi: "3.0.1"
info:
  title: yaml-pets
  version: "7"
x-amazon-apigateway-cors:
  allowOrigins: ["*"]
  allowMethods: [GET]
paths:
  /pets/{id}:
    get:
      security:
        - tok: []
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: %(fn)s
        payloadFormatVersion: "2.0"
        timeoutInMillis: 10000
  /status:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"statusCode": $input.params(''code'')}'
        responses:
          "2\\\\d{2}":
            statusCode: "200"
            responseTemplates:
              application/json: '{"ok": true}'
            responseParameters:
              method.response.header.X-Mock: "'yes'"
          default:
            responseTemplates:
              application/json: '{"ok": false}'
components:
  securitySchemes:
    tok:
      type: apiKey
      name: X-Token
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: %(auth)s
        authorizerResultTtlInSeconds: 60
        identityValidationExpression: "^Bearer .+$"
"""


def describe(apigw, api_id):
    """The API as a comparable value: routes with their integration, responses and authorizer."""
    integrations = {i["IntegrationId"]: i for i in apigw.get_integrations(ApiId=api_id)["Items"]}
    authorizers = {a["AuthorizerId"]: a for a in apigw.get_authorizers(ApiId=api_id)["Items"]}
    out = []
    for r in apigw.get_routes(ApiId=api_id)["Items"]:
        iid = r["Target"].split("/")[1]
        i = dict(integrations[iid])
        for k in ("IntegrationId", "ResponseMetadata"):
            i.pop(k, None)
        responses = sorted(
            (x["IntegrationResponseKey"], json.dumps(x.get("ResponseTemplates"), sort_keys=True),
             json.dumps(x.get("ResponseParameters"), sort_keys=True))
            for x in apigw.get_integration_responses(ApiId=api_id, IntegrationId=iid)["Items"])
        a = dict(authorizers.get(r.get("AuthorizerId"), {}))
        a.pop("AuthorizerId", None)
        out.append((r["RouteKey"], r["AuthorizationType"], json.dumps(i, sort_keys=True),
                    responses, json.dumps(a, sort_keys=True)))
    return sorted(out)


def test_yaml_import_export_json_and_yaml_reimport(apigw, aws, route, py_fn, module_functions, tmp_path):
    auth_fn = module_functions.create({"app.py": TOKEN_AUTHORIZER})["FunctionName"]
    text = YAML_DOC % {"fn": function_arn(py_fn), "auth": function_arn(auth_fn)}
    doc = tmp_path / "api.yaml"
    doc.write_text(text)
    api_id = aws("apigatewayv2", "import-api", "--body", f"file://{doc}").json["ApiId"]
    first = describe(apigw, api_id)
    assert [x[0] for x in first] == ["GET /pets/{id}", "GET /status"]
    pets = first[0]
    assert pets[1] == "CUSTOM" and json.loads(pets[4])["AuthorizerType"] == "TOKEN"
    assert json.loads(pets[4])["IdentitySource"] == ["$request.header.X-Token"]
    assert [r[0] for r in first[1][3]] == ["$default", "/2\\d{2}/"]

    # Serve it: the mock and the TOKEN-protected route.
    apigw.create_stage(ApiId=api_id, StageName="v", AutoDeploy=True)
    status, headers, body = route(f"/_api/{api_id}/v/status?code=202")
    assert (status, json.loads(body), header(headers, "X-Mock")) == (202, {"ok": True}, "yes")
    status, _, body = route(f"/_api/{api_id}/v/status?code=503")
    assert (status, json.loads(body)) == (503, {"ok": False})
    status, _, _ = route(f"/_api/{api_id}/v/pets/3?mode=echo", headers=[("X-Token", "nope")])
    assert status == 401
    status, _, body = route(f"/_api/{api_id}/v/pets/3?mode=echo", headers=[("X-Token", "Bearer allow-y")])
    assert status == 200 and json.loads(body)["pathParameters"] == {"id": "3"}

    # Export JSON (awscli) and YAML (boto3); each imports back to the same API.
    out_json = tmp_path / "out.json"
    aws("apigatewayv2", "export-api", "--api-id", api_id, "--specification", "OAS30",
        "--output-type", "JSON", str(out_json))
    exported = json.loads(out_json.read_text())
    assert exported["paths"]["/status"]["get"]["x-amazon-apigateway-integration"]["type"] == "mock"
    scheme = exported["components"]["securitySchemes"]["tok"]
    assert scheme["name"] == "X-Token" and scheme["x-amazon-apigateway-authorizer"]["type"] == "token"
    yaml_text = apigw.export_api(ApiId=api_id, Specification="OAS30", OutputType="YAML")["body"].read().decode()
    assert yaml_text.lstrip().startswith("openapi:") and "x-amazon-apigateway-integration" in yaml_text
    from_json = apigw.import_api(Body=out_json.read_text())["ApiId"]
    from_yaml = apigw.import_api(Body=yaml_text)["ApiId"]
    assert describe(apigw, from_json) == first
    assert describe(apigw, from_yaml) == first
    # Reimport (YAML) replaces the API's routes in place; a bad one changes nothing.
    apigw.reimport_api(ApiId=from_yaml, Body=text.replace("  /status:\n", "  /health:\n"))
    assert [x[0] for x in describe(apigw, from_yaml)] == ["GET /health", "GET /pets/{id}"]
    with pytest.raises(ClientError) as e:
        apigw.reimport_api(ApiId=from_yaml, Body=text.replace("type: mock", "type: nope"))
    assert "paths./status.get.x-amazon-apigateway-integration.type" in e.value.response["Error"]["Message"]
    assert [x[0] for x in describe(apigw, from_yaml)] == ["GET /health", "GET /pets/{id}"]
    for gone in (api_id, from_json, from_yaml):
        apigw.delete_api(ApiId=gone)


def test_malformed_yaml_is_a_bad_request(apigw):
    with pytest.raises(ClientError) as e:
        apigw.import_api(Body="openapi: 3.0.1\ninfo: [unclosed\n")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    assert "line" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        apigw.import_api(Body="openapi: '3.0.1'\ninfo: {title: t}\npaths:\n  /x:\n    get:\n"
                              "      x-amazon-apigateway-integration: {type: aws_proxy}\n")
    assert "paths./x.get.x-amazon-apigateway-integration.uri" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        apigw.export_api(ApiId="nope", Specification="OAS30", OutputType="YAML")
    assert e.value.response["Error"]["Code"] == "NotFoundException"


# ------------------------------------------------------------------------------------------
# Pagination.

def test_pagination_walks_every_item(apigw, py_fn):
    created = [apigw.create_api(Name=f"page-{i}", ProtocolType="HTTP")["ApiId"] for i in range(5)]
    api_id = created[0]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                     IntegrationUri=function_arn(py_fn), PayloadFormatVersion="2.0")
    iid = integ["IntegrationId"]
    for i in range(7):
        apigw.create_route(ApiId=api_id, RouteKey=f"GET /r{i}", Target="integrations/" + iid)
        apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY",
                                 IntegrationUri=f"http://127.0.0.1:9/{i}", IntegrationMethod="GET")
        apigw.create_stage(ApiId=api_id, StageName=f"s{i}")
        apigw.create_deployment(ApiId=api_id, Description=f"d{i}")
        apigw.create_authorizer(ApiId=api_id, AuthorizerType="TOKEN", Name=f"a{i}",
                                AuthorizerUri=function_arn(py_fn),
                                IdentitySource=["$request.header.Authorization"])
    for operation, extra, expected in (
            ("get_apis", {}, None), ("get_routes", {"ApiId": api_id}, 7),
            ("get_integrations", {"ApiId": api_id}, 8), ("get_stages", {"ApiId": api_id}, 7),
            ("get_deployments", {"ApiId": api_id}, 7), ("get_authorizers", {"ApiId": api_id}, 7)):
        everything = getattr(apigw, operation)(**extra)
        assert "NextToken" not in everything
        whole = [json.dumps(x, sort_keys=True, default=str) for x in everything["Items"]]
        if expected is not None:
            assert len(whole) == expected, operation
        # By hand: pages of 2 with NextToken.
        walked, token, pages = [], None, 0
        while True:
            page = getattr(apigw, operation)(MaxResults="2", **extra, **({"NextToken": token} if token else {}))
            assert len(page["Items"]) <= 2
            walked += [json.dumps(x, sort_keys=True, default=str) for x in page["Items"]]
            pages += 1
            token = page.get("NextToken")
            if not token:
                break
        assert walked == whole and pages == (len(whole) + 1) // 2, operation
        # And with botocore's paginator.
        paginator = apigw.get_paginator(operation)
        items = [json.dumps(x, sort_keys=True, default=str)
                 for p in paginator.paginate(**extra, PaginationConfig={"PageSize": 3})
                 for x in p["Items"]]
        assert items == whole, operation
    assert set(created) <= {a["ApiId"] for a in apigw.get_apis()["Items"]}
    with pytest.raises(ClientError) as e:
        apigw.get_routes(ApiId=api_id, MaxResults="zero")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        apigw.get_routes(ApiId=api_id, NextToken="!!!")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    for gone in created:
        apigw.delete_api(ApiId=gone)


# ------------------------------------------------------------------------------------------
# Parameter mapping.

def test_http_proxy_request_and_response_parameter_mapping(apigw, route, echo_backend):
    api_id = apigw.create_api(Name="mapping", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(
        ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
        PayloadFormatVersion="1.0", IntegrationUri=echo_backend + "/orig/{id}",
        RequestParameters={
            "overwrite:path": "/v2/items/$request.path.id",
            "append:header.X-Stage": "${context.stage}-$stageVariables.color",
            "overwrite:header.X-Client": "replaced",
            "remove:header.X-Secret": "''",
            "overwrite:querystring.page": "$request.header.X-Page",
            "append:querystring.tag": "from-body:$request.body.meta.tags[1]",
            "remove:querystring.drop": "''"},
        ResponseParameters={
            "207": {"overwrite:statuscode": "200", "append:header.X-Mapped": "$response.header.X-Backend",
                    "remove:header.X-Backend": "''",
                    "overwrite:header.X-Path": "$response.body.path"}})
    apigw.create_route(ApiId=api_id, RouteKey="POST /items/{id}", Target="integrations/" + integ["IntegrationId"])
    apigw.create_stage(ApiId=api_id, StageName="dev", AutoDeploy=True, StageVariables={"color": "red"})
    body = json.dumps({"meta": {"tags": ["a", "b c"]}}).encode()
    status, headers, answer = route(
        f"/_api/{api_id}/dev/items/42?page=1&drop=x&tag=t0", method="POST", body=body,
        headers=[("X-Client", "c"), ("X-Secret", "s"), ("X-Page", "7"), ("Content-Type", "application/json")])
    assert status == 200, answer
    echoed = json.loads(answer)
    path, _, query = echoed["path"].partition("?")
    assert path == "/v2/items/42"
    assert sorted(urllib.parse.parse_qsl(query)) == [("page", "7"), ("tag", "from-body:b c"), ("tag", "t0")]
    assert echoed["headers"]["x-stage"] == "dev-red"
    assert echoed["headers"]["x-client"] == "replaced"
    assert "x-secret" not in echoed["headers"]
    assert header(headers, "X-Mapped") == "echo" and header(headers, "X-Backend") is None
    assert header(headers, "X-Path") == echoed["path"]
    # Reserved headers and bad keys are refused; request mapping on Lambda integrations too.
    for bad in ({"RequestParameters": {"overwrite:header.Host": "x"}},
                {"RequestParameters": {"append:path": "/x"}},
                {"ResponseParameters": {"abc": {"overwrite:statuscode": "200"}}},
                {"ResponseParameters": {"200": {"overwrite:querystring.a": "b"}}}):
        with pytest.raises(ClientError) as e:
            apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="GET",
                                     IntegrationUri=echo_backend, **bad)
        assert e.value.response["Error"]["Code"] == "BadRequestException", bad
    with pytest.raises(ClientError) as e:
        apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri="fn",
                                 PayloadFormatVersion="2.0",
                                 RequestParameters={"overwrite:header.X": "y"})
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    # The mapping survives an OpenAPI round trip.
    exported = json.loads(apigw.export_api(ApiId=api_id, Specification="OAS30", OutputType="JSON")["body"].read())
    ext = exported["paths"]["/items/{id}"]["post"]["x-amazon-apigateway-integration"]
    assert ext["requestParameters"]["overwrite:path"] == "/v2/items/$request.path.id"
    again = apigw.import_api(Body=json.dumps(exported))["ApiId"]
    (copied,) = apigw.get_integrations(ApiId=again)["Items"]
    assert copied["RequestParameters"] == integ["RequestParameters"]
    assert copied["ResponseParameters"] == integ["ResponseParameters"]
    apigw.delete_api(ApiId=api_id)
    apigw.delete_api(ApiId=again)


def test_lambda_response_parameter_mapping(apigw, route, py_fn):
    api_id = apigw.create_api(Name="lmapping", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn(py_fn),
        PayloadFormatVersion="2.0",
        ResponseParameters={"201": {"overwrite:statuscode": "202", "overwrite:header.X-Custom": "mapped",
                                    "append:header.X-Req": "$context.requestId"}})
    apigw.create_route(ApiId=api_id, RouteKey="GET /c", Target="integrations/" + integ["IntegrationId"])
    apigw.create_stage(ApiId=api_id, StageName="dev", AutoDeploy=True)
    status, headers, body = route(f"/_api/{api_id}/dev/c?mode=cookies")
    assert status == 202 and body == b"made"
    assert header(headers, "X-Custom") == "mapped"
    assert header(headers, "X-Req") == header(headers, "Apigw-Requestid")
    # Another status is left alone.
    status, headers, _ = route(f"/_api/{api_id}/dev/c?mode=bare")
    assert status == 200 and header(headers, "X-Custom") is None
    apigw.delete_api(ApiId=api_id)


def test_mock_integration_responses_survive_a_restart(server_factory, tmp_path):
    data = str(tmp_path / "gwdata")
    srv = server_factory(data_dir=data)
    apigw = make_apigw(srv.endpoint)
    api_id = apigw.create_api(Name="durable-mock", ProtocolType="HTTP")["ApiId"]
    iid = apigw.create_integration(ApiId=api_id, IntegrationType="MOCK",
                                   RequestTemplates={"application/json": '{"statusCode": 418}'})["IntegrationId"]
    apigw.create_integration_response(ApiId=api_id, IntegrationId=iid, IntegrationResponseKey="/418/",
                                      ResponseTemplates={"text/plain": "teapot"})
    apigw.create_route(ApiId=api_id, RouteKey="GET /tea", Target="integrations/" + iid)
    apigw.create_stage(ApiId=api_id, StageName="dev", AutoDeploy=True)
    srv.stop()
    srv = server_factory(data_dir=data)
    assert len(make_apigw(srv.endpoint).get_integration_responses(ApiId=api_id, IntegrationId=iid)["Items"]) == 1
    status, headers, body = Route(srv)(f"/_api/{api_id}/dev/tea")
    assert (status, body, header(headers, "Content-Type")) == (418, b"teapot", "text/plain")


def test_awscli_mock_token_and_paging(aws, apigw, route, py_fn):
    api_id = aws("apigatewayv2", "create-api", "--name", "cli-mock",
                 "--protocol-type", "HTTP").json["ApiId"]
    iid = aws("apigatewayv2", "create-integration", "--api-id", api_id, "--integration-type", "MOCK",
              "--request-templates",
              json.dumps({"application/json": '{"statusCode": 200}'})).json["IntegrationId"]
    aws("apigatewayv2", "create-integration-response", "--api-id", api_id, "--integration-id", iid,
        "--integration-response-key", "$default",
        "--response-templates", json.dumps({"application/json": '{"from": "awscli"}'}))
    auth = aws("apigatewayv2", "create-authorizer", "--api-id", api_id, "--name", "tok",
               "--authorizer-type", "TOKEN", "--authorizer-uri", function_arn(py_fn),
               "--identity-source", "$request.header.Authorization").json
    assert auth["AuthorizerType"] == "TOKEN"
    aws("apigatewayv2", "create-route", "--api-id", api_id, "--route-key", "GET /m",
        "--target", f"integrations/{iid}")
    aws("apigatewayv2", "create-stage", "--api-id", api_id, "--stage-name", "dev", "--auto-deploy")
    status, _, body = route(f"/_api/{api_id}/dev/m")
    assert status == 200 and json.loads(body) == {"from": "awscli"}
    # awscli follows NextToken itself with --page-size.
    for i in range(4):
        aws("apigatewayv2", "create-route", "--api-id", api_id, "--route-key", f"GET /p{i}",
            "--target", f"integrations/{iid}")
    routes = aws("apigatewayv2", "get-routes", "--api-id", api_id, "--page-size", "2").json["Items"]
    assert sorted(r["RouteKey"] for r in routes) == \
        ["GET /m", "GET /p0", "GET /p1", "GET /p2", "GET /p3"]
    apigw.delete_api(ApiId=api_id)
