// Lambda REQUEST, TOKEN and JWT authorizers (see authorizer.h).
#include "authorizer.h"

#include <exception>
#include <regex>

#include <spdlog/spdlog.h>

#include "haneul/common/ids.h"
#include "jwt.h"
#include "haneul/common/wildcard.h"

namespace haneul::gateway {

namespace {

using nlohmann::json;

HttpResponse Refuse(int status, const char* message) {
  return HttpResponse::Json(status, json{{"message", message}}.dump());
}

std::optional<std::string> QueryValue(std::string_view query, std::string_view name) {
  size_t start = 0;
  std::optional<std::string> found;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    std::string_view part = query.substr(start, amp == std::string_view::npos ? amp : amp - start);
    size_t eq = part.find('=');
    if (PercentDecode(part.substr(0, eq), true) == name) {
      std::string value = eq == std::string_view::npos ? "" : PercentDecode(part.substr(eq + 1), true);
      found = found ? *found + "," + value : value;
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return found;
}

// Glob match with '*' (any run) and '?' (one character), as IAM resources use them.
bool Glob(std::string_view pattern, std::string_view text) {
  return WildcardMatch(text, pattern, /*question_mark=*/true);
}

bool AnyMatches(const json& values, const std::string& text) {
  if (values.is_string()) return Glob(values.get<std::string>(), text);
  if (values.is_array()) {
    for (const auto& value : values) {
      if (value.is_string() && Glob(value.get<std::string>(), text)) return true;
    }
  }
  return false;
}

void SetAuthorizerContext(const AuthorizerDecision& decision, const std::string& version,
                          RequestInfo* info) {
  json context = decision.context.is_object() ? decision.context : json::object();
  if (version == "1.0") {
    json flat = context;
    if (!decision.principal_id.empty()) flat["principalId"] = decision.principal_id;
    flat["integrationLatency"] = 0;
    info->authorizer = std::move(flat);
  } else {
    json out = {{"lambda", context}};
    if (!decision.principal_id.empty()) out["principalId"] = decision.principal_id;
    info->authorizer = std::move(out);
  }
}

std::string ClaimText(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    // API Gateway flattens list claims as "[a b]".
    std::string out = "[";
    for (size_t i = 0; i < value.size(); ++i) {
      out += (i ? " " : "") + (value[i].is_string() ? value[i].get<std::string>() : value[i].dump());
    }
    return out + "]";
  }
  return value.dump();
}

// Checks a verified token's claims against the route's scopes and hands them on.
void FinishJwt(const json& claims, const json& route, const std::string& integration_version,
               RequestInfo* info, const std::function<void(std::optional<HttpResponse>)>& done) {
  std::vector<std::string> token_scopes;
  const json& scope = claims.contains("scope") ? claims["scope"] : claims.value("scp", json());
  if (scope.is_string()) {
    std::string text = scope.get<std::string>();
    size_t start = 0;
    while (start < text.size()) {
      size_t space = text.find(' ', start);
      std::string part = text.substr(start, space == std::string::npos ? space : space - start);
      if (!part.empty()) token_scopes.push_back(part);
      if (space == std::string::npos) break;
      start = space + 1;
    }
  } else if (scope.is_array()) {
    for (const auto& item : scope) {
      if (item.is_string()) token_scopes.push_back(item.get<std::string>());
    }
  }
  json wanted = route.value("authorizationScopes", json::array());
  if (wanted.is_array() && !wanted.empty()) {
    bool any = false;
    for (const auto& want : wanted) {
      for (const auto& have : token_scopes) any = any || (want.is_string() && want.get<std::string>() == have);
    }
    if (!any) return done(Refuse(403, "Forbidden"));
  }
  json text_claims = json::object();
  for (auto it = claims.begin(); it != claims.end(); ++it) text_claims[it.key()] = ClaimText(it.value());
  json scopes = token_scopes.empty() ? json(nullptr) : json(token_scopes);
  if (integration_version == "1.0") {
    info->authorizer = {{"claims", text_claims}, {"scopes", scopes}};
  } else {
    info->authorizer = {{"jwt", {{"claims", text_claims}, {"scopes", scopes}}}};
  }
  done(std::nullopt);
}

void AuthorizeJwt(const AuthorizeContext& context, const json& authorizer, const json& route,
                  const std::string& integration_version, const std::shared_ptr<RequestInfo>& info,
                  std::function<void(std::optional<HttpResponse>)> done) {
  json sources = authorizer.value("identitySource", json::array({"$request.header.Authorization"}));
  std::string source = sources.is_array() && !sources.empty() && sources[0].is_string()
                           ? sources[0].get<std::string>()
                           : "$request.header.Authorization";
  auto value = ResolveIdentitySource(source, *info);
  if (!value) return done(Refuse(401, "Unauthorized"));
  std::string token = *value;
  if (token.size() > 7 && strncasecmp(token.c_str(), "bearer ", 7) == 0) token = token.substr(7);
  const json& config = authorizer.value("jwtConfiguration", json::object());
  std::string issuer = config.value("issuer", "");
  std::vector<std::string> audiences;
  for (const auto& audience : config.value("audience", json::array())) {
    if (audience.is_string()) audiences.push_back(audience.get<std::string>());
  }
  auto kid = JwtKeyId(token);
  if (!kid.ok()) return done(Refuse(401, "Unauthorized"));
  auto verify = [token, issuer, audiences, route, integration_version, info](
                    const json& jwks, const std::function<void(std::optional<HttpResponse>)>& finish) {
    auto claims = VerifyJwt(token, jwks, issuer, audiences, NowUnixMillis() / 1000);
    if (!claims.ok()) return finish(Refuse(401, "Unauthorized"));
    FinishJwt(*claims, route, integration_version, info.get(), finish);
  };
  // A cached key set serves while it knows the token's key; an unknown kid refetches (keys
  // rotate), at most every 10 seconds.
  auto& key_sets = context.cache.key_sets();
  auto cached = key_sets.find(issuer);
  int64_t now = NowUnixMillis();
  if (cached != key_sets.end()) {
    bool knows_kid = false;
    for (const auto& jwk : cached->second.jwks.value("keys", json::array())) {
      knows_kid = knows_kid || (jwk.is_object() && jwk.value("kid", "") == *kid);
    }
    bool fresh = now - cached->second.fetched_ms < 3600 * 1000;
    if ((knows_kid && fresh) || now - cached->second.fetched_ms < 10 * 1000) {
      return verify(cached->second.jwks, done);
    }
  }
  if (!context.fetch) return done(Refuse(401, "Unauthorized"));
  std::string discovery = issuer;
  while (!discovery.empty() && discovery.back() == '/') discovery.pop_back();
  discovery += "/.well-known/openid-configuration";
  AuthorizerCache* cache = &context.cache;
  Fetcher fetch = context.fetch;
  fetch(discovery, [fetch, cache, issuer, verify, done](Result<std::string> body) {
    json config = body.ok() ? json::parse(*body, nullptr, false) : json();
    if (!config.is_object() || !config.contains("jwks_uri") || !config["jwks_uri"].is_string()) {
      spdlog::warn("gateway: no jwks_uri from {}: {}", issuer,
                   body.ok() ? "bad discovery document" : body.status().message());
      return done(Refuse(401, "Unauthorized"));
    }
    fetch(config["jwks_uri"].get<std::string>(), [cache, issuer, verify, done](Result<std::string> keys) {
      json jwks = keys.ok() ? json::parse(*keys, nullptr, false) : json();
      if (!jwks.is_object()) {
        spdlog::warn("gateway: no key set for {}", issuer);
        return done(Refuse(401, "Unauthorized"));
      }
      cache->key_sets()[issuer] = {jwks, NowUnixMillis()};
      verify(jwks, done);
    });
  });
}

}  // namespace

std::optional<AuthorizerDecision> AuthorizerCache::Get(const std::string& key, int64_t now_ms) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (it->second.first <= now_ms) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.second;
}

void AuthorizerCache::Put(const std::string& key, AuthorizerDecision decision, int64_t expires_ms) {
  // Bound the cache: an attacker varying the identity source must not grow it without limit.
  if (entries_.size() >= 10000) entries_.clear();
  entries_[key] = {expires_ms, std::move(decision)};
}

std::optional<std::string> ResolveIdentitySource(const std::string& source, const RequestInfo& info) {
  std::optional<std::string> value;
  static const std::string kHeader = "$request.header.";
  static const std::string kQuery = "$request.querystring.";
  static const std::string kStage = "$stageVariables.";
  static const std::string kContext = "$context.";
  if (source.starts_with(kHeader)) {
    std::string name = source.substr(kHeader.size());
    if (info.headers.Has(name)) value = std::string(info.headers.Get(name));
  } else if (source.starts_with(kQuery)) {
    value = QueryValue(info.query, source.substr(kQuery.size()));
  } else if (source.starts_with(kStage)) {
    auto it = info.stage_variables.find(source.substr(kStage.size()));
    if (it != info.stage_variables.end()) value = it->second;
  } else if (source.starts_with(kContext)) {
    std::string name = source.substr(kContext.size());
    if (name == "stage") value = info.stage;
    if (name == "routeKey") value = info.route_key;
    if (name == "apiId") value = info.api_id;
    if (name == "identity.sourceIp") value = info.source_ip;
    if (name == "httpMethod") value = info.method;
  }
  if (value && value->empty()) return std::nullopt;
  return value;
}

bool ValidIdentityValidationExpression(const std::string& expression) {
  try {
    (void)std::regex(expression, std::regex::ECMAScript);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool TokenMatches(const std::string& expression, const std::string& token) {
  if (expression.empty()) return true;
  // libstdc++'s std::regex recurses once per character and overflows the stack on inputs of
  // ~20 kB (headers may be 64 kB), so longer tokens are refused without running it.
  constexpr size_t kMaxValidatedToken = 4096;
  if (token.size() > kMaxValidatedToken) return false;
  try {
    return std::regex_match(token, std::regex(expression, std::regex::ECMAScript));
  } catch (const std::exception&) {
    return false;  // an expression std::regex cannot run refuses rather than lets through
  }
}

bool PolicyAllows(const json& policy, const std::string& resource) {
  if (!policy.is_object() || !policy.contains("Statement")) return false;
  json statements = policy["Statement"];
  if (statements.is_object()) statements = json::array({statements});
  if (!statements.is_array()) return false;
  bool allowed = false;
  for (const auto& statement : statements) {
    if (!statement.is_object()) continue;
    std::string effect = statement.value("Effect", "");
    json action = statement.value("Action", json());
    bool action_ok = AnyMatches(action, "execute-api:Invoke");
    if (!action_ok) continue;
    if (!AnyMatches(statement.value("Resource", json()), resource)) continue;
    if (effect == "Deny") return false;
    if (effect == "Allow") allowed = true;
  }
  return allowed;
}

void Authorize(const AuthorizeContext& context, const json& authorizer, const json& route,
               const std::string& integration_version, const std::shared_ptr<RequestInfo>& info,
               std::function<void(std::optional<HttpResponse>)> done) {
  std::string type = authorizer.value("authorizerType", "");
  if (type == "JWT") {
    return AuthorizeJwt(context, authorizer, route, integration_version, info, std::move(done));
  }
  if (type != "REQUEST" && type != "TOKEN") return done(Refuse(500, "Internal Server Error"));
  bool token_type = type == "TOKEN";
  // Every identity source must be present and non-empty, or the authorizer is not called.
  std::vector<std::string> identity;
  for (const auto& source : authorizer.value("identitySource", json::array())) {
    auto value = ResolveIdentitySource(source.get<std::string>(), *info);
    if (!value) return done(Refuse(401, "Unauthorized"));
    identity.push_back(*value);
  }
  if (token_type) {
    // REST's TOKEN semantics: one header; a token that fails IdentityValidationExpression is
    // refused without calling the function (and without caching anything).
    if (identity.size() != 1) return done(Refuse(401, "Unauthorized"));
    std::string expression = authorizer.value("identityValidationExpression", "");
    if (!TokenMatches(expression, identity[0])) return done(Refuse(401, "Unauthorized"));
  }
  int ttl = authorizer.value("authorizerResultTtlInSeconds", 0);
  std::string cache_key;
  if (ttl > 0 && !identity.empty()) {
    cache_key = authorizer.value("authorizerId", "") + "\n";
    for (const auto& value : identity) cache_key += value + "\n";
    if (auto cached = context.cache.Get(cache_key, NowUnixMillis())) {
      if (!cached->allowed) return done(Refuse(403, "Forbidden"));
      SetAuthorizerContext(*cached, integration_version, info.get());
      return done(std::nullopt);
    }
  }
  std::string version = authorizer.value("authorizerPayloadFormatVersion", "2.0");
  bool simple = authorizer.value("enableSimpleResponses", false);
  std::string arn = "arn:aws:execute-api:" + context.region + ":" + info->account_id + ":" +
                    info->api_id + "/" + info->stage + "/" + info->method +
                    PercentDecode(info->raw_path.starts_with("/" + info->stage + "/")
                                      ? info->raw_path.substr(info->stage.size() + 1)
                                      : info->raw_path);
  json event;
  if (token_type) {
    event = {{"type", "TOKEN"}, {"authorizationToken", identity[0]}, {"methodArn", arn}};
  } else if (version == "1.0") {
    event = BuildEventV1(*info);
    event["type"] = "REQUEST";
    event["methodArn"] = arn;
    std::string joined;
    for (const auto& value : identity) joined += (joined.empty() ? "" : ",") + value;
    event["identitySource"] = joined;
  } else {
    event = BuildEventV2(*info);
    event["type"] = "REQUEST";
    event["routeArn"] = arn;
    event["identitySource"] = identity;
    event["requestContext"].erase("authorizer");
  }
  if (!token_type) {
    event.erase("body");
    event.erase("isBase64Encoded");
  }
  std::string function = authorizer.value("authorizerUri", "");
  static const std::string kFunctions = "/functions/";
  static const std::string kInvocations = "/invocations";
  if (auto at = function.find(kFunctions); at != std::string::npos && function.ends_with(kInvocations)) {
    function = function.substr(at + kFunctions.size(),
                               function.size() - kInvocations.size() - at - kFunctions.size());
  }
  AuthorizerCache* cache = &context.cache;
  context.lambda.Invoke(
      function, event.dump(),
      [done = std::move(done), info, simple, arn, ttl, cache_key, cache, token_type,
       integration_version](HttpResponse answer) {
        if (token_type && answer.status == 200 && answer.headers.Has("X-Amz-Function-Error")) {
          // REST: an authorizer that fails with the message "Unauthorized" means 401.
          json error = json::parse(answer.body, nullptr, false);
          if (error.is_object() && error.value("errorMessage", json()) == "Unauthorized") {
            return done(Refuse(401, "Unauthorized"));
          }
        }
        if (answer.status != 200 || answer.headers.Has("X-Amz-Function-Error")) {
          spdlog::warn("gateway: authorizer failed ({}): {}", answer.status, answer.body);
          return done(Refuse(500, "Internal Server Error"));
        }
        json output = json::parse(answer.body, nullptr, false);
        if (output.is_discarded() || !output.is_object()) {
          return done(Refuse(500, "Internal Server Error"));
        }
        AuthorizerDecision decision;
        if (simple) {
          if (!output.contains("isAuthorized") || !output["isAuthorized"].is_boolean()) {
            return done(Refuse(500, "Internal Server Error"));
          }
          decision.allowed = output["isAuthorized"].get<bool>();
        } else {
          if (!output.contains("policyDocument")) return done(Refuse(500, "Internal Server Error"));
          decision.allowed = PolicyAllows(output["policyDocument"], arn);
          if (output.contains("principalId") && output["principalId"].is_string()) {
            decision.principal_id = output["principalId"];
          }
        }
        if (output.contains("context")) decision.context = output["context"];
        if (!cache_key.empty()) {
          cache->Put(cache_key, decision, NowUnixMillis() + int64_t{ttl} * 1000);
        }
        if (!decision.allowed) return done(Refuse(403, "Forbidden"));
        SetAuthorizerContext(decision, integration_version, info.get());
        done(std::nullopt);
      });
}

}  // namespace haneul::gateway
