// Parameter mapping of HTTP APIs: validation of keys, request mapping of path, query and headers,
// response mapping by status.
#include "parameter_mapping.h"

#include <gtest/gtest.h>

namespace haneul::gateway {
namespace {

using nlohmann::json;

RequestInfo Request() {
  RequestInfo info;
  info.method = "POST";
  info.raw_path = "/dev/items/42";
  info.stage = "dev";
  info.query = "a=1&a=2&keep=k";
  info.headers.Add("X-Multi", "one");
  info.headers.Add("x-multi", "two");
  info.body = R"({"user": {"ids": [5, 6], "name": "ann"}})";
  info.path_parameters = {{"id", "42"}};
  info.stage_variables = {{"v", "blue"}};
  info.request_id = "rid";
  return info;
}

TEST(GatewayParameterMapping, ValidatesKeysAndReservedHeaders) {
  EXPECT_TRUE(ValidateRequestParameters(json{{"overwrite:path", "/x"},
                                             {"append:header.X-A", "$request.header.b"},
                                             {"remove:querystring.q", "''"}})
                  .ok());
  EXPECT_FALSE(ValidateRequestParameters(json{{"append:path", "/x"}}).ok());
  EXPECT_FALSE(ValidateRequestParameters(json{{"overwrite:header.Content-Length", "1"}}).ok());
  EXPECT_FALSE(ValidateRequestParameters(json{{"overwrite:header.x-amzn-trace", "1"}}).ok());
  EXPECT_FALSE(ValidateRequestParameters(json{{"overwrite:statuscode", "200"}}).ok());
  EXPECT_FALSE(ValidateRequestParameters(json{{"overwrite:header.X", 5}}).ok());
  EXPECT_TRUE(ValidateResponseParameters(json{{"404", {{"overwrite:statuscode", "200"}}}}).ok());
  EXPECT_FALSE(ValidateResponseParameters(json{{"40", {{"overwrite:statuscode", "200"}}}}).ok());
  EXPECT_FALSE(ValidateResponseParameters(json{{"200", {{"overwrite:path", "/"}}}}).ok());
}

TEST(GatewayParameterMapping, MapsPathQueryAndHeaders) {
  RequestInfo info = Request();
  MappedRequest request;
  request.path = "/orig";
  request.query = ParseQuery(info.query);
  request.headers = info.headers;
  ApplyRequestParameters(
      json{{"overwrite:path", "/users/${request.body.user.name}/$request.path.id"},
           {"overwrite:querystring.a", "$request.querystring.a"},
           {"append:querystring.id", "$request.body.user.ids[1]"},
           {"remove:header.x-multi", ""},
           {"append:header.X-Joined", "$request.header.X-MULTI"},
           {"overwrite:header.X-Path", "$request.path|$stageVariables.v|$context.requestId"}},
      info, &request);
  EXPECT_EQ(request.path, "/users/ann/42");
  // Mappings apply in key order (the stored map is sorted).
  EXPECT_EQ(BuildQuery(request.query), "keep=k&id=6&a=1%2C2");
  EXPECT_FALSE(request.headers.Has("X-Multi"));
  EXPECT_EQ(request.headers.Get("X-Joined"), "one,two");
  EXPECT_EQ(request.headers.Get("X-Path"), "/items/42|blue|rid");
}

TEST(GatewayParameterMapping, MapsResponsesOfTheMatchingStatusOnly) {
  RequestInfo info = Request();
  HttpResponse response{404, {}, R"({"error": {"code": "E1"}})"};
  response.headers.Set("X-Backend", "b");
  json parameters = {{"404",
                      {{"overwrite:statuscode", "410"},
                       {"overwrite:header.X-Code", "$response.body.error.code"},
                       {"append:header.X-From", "${response.header.X-Backend}!"},
                       {"remove:header.X-Backend", ""}}}};
  ApplyResponseParameters(parameters, info, &response);
  EXPECT_EQ(response.status, 410);
  EXPECT_EQ(response.headers.Get("X-Code"), "E1");
  EXPECT_EQ(response.headers.Get("X-From"), "b!");
  EXPECT_FALSE(response.headers.Has("X-Backend"));
  HttpResponse other{200, {}, ""};
  ApplyResponseParameters(parameters, info, &other);
  EXPECT_EQ(other.status, 200);
  EXPECT_FALSE(other.headers.Has("X-Code"));
}

}  // namespace
}  // namespace haneul::gateway
