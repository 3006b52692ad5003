// MOCK integrations (request templates, integration-response selection, rendering), TOKEN
// authorizers' validation expression, and the YAML <-> JSON conversion of OpenAPI documents.
#include <gtest/gtest.h>

#include "authorizer.h"
#include "mock.h"
#include "openapi.h"
#include "yaml_json.h"

namespace haneul::gateway {
namespace {

using nlohmann::json;

RequestInfo Request() {
  RequestInfo info;
  info.method = "GET";
  info.raw_path = "/dev/pets/7";
  info.query = "code=404&name=rex";
  info.headers.Set("X-Trace", "t-1");
  info.request_id = "req-1";
  info.stage = "dev";
  info.api_id = "abc";
  info.route_key = "GET /pets/{id}";
  info.path_parameters = {{"id", "7"}};
  info.stage_variables = {{"color", "blue"}};
  return info;
}

TEST(GatewayMock, RendersVariablesAndLeavesUnknownOnesAlone) {
  RequestInfo info = Request();
  EXPECT_EQ(
      RenderTemplate("id=$input.params('id') q=$input.params(\"name\") h=$input.params('X-Trace')",
                     info),
      "id=7 q=rex h=t-1");
  EXPECT_EQ(RenderTemplate("${context.requestId}/$context.stage. $stageVariables.color", info),
            "req-1/dev. blue");
  EXPECT_EQ(RenderTemplate("$unknown.thing costs $5 $", info), "$unknown.thing costs $5 $");
  EXPECT_EQ(RenderTemplate("$input.params('missing')|", info), "|");
}

TEST(GatewayMock, SelectsTemplatesByMediaType) {
  json templates = {{"application/json", "j"}, {"text/plain", "t"}};
  EXPECT_EQ(*SelectTemplate(templates, "text/plain; charset=utf-8"), "text/plain");
  EXPECT_EQ(*SelectTemplate(templates, "text/html, TEXT/PLAIN;q=0.9"), "text/plain");
  EXPECT_EQ(*SelectTemplate(templates, "image/png"), "application/json");
  EXPECT_EQ(*SelectTemplate(json{{"text/xml", "x"}}, ""), "text/xml");
  EXPECT_FALSE(SelectTemplate(json::object(), "text/plain"));
}

TEST(GatewayMock, StatusComesFromTheRequestTemplate) {
  RequestInfo info = Request();
  bool unsupported = false;
  EXPECT_EQ(*MockStatus(json::object(), info, &unsupported), 200);
  json integration = {
      {"requestTemplates", {{"application/json", "{\"statusCode\": $input.params('code')}"}}}};
  EXPECT_EQ(*MockStatus(integration, info, &unsupported), 404);
  integration["requestTemplates"]["application/json"] = "{\"statusCode\": \"201\"}";
  EXPECT_EQ(*MockStatus(integration, info, &unsupported), 201);
  integration["requestTemplates"]["application/json"] = "{\"other\": 1}";
  EXPECT_FALSE(MockStatus(integration, info, &unsupported).ok());
  integration["requestTemplates"]["application/json"] = "{\"statusCode\": 99}";
  EXPECT_FALSE(MockStatus(integration, info, &unsupported).ok());
  EXPECT_FALSE(unsupported);
}

TEST(GatewayMock, PassthroughBehaviorDecidesForOtherMediaTypes) {
  RequestInfo info = Request();
  info.headers.Set("Content-Type", "text/plain");
  info.body = "{\"statusCode\": 202}";
  bool unsupported = false;
  json integration = {{"requestTemplates", {{"application/json", "{\"statusCode\": 200}"}}}};
  EXPECT_EQ(*MockStatus(integration, info, &unsupported), 202);  // WHEN_NO_MATCH passes the body
  info.body = "plain words";
  EXPECT_EQ(*MockStatus(integration, info, &unsupported), 200);
  integration["passthroughBehavior"] = "WHEN_NO_TEMPLATES";
  EXPECT_EQ(*MockStatus(integration, info, &unsupported), 415);
  EXPECT_TRUE(unsupported);
  integration["passthroughBehavior"] = "NEVER";
  integration["requestTemplates"] = json::object();
  auto answer = MockAnswer(integration, json::array(), info);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->status, 415);
}

TEST(GatewayMock, RegexKeysBeatDefaultAndMustMatchTheWholeStatus) {
  json responses =
      json::array({{{"integrationResponseKey", "$default"}, {"integrationResponseId", "d"}},
                   {{"integrationResponseKey", "/4\\d\\d/"}, {"integrationResponseId", "4"}},
                   {{"integrationResponseKey", "/20/"}, {"integrationResponseId", "x"}}});
  EXPECT_EQ((*SelectIntegrationResponse(responses, 404))["integrationResponseId"], "4");
  EXPECT_EQ((*SelectIntegrationResponse(responses, 200))["integrationResponseId"], "d");
  EXPECT_EQ(SelectIntegrationResponse(json::array({responses[1]}), 200), nullptr);
  EXPECT_TRUE(ValidIntegrationResponseKey("$default"));
  EXPECT_TRUE(ValidIntegrationResponseKey("/2\\d{2}/"));
  EXPECT_FALSE(ValidIntegrationResponseKey("/([/"));
  EXPECT_FALSE(ValidIntegrationResponseKey("200"));
}

TEST(GatewayMock, AnswerCarriesTemplateBodyAndHeaders) {
  RequestInfo info = Request();
  info.headers.Set("Accept", "text/plain");
  json integration = {
      {"requestTemplates", {{"application/json", "{\"statusCode\": $input.params('code')}"}}}};
  json responses = json::array({{{"integrationResponseKey", "/404/"},
                                 {"responseTemplates",
                                  {{"application/json", "{\"missing\": \"$input.params('id')\"}"},
                                   {"text/plain", "no pet $input.params('id')"}}},
                                 {"responseParameters",
                                  {{"method.response.header.X-Static", "'yes'"},
                                   {"overwrite:header.X-Request", "$context.requestId"},
                                   {"method.response.header.X-Stage", "stageVariables.color"}}}}});
  auto answer = MockAnswer(integration, responses, info);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->status, 404);
  EXPECT_EQ(answer->body, "no pet 7");
  EXPECT_EQ(answer->headers.Get("content-type"), "text/plain");
  EXPECT_EQ(answer->headers.Get("x-static"), "yes");
  EXPECT_EQ(answer->headers.Get("x-request"), "req-1");
  EXPECT_EQ(answer->headers.Get("x-stage"), "blue");
  info.query = "code=500";
  EXPECT_FALSE(MockAnswer(integration, responses, info).ok());  // no match and no $default
}

TEST(GatewayTokenAuthorizer, ValidationExpressionMatchesTheWholeToken) {
  EXPECT_TRUE(TokenMatches("", "anything"));
  EXPECT_TRUE(TokenMatches("^Bearer [a-z]+$", "Bearer abc"));
  EXPECT_FALSE(TokenMatches("Bearer [a-z]+", "Bearer abc1"));
  EXPECT_TRUE(ValidIdentityValidationExpression("Bearer .*"));
  EXPECT_FALSE(ValidIdentityValidationExpression("(unclosed"));
  // Tokens past 4 kB are refused without running std::regex (its recursion would overflow).
  EXPECT_FALSE(TokenMatches("^Bearer (a|b)+$", "Bearer " + std::string(60000, 'a')));
  EXPECT_TRUE(TokenMatches("^Bearer (a|b)+$", "Bearer " + std::string(3000, 'a')));
}

TEST(GatewayYaml, ResolvesScalarsByTheCoreSchema) {
  auto doc = YamlToJson(
      "a: 1\nb: -2.5\nc: true\nd: ~\ne: '200'\nf: \"true\"\ng: hello world\nh: 0x1F\n"
      "list:\n  - x\n  - 3\nnested: {k: [1, 2]}\nempty:\n");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_EQ(*doc, json::parse(R"({"a":1,"b":-2.5,"c":true,"d":null,"e":"200","f":"true",
      "g":"hello world","h":"0x1F","list":["x",3],"nested":{"k":[1,2]},"empty":null})"));
}

TEST(GatewayYaml, RoundTripsJsonThroughYaml) {
  json value = json::parse(R"({"openapi":"3.0.1","info":{"title":"t","version":"1.0"},
      "paths":{"/a/{id}":{"get":{"responses":{"200":{"description":"ok"}}}},"$default":{}},
      "strings":["", "true", "12", "null", "a: b", "- x", "#c", "yes", "multi\nline", "ünï"],
      "numbers":[0, -7, 1.5, 12345678901234], "flags":[true,false,null], "empty":{}, "none":[]})");
  std::string yaml = JsonToYaml(value);
  auto back = YamlToJson(yaml);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << yaml;
  EXPECT_EQ(*back, value) << yaml;
}

TEST(GatewayYaml, SyntaxErrorsNameTheLineAndAliasBombsAreRefused) {
  auto bad = YamlToJson("a: [1, 2\nb: c\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line"), std::string::npos) << bad.status().message();
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char level = 'b'; level <= 'k'; ++level) {
    std::string previous(1, static_cast<char>(level - 1));
    bomb += std::string(1, level) + ": &" + level + " [*" + previous + ", *" + previous + ", *" +
            previous + ", *" + previous + ", *" + previous + ", *" + previous + ", *" + previous +
            ", *" + previous + ", *" + previous + ", *" + previous + "]\n";
  }
  EXPECT_FALSE(YamlToJson(bomb).ok());
}

TEST(GatewayYaml, OpenApiImportAcceptsYamlAndNamesThePath) {
  auto imported = ImportOpenApi(R"(openapi: "3.0.1"
info:
  title: pets
paths:
  /pets:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"statusCode": 200}'
        responses:
          default:
            responseTemplates:
              application/json: '[]'
)");
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  ASSERT_EQ(imported->integrations.size(), 1u);
  EXPECT_EQ(imported->integrations[0]["integrationType"], "MOCK");
  EXPECT_EQ(imported->integrations[0]["_responses"][0]["integrationResponseKey"], "$default");
  auto bad = ImportOpenApi(
      "openapi: '3.0.1'\ninfo: {title: t}\npaths:\n  /x:\n    get:\n"
      "      x-amazon-apigateway-integration: {type: aws_proxy}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("paths./x.get.x-amazon-apigateway-integration.uri"),
            std::string::npos)
      << bad.status().message();
}

}  // namespace
}  // namespace haneul::gateway
