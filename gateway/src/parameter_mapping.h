// Parameter mapping of HTTP APIs: an integration's RequestParameters (`append|overwrite|remove:
// header.NAME`, `append|overwrite|remove:querystring.NAME`, `overwrite:path`) change the request
// an HTTP_PROXY integration sends; its ResponseParameters, keyed by the integration's status
// ("404": {`append|overwrite|remove:header.NAME`, `overwrite:statuscode`}), change the answer
// of an HTTP_PROXY or AWS_PROXY integration. Values are static text with references:
// $request.header.X, $request.querystring.X, $request.body.X (a simple JSON path: names and
// [n]), $request.path, $request.path.X, $response.header.X, $response.body.X, $context.X,
// $stageVariables.X, bare or as ${...}. Reserved headers (API Gateway's list) cannot be mapped.
// Pure functions; thread-compatible.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "events.h"
#include "haneul/common/http.h"
#include "haneul/common/status.h"

namespace haneul::gateway {

// InvalidArgument naming the first bad key or value.
Status ValidateRequestParameters(const nlohmann::json& parameters);
Status ValidateResponseParameters(const nlohmann::json& parameters);

// The request an HTTP_PROXY integration sends, before and after mapping.
struct MappedRequest {
  std::string path;  // percent-encoded, what follows the integration URI's authority
  std::vector<std::pair<std::string, std::string>> query;  // decoded pairs, in order
  Headers headers;
};

// Applies RequestParameters; values are resolved against the client's original request `info`.
void ApplyRequestParameters(const nlohmann::json& parameters, const RequestInfo& info,
                            MappedRequest* request);

// Applies the ResponseParameters entry for response->status, if any.
void ApplyResponseParameters(const nlohmann::json& parameters, const RequestInfo& info,
                             HttpResponse* response);

// "a=1&b=x%20y" → decoded pairs, and back (RFC 3986 encoding).
std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query);
std::string BuildQuery(const std::vector<std::pair<std::string, std::string>>& pairs);

}  // namespace haneul::gateway
