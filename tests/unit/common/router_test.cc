// Router patterns, percent-decoding and query parameters.
#include <gtest/gtest.h>

#include "haneul/common/http.h"

namespace haneul {
namespace {

TEST(Router, MatchesParamsAndDecodesThem) {
  auto params = Router::Match("/2015-03-31/functions/{FunctionName}/invocations",
                              "/2015-03-31/functions/arn%3Aaws%3Alambda/invocations");
  ASSERT_TRUE(params);
  EXPECT_EQ(params->at("FunctionName"), "arn:aws:lambda");
}

TEST(Router, RejectsDifferentShapes) {
  EXPECT_FALSE(Router::Match("/a/{x}", "/a"));
  EXPECT_FALSE(Router::Match("/a/{x}", "/a/b/c"));
  EXPECT_FALSE(Router::Match("/a/{x}", "/a/"));
  EXPECT_TRUE(Router::Match("/a/", "/a/"));
  EXPECT_FALSE(Router::Match("/a", "/a/"));
}

TEST(Router, GreedyParamTakesTheRest) {
  auto params = Router::Match("/{Bucket}/{Key+}", "/b/x/y%20z");
  ASSERT_TRUE(params);
  EXPECT_EQ(params->at("Key"), "x/y z");
}

TEST(Router, DispatchesByMethod) {
  Router router;
  std::string hit;
  router.Add("GET", "/x/{id}", [&](HttpRequest&, const Router::Params& p, auto) { hit = "get " + p.at("id"); });
  router.Add("PUT", "/x/{id}", [&](HttpRequest&, const Router::Params& p, auto) { hit = "put " + p.at("id"); });
  HttpRequest request;
  request.method = "PUT";
  request.path = "/x/7";
  EXPECT_TRUE(router.Dispatch(request, nullptr));
  EXPECT_EQ(hit, "put 7");
  request.method = "DELETE";
  EXPECT_FALSE(router.Dispatch(request, nullptr));
}

TEST(HttpRequest, QueryParamDecodes) {
  HttpRequest request;
  request.query = "Qualifier=%24LATEST&MaxItems=5&flag";
  EXPECT_EQ(request.QueryParam("Qualifier"), "$LATEST");
  EXPECT_EQ(request.QueryParam("MaxItems"), "5");
  EXPECT_EQ(request.QueryParam("flag"), "");
  EXPECT_FALSE(request.QueryParam("missing"));
}

TEST(Percent, DecodeLeavesBadEscapesAlone) {
  EXPECT_EQ(PercentDecode("a%zzb%4"), "a%zzb%4");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentEncode("a:b/c"), "a%3Ab%2Fc");
}

}  // namespace
}  // namespace haneul
