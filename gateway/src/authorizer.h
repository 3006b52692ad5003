// Lambda REQUEST authorizers and JWT authorizers of HTTP APIs: identity-source checks, the
// authorizer event (payload 1.0 / 2.0), the simple ({isAuthorized, context}) and IAM-policy
// answers, and the result cache keyed by the identity-source values with the authorizer's TTL.
// Also TOKEN authorizers (haneul's extension on HTTP APIs, REST's semantics): one header,
// IdentityValidationExpression checked before invoking, event {type: TOKEN, authorizationToken,
// methodArn}, an IAM-policy answer, cached by token.
// Loop thread only (the cache has no lock).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "events.h"
#include "haneul/common/event_loop.h"
#include "haneul/common/http.h"
#include "haneul/invoker/lambda_service.h"

namespace haneul::gateway {

// A cached decision: allowed or not, and the context to hand the integration.
struct AuthorizerDecision {
  bool allowed = false;
  nlohmann::json context;  // the authorizer's context object (may be null)
  std::string principal_id;
};

class AuthorizerCache {
 public:
  std::optional<AuthorizerDecision> Get(const std::string& key, int64_t now_ms);
  void Put(const std::string& key, AuthorizerDecision decision, int64_t expires_ms);
  void Clear() { entries_.clear(); }
  size_t size() const { return entries_.size(); }

  // Key sets of JWT issuers, with when they were fetched.
  struct KeySet {
    nlohmann::json jwks;
    int64_t fetched_ms = 0;
  };
  std::map<std::string, KeySet>& key_sets() { return key_sets_; }

 private:
  std::map<std::string, std::pair<int64_t, AuthorizerDecision>> entries_;
  std::map<std::string, KeySet> key_sets_;
};

// Fetches a URL off the loop (GET) and calls back on the loop with the body of a 200 answer.
using Fetcher =
    std::function<void(const std::string& url, std::function<void(Result<std::string>)> done)>;

struct AuthorizeContext {
  EventLoop& loop;
  invoker::LambdaService& lambda;
  AuthorizerCache& cache;
  std::string region;
  Fetcher fetch;
};

// Resolves "$request.header.X", "$request.querystring.X", "$stageVariables.X" and a few
// "$context.X" against the request; nullopt when absent or empty.
std::optional<std::string> ResolveIdentitySource(const std::string& source, const RequestInfo& info);

// True when `expression` compiles as an IdentityValidationExpression (ECMAScript regex).
bool ValidIdentityValidationExpression(const std::string& expression);
// True when the token matches the whole expression (an empty expression matches everything).
bool TokenMatches(const std::string& expression, const std::string& token);

// True when an IAM policy document allows `resource` (an Allow matches and no Deny does).
bool PolicyAllows(const nlohmann::json& policy, const std::string& resource);

// Authorizes the request for `route` (its scopes) with `authorizer` (its stored wire object). On success sets
// info->authorizer in the shape of the integration's payload version and calls done(nullopt);
// otherwise done(the refusal: 401, 403 or 500). done runs once, on the loop thread.
void Authorize(const AuthorizeContext& context, const nlohmann::json& authorizer,
               const nlohmann::json& route, const std::string& integration_version, const std::shared_ptr<RequestInfo>& info,
               std::function<void(std::optional<HttpResponse>)> done);

}  // namespace haneul::gateway
