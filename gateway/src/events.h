// Lambda proxy integration payloads: the event API Gateway sends a function (payload format 1.0,
// the REST shape, and 2.0, the HTTP API shape) and the mapping of the function's answer back to
// an HTTP response, with API Gateway's rules (2.0 infers 200 for a bare JSON value; 1.0 merges
// headers with multiValueHeaders; anything malformed is an error the caller turns into 502).
// Pure functions over value types; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "haneul/common/http.h"
#include "haneul/common/status.h"

namespace haneul::gateway {

// ASCII lower case (header names, media types).
std::string Lower(std::string_view text);

// Everything about one request that goes into an event.
struct RequestInfo {
  std::string method;
  std::string raw_path;  // as the client sent it (percent-encoded), stage prefix included
  std::string query;     // raw, after '?'
  Headers headers;
  std::string body;
  std::string source_ip;
  std::string account_id = "000000000000";
  std::string api_id;
  std::string stage;
  std::string domain_name;
  std::string request_id;
  int64_t time_ms = 0;
  std::string route_key;  // "GET /items/{id}" or "$default"
  std::string resource;   // "/items/{id}" (1.0), "$default" for the default route
  std::map<std::string, std::string> path_parameters;
  std::map<std::string, std::string> stage_variables;
  nlohmann::json authorizer;  // null when the route has none; else requestContext.authorizer
};

// True for bodies API Gateway passes as text (isBase64Encoded false).
bool IsTextContentType(std::string_view content_type);

// "12/Mar/2020:19:03:58 +0000"
std::string ApiGatewayTime(int64_t unix_millis);

nlohmann::json BuildEventV2(const RequestInfo& info);
nlohmann::json BuildEventV1(const RequestInfo& info);

// The function's payload (a successful invoke) → the HTTP response. An error means the answer
// is malformed; the caller answers 502.
Result<HttpResponse> MapResponseV2(std::string_view payload);
Result<HttpResponse> MapResponseV1(std::string_view payload);

}  // namespace haneul::gateway
