// OpenAPI 3.0 import and export for HTTP APIs, with API Gateway's extensions
// (x-amazon-apigateway-integration, x-amazon-apigateway-authorizer, x-amazon-apigateway-cors,
// x-amazon-apigateway-any-method, the "$default" path). Documents are JSON. Errors name the place
// in the document ("paths./items.get.x-amazon-apigateway-integration.uri: ...").
// Pure functions; thread-compatible.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "haneul/common/status.h"

namespace haneul::gateway {

struct ImportedApi {
  nlohmann::json api;  // name, description, version, corsConfiguration (wire shape)
  std::vector<nlohmann::json> routes;        // routeKey, authorizationType, authorizerName, ...
  std::vector<nlohmann::json> integrations;  // parallel to routes; null when the route has none
  std::vector<nlohmann::json> authorizers;   // wire shape, without ids
  std::vector<std::string> warnings;
};

Result<ImportedApi> ImportOpenApi(std::string_view document);

nlohmann::json ExportOpenApi(const nlohmann::json& api, const nlohmann::json& routes,
                             const std::map<std::string, nlohmann::json>& integrations,
                             const std::map<std::string, nlohmann::json>& authorizers,
                             bool include_extensions);

}  // namespace haneul::gateway
