// Route keys and route selection (API Gateway's most-specific-route rules), and JWT parsing.
#include "routes.h"

#include <gtest/gtest.h>

#include "jwt.h"

namespace haneul::gateway {
namespace {

TEST(GatewayRouteKey, ParsesMethodPathAndVariables) {
  auto route = ParseRouteKey("GET /items/{id}/parts/{rest+}");
  ASSERT_TRUE(route.ok()) << route.status().ToString();
  EXPECT_EQ(route->method, "GET");
  ASSERT_EQ(route->segments.size(), 4u);
  EXPECT_EQ(route->segments[1].kind, RouteTemplate::Kind::kParam);
  EXPECT_EQ(route->segments[1].text, "id");
  EXPECT_EQ(route->segments[3].kind, RouteTemplate::Kind::kGreedy);
  EXPECT_EQ(route->segments[3].text, "rest");
  EXPECT_TRUE(ParseRouteKey("$default")->is_default);
}

TEST(GatewayRouteKey, RejectsMalformedKeys) {
  for (const char* bad : {"GET", "FETCH /x", "GET x", "GET /{proxy+}/more", "GET /{}", "GET /{a",
                          "GET /a{b}", "GET //x", "get /x", ""}) {
    EXPECT_FALSE(ParseRouteKey(bad).ok()) << bad;
  }
}

TEST(GatewayRouteTable, MostSpecificRouteWins) {
  RouteTable table({"GET /items/{id}", "GET /items/special", "ANY /{proxy+}", "$default",
                    "ANY /items/{id}", "POST /items"});
  auto m = table.Match("GET", "/items/special");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->index, 1u);  // literal beats {id}
  m = table.Match("GET", "/items/42");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->index, 0u);  // GET beats ANY on the same path
  EXPECT_EQ(m->path_parameters.at("id"), "42");
  m = table.Match("DELETE", "/items/42");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->index, 4u);
  m = table.Match("GET", "/other/a/b");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->index, 2u);
  EXPECT_EQ(m->path_parameters.at("proxy"), "other/a/b");
  m = table.Match("POST", "/items");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->index, 5u);
}

TEST(GatewayRouteTable, DefaultIsTheFallbackAndGreedyNeedsAValue) {
  RouteTable table({"GET /a/{proxy+}", "$default"});
  auto m = table.Match("GET", "/a");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->index, 1u);
  m = table.Match("GET", "/a/x%20y");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->index, 0u);
  EXPECT_EQ(m->path_parameters.at("proxy"), "x y");
  RouteTable no_default({"GET /a"});
  EXPECT_FALSE(no_default.Match("GET", "/b"));
  EXPECT_FALSE(no_default.Match("POST", "/a"));
  EXPECT_TRUE(no_default.Match("GET", "/a"));
}

TEST(GatewayRouteTable, RootAndTrailingSlash) {
  RouteTable table({"GET /", "GET /x"});
  auto m = table.Match("GET", "/");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->index, 0u);
  EXPECT_FALSE(table.Match("GET", "/x/"));
}

}  // namespace
}  // namespace haneul::gateway

namespace haneul::gateway {
namespace {

TEST(GatewayJwt, RejectsMalformedTokensAndUnknownKeys) {
  std::string out;
  EXPECT_TRUE(Base64UrlDecode("eyJhIjoxfQ", &out));
  EXPECT_EQ(out, "{\"a\":1}");
  EXPECT_FALSE(Base64UrlDecode("a+b/", &out));
  EXPECT_FALSE(JwtKeyId("only.two").ok());
  EXPECT_FALSE(JwtKeyId("a.b.c.d").ok());
  // {"alg":"RS256","kid":"k"} . {"iss":"i","exp":9999999999} . (not a signature)
  std::string token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJpc3MiOiJpIiwiZXhwIjo5OTk5OTk5OTk5fQ.c2ln";
  EXPECT_EQ(*JwtKeyId(token), "k");
  nlohmann::json jwks = {{"keys", nlohmann::json::array({{{"kty", "RSA"}, {"kid", "k"},
                                                          {"n", "AQAB"}, {"e", "AQAB"}}})}};
  EXPECT_FALSE(VerifyJwt(token, jwks, "i", {}, 1000).ok());
  EXPECT_FALSE(VerifyJwt(token, nlohmann::json::object(), "i", {}, 1000).ok());
  // alg none is never accepted.
  std::string none = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJpIiwiZXhwIjo5OTk5OTk5OTk5fQ.";
  EXPECT_FALSE(VerifyJwt(none, jwks, "i", {}, 1000).ok());
}

}  // namespace
}  // namespace haneul::gateway
