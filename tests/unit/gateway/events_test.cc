// Payload format 1.0 / 2.0 events and response mapping, field by field.
#include "events.h"

#include <gtest/gtest.h>

#include "access_log.h"
#include "authorizer.h"
#include "haneul/common/ids.h"
#include "openapi.h"

namespace haneul::gateway {
namespace {

using nlohmann::json;

RequestInfo SampleRequest() {
  RequestInfo info;
  info.method = "POST";
  info.raw_path = "/dev/items/42";
  info.query = "a=1&a=2&b=x%20y";
  info.headers.Add("Content-Type", "application/json");
  info.headers.Add("X-Multi", "one");
  info.headers.Add("X-Multi", "two");
  info.headers.Add("Cookie", "c1=v1; c2=v2");
  info.headers.Add("User-Agent", "tester");
  info.body = R"({"k":1})";
  info.source_ip = "127.0.0.1";
  info.api_id = "abcdefghij";
  info.stage = "dev";
  info.domain_name = "abcdefghij.execute-api.localhost";
  info.request_id = "Abc=";
  info.time_ms = 1583348638390;
  info.route_key = "POST /items/{id}";
  info.resource = "/items/{id}";
  info.path_parameters = {{"id", "42"}};
  info.stage_variables = {{"v", "1"}};
  return info;
}

TEST(GatewayEvents, Version2Fields) {
  json event = BuildEventV2(SampleRequest());
  EXPECT_EQ(event["version"], "2.0");
  EXPECT_EQ(event["routeKey"], "POST /items/{id}");
  EXPECT_EQ(event["rawPath"], "/dev/items/42");
  EXPECT_EQ(event["rawQueryString"], "a=1&a=2&b=x%20y");
  EXPECT_EQ(event["cookies"], json::array({"c1=v1", "c2=v2"}));
  EXPECT_EQ(event["headers"]["x-multi"], "one,two");
  EXPECT_FALSE(event["headers"].contains("cookie"));
  EXPECT_EQ(event["queryStringParameters"]["a"], "1,2");
  EXPECT_EQ(event["queryStringParameters"]["b"], "x y");
  EXPECT_EQ(event["pathParameters"]["id"], "42");
  EXPECT_EQ(event["stageVariables"]["v"], "1");
  EXPECT_EQ(event["body"], R"({"k":1})");
  EXPECT_EQ(event["isBase64Encoded"], false);
  const json& context = event["requestContext"];
  EXPECT_EQ(context["http"]["method"], "POST");
  EXPECT_EQ(context["http"]["path"], "/dev/items/42");
  EXPECT_EQ(context["http"]["sourceIp"], "127.0.0.1");
  EXPECT_EQ(context["http"]["userAgent"], "tester");
  EXPECT_EQ(context["time"], "04/Mar/2020:19:03:58 +0000");
  EXPECT_EQ(context["timeEpoch"], 1583348638390);
  EXPECT_EQ(context["domainPrefix"], "abcdefghij");
  EXPECT_EQ(context["stage"], "dev");
}

TEST(GatewayEvents, Version1Fields) {
  json event = BuildEventV1(SampleRequest());
  EXPECT_EQ(event["version"], "1.0");
  EXPECT_EQ(event["resource"], "/items/{id}");
  EXPECT_EQ(event["httpMethod"], "POST");
  EXPECT_EQ(event["headers"]["x-multi"], "two");
  EXPECT_EQ(event["multiValueHeaders"]["x-multi"], json::array({"one", "two"}));
  EXPECT_EQ(event["queryStringParameters"]["a"], "2");
  EXPECT_EQ(event["multiValueQueryStringParameters"]["a"], json::array({"1", "2"}));
  EXPECT_EQ(event["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
  EXPECT_EQ(event["requestContext"]["resourcePath"], "/items/{id}");
  EXPECT_EQ(event["pathParameters"]["id"], "42");
  RequestInfo bare = SampleRequest();
  bare.query.clear();
  bare.body.clear();
  bare.path_parameters.clear();
  json empty = BuildEventV1(bare);
  EXPECT_TRUE(empty["queryStringParameters"].is_null());
  EXPECT_TRUE(empty["pathParameters"].is_null());
  EXPECT_TRUE(empty["body"].is_null());
}

TEST(GatewayEvents, BinaryBodiesAreBase64) {
  RequestInfo info = SampleRequest();
  info.headers = Headers();
  info.headers.Add("Content-Type", "image/png");
  info.body = std::string("\x89PNG\r\n\x1a\n\0\xff", 10);
  json event = BuildEventV2(info);
  EXPECT_EQ(event["isBase64Encoded"], true);
  EXPECT_EQ(event["body"], Base64Encode(info.body));
  EXPECT_TRUE(IsTextContentType("application/json; charset=utf-8"));
  EXPECT_TRUE(IsTextContentType("text/html"));
  EXPECT_TRUE(IsTextContentType("application/vnd.api+json"));
  EXPECT_FALSE(IsTextContentType("application/octet-stream"));
}

TEST(GatewayResponses, Version2InfersBareValues) {
  auto bare = MapResponseV2(R"({"hello":"world"})");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->status, 200);
  EXPECT_EQ(bare->body, R"({"hello":"world"})");
  EXPECT_EQ(bare->headers.Get("content-type"), "application/json");
  auto text = MapResponseV2(R"("just text")");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->body, R"("just text")");
}

TEST(GatewayResponses, Version2ProxyShapeWithCookiesAndBase64) {
  auto mapped = MapResponseV2(
      R"({"statusCode":201,"headers":{"X-A":"1","X-N":5},"cookies":["a=1","b=2; Path=/"],
          "body":"aGk=","isBase64Encoded":true})");
  ASSERT_TRUE(mapped.ok()) << mapped.status().ToString();
  EXPECT_EQ(mapped->status, 201);
  EXPECT_EQ(mapped->body, "hi");
  EXPECT_EQ(mapped->headers.Get("x-a"), "1");
  EXPECT_EQ(mapped->headers.Get("x-n"), "5");
  int cookies = 0;
  for (const auto& [name, value] : mapped->headers.all()) cookies += name == "Set-Cookie";
  EXPECT_EQ(cookies, 2);
}

TEST(GatewayResponses, Version1MergesMultiValueHeaders) {
  auto mapped = MapResponseV1(
      R"({"statusCode":200,"headers":{"X-Both":"single","X-One":"a"},
          "multiValueHeaders":{"X-Both":["m1","m2"],"X-Two":["b","c"]},"body":"ok"})");
  ASSERT_TRUE(mapped.ok()) << mapped.status().ToString();
  std::vector<std::string> both;
  std::vector<std::string> two;
  for (const auto& [name, value] : mapped->headers.all()) {
    if (name == "X-Both") both.push_back(value);
    if (name == "X-Two") two.push_back(value);
  }
  EXPECT_EQ(both, (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(two, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(mapped->headers.Get("X-One"), "a");
  EXPECT_EQ(mapped->body, "ok");
}

TEST(GatewayResponses, MalformedAnswersAreErrors) {
  EXPECT_FALSE(MapResponseV2("not json").ok());
  EXPECT_FALSE(MapResponseV2(R"({"statusCode":"abc"})").ok());
  EXPECT_FALSE(MapResponseV2(R"({"statusCode":200,"body":{"x":1}})").ok());
  EXPECT_FALSE(MapResponseV2(R"({"statusCode":200,"headers":[1]})").ok());
  EXPECT_FALSE(MapResponseV2(R"({"statusCode":200,"body":"!!","isBase64Encoded":true})").ok());
  EXPECT_FALSE(MapResponseV1(R"({"hello":"world"})").ok());
  EXPECT_FALSE(MapResponseV1(R"("text")").ok());
  EXPECT_FALSE(MapResponseV1(R"({"statusCode":99})").ok());
}

TEST(GatewayAuthorizer, IdentitySourcesAndPolicies) {
  RequestInfo info = SampleRequest();
  info.headers.Add("Authorization", "token");
  EXPECT_EQ(ResolveIdentitySource("$request.header.authorization", info), "token");
  EXPECT_EQ(ResolveIdentitySource("$request.querystring.b", info), "x y");
  EXPECT_EQ(ResolveIdentitySource("$stageVariables.v", info), "1");
  EXPECT_FALSE(ResolveIdentitySource("$request.header.Missing", info));
  json allow = json::parse(R"({"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke",
      "Effect":"Allow","Resource":"arn:aws:execute-api:us-east-1:000000000000:abc/*/GET/*"}]})");
  EXPECT_TRUE(PolicyAllows(allow, "arn:aws:execute-api:us-east-1:000000000000:abc/dev/GET/items"));
  EXPECT_FALSE(PolicyAllows(allow, "arn:aws:execute-api:us-east-1:000000000000:abc/dev/POST/items"));
  json deny = allow;
  deny["Statement"].push_back({{"Action", "*"}, {"Effect", "Deny"}, {"Resource", "*"}});
  EXPECT_FALSE(PolicyAllows(deny, "arn:aws:execute-api:us-east-1:000000000000:abc/dev/GET/items"));
}

TEST(GatewayOpenApi, ImportsRoutesIntegrationsAndAuthorizers) {
  auto imported = ImportOpenApi(R"({
    "openapi": "3.0.1", "info": {"title": "pets", "version": "2"},
    "x-amazon-apigateway-cors": {"allowOrigins": ["*"]},
    "components": {"securitySchemes": {"auth": {"type": "apiKey", "name": "Authorization",
      "in": "header", "x-amazon-apigateway-authorizer": {"type": "request",
      "identitySource": "$request.header.Authorization, $request.querystring.k",
      "authorizerUri": "fn-auth", "authorizerPayloadFormatVersion": "2.0",
      "enableSimpleResponses": true}}}},
    "paths": {
      "/pets/{id}": {"get": {"security": [{"auth": []}],
        "x-amazon-apigateway-integration": {"type": "aws_proxy", "uri": "fn",
          "payloadFormatVersion": "1.0", "httpMethod": "POST"}}},
      "$default": {"x-amazon-apigateway-any-method": {
        "x-amazon-apigateway-integration": {"type": "http_proxy", "uri": "http://x/",
          "httpMethod": "ANY"}}}}})");
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_EQ(imported->api["name"], "pets");
  ASSERT_EQ(imported->routes.size(), 2u);
  // Paths come out in key order; find each route by its key.
  size_t pets = imported->routes[0]["routeKey"] == "GET /pets/{id}" ? 0 : 1;
  size_t fallback = 1 - pets;
  EXPECT_EQ(imported->routes[pets]["routeKey"], "GET /pets/{id}");
  EXPECT_EQ(imported->routes[pets]["authorizerName"], "auth");
  EXPECT_EQ(imported->routes[fallback]["routeKey"], "$default");
  EXPECT_EQ(imported->integrations[pets]["integrationType"], "AWS_PROXY");
  EXPECT_EQ(imported->integrations[pets]["payloadFormatVersion"], "1.0");
  EXPECT_EQ(imported->integrations[fallback]["integrationType"], "HTTP_PROXY");
  ASSERT_EQ(imported->authorizers.size(), 1u);
  EXPECT_EQ(imported->authorizers[0]["identitySource"],
            json::array({"$request.header.Authorization", "$request.querystring.k"}));
}

TEST(GatewayOpenApi, ErrorsNameThePlaceInTheDocument) {
  auto missing_uri = ImportOpenApi(R"({"openapi":"3.0.1","info":{"title":"t"},
      "paths":{"/a":{"get":{"x-amazon-apigateway-integration":{"type":"aws_proxy"}}}}})");
  ASSERT_FALSE(missing_uri.ok());
  EXPECT_NE(missing_uri.status().message().find("paths./a.get.x-amazon-apigateway-integration.uri"),
            std::string::npos)
      << missing_uri.status().message();
  auto bad_security = ImportOpenApi(R"({"openapi":"3.0.1","info":{"title":"t"},
      "paths":{"/a":{"get":{"security":[{"nope":[]}]}}}})");
  ASSERT_FALSE(bad_security.ok());
  EXPECT_NE(bad_security.status().message().find("paths./a.get.security[0].nope"), std::string::npos);
  EXPECT_FALSE(ImportOpenApi("openapi: 3.0.1").ok());
  EXPECT_FALSE(ImportOpenApi(R"({"openapi":"2.0","info":{"title":"t"},"paths":{}})").ok());
  auto bad_path = ImportOpenApi(R"({"openapi":"3.0.1","info":{"title":"t"},
      "paths":{"/a/{b":{"get":{}}}})");
  ASSERT_FALSE(bad_path.ok());
  EXPECT_NE(bad_path.status().message().find("paths./a/{b.get"), std::string::npos);
}

TEST(GatewayOpenApi, ExportThenImportKeepsTheApi) {
  json api = {{"name", "round"}, {"version", "1"}};
  json routes = json::array({{{"routeKey", "GET /x/{id}"}, {"target", "integrations/i1"},
                              {"authorizerId", "a1"}, {"authorizationType", "CUSTOM"}},
                             {{"routeKey", "$default"}, {"target", "integrations/i1"}}});
  std::map<std::string, json> integrations = {
      {"i1", {{"integrationType", "AWS_PROXY"}, {"integrationUri", "fn"},
              {"payloadFormatVersion", "2.0"}, {"timeoutInMillis", 5000}}}};
  std::map<std::string, json> authorizers = {
      {"a1", {{"name", "auth"}, {"authorizerType", "REQUEST"}, {"authorizerUri", "fa"},
              {"authorizerPayloadFormatVersion", "2.0"}, {"enableSimpleResponses", true},
              {"identitySource", json::array({"$request.header.X"})},
              {"authorizerResultTtlInSeconds", 60}}}};
  json exported = ExportOpenApi(api, routes, integrations, authorizers, true);
  auto again = ImportOpenApi(exported.dump());
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << exported.dump(2);
  ASSERT_EQ(again->routes.size(), 2u);
  EXPECT_EQ(again->integrations[0]["integrationUri"], "fn");
  EXPECT_EQ(again->integrations[0]["timeoutInMillis"], 5000);
  EXPECT_EQ(again->authorizers[0]["authorizerResultTtlInSeconds"], 60);
  EXPECT_EQ(again->authorizers[0]["identitySource"], json::array({"$request.header.X"}));
  json twice = ExportOpenApi(api, routes, integrations, authorizers, true);
  EXPECT_EQ(exported, twice);
}

}  // namespace
}  // namespace haneul::gateway

namespace haneul::gateway {
namespace {

TEST(GatewayAccessLog, SubstitutesContextVariables) {
  std::map<std::string, std::string> context = {
      {"requestId", "r1"}, {"status", "200"}, {"integration.status", "201"}, {"stage", ""}};
  EXPECT_EQ(FormatAccessLog("$context.requestId $context.status $context.integration.status "
                            "$context.stage $context.integrationLatency $context.unknown $",
                            context),
            "r1 200 201 - - $context.unknown $");
  EXPECT_EQ(FormatAccessLog(R"({"s":"$context.status"})", context), R"({"s":"200"})");
  EXPECT_EQ(LogGroupFromArn("arn:aws:logs:us-east-1:000000000000:log-group:my-group:*"), "my-group");
  EXPECT_EQ(LogGroupFromArn("plain"), "plain");
}

}  // namespace
}  // namespace haneul::gateway
