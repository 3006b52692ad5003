// OpenAPI 3.0 import/export (see openapi.h).
#include "openapi.h"

#include <algorithm>
#include <cctype>

#include "routes.h"
#include "yaml_json.h"

namespace haneul::gateway {

namespace {

using nlohmann::json;

constexpr const char* kIntegration = "x-amazon-apigateway-integration";
constexpr const char* kAuthorizer = "x-amazon-apigateway-authorizer";
constexpr const char* kAnyMethod = "x-amazon-apigateway-any-method";
constexpr const char* kCors = "x-amazon-apigateway-cors";

const char* kOperations[] = {"get", "put", "post", "delete", "options", "head", "patch"};

Status At(const std::string& where, const std::string& what) {
  return Status::InvalidArgument("Invalid OpenAPI document at " + where + ": " + what);
}

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}
std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string part = text.substr(start, comma == std::string::npos ? comma : comma - start);
    part.erase(0, part.find_first_not_of(' '));
    while (!part.empty() && part.back() == ' ') part.pop_back();
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

bool IsStringMap(const json& value) {
  if (!value.is_object()) return false;
  for (const auto& item : value) {
    if (!item.is_string()) return false;
  }
  return true;
}

// REST's mock integration: requestTemplates, passthroughBehavior and responses keyed by a
// status regex ("default" for the fallback), each with responseTemplates and
// responseParameters. The responses travel in "_responses" (IntegrationResponse wire shape).
Result<json> ParseMockIntegration(const json& value, const std::string& where) {
  json integration = {{"integrationType", "MOCK"}};
  if (value.contains("requestTemplates")) {
    if (!IsStringMap(value["requestTemplates"])) {
      return At(where + ".requestTemplates", "must map content types to template strings");
    }
    integration["requestTemplates"] = value["requestTemplates"];
  }
  if (value.contains("passthroughBehavior")) {
    if (!value["passthroughBehavior"].is_string()) return At(where + ".passthroughBehavior", "must be a string");
    integration["passthroughBehavior"] = Upper(value["passthroughBehavior"]);
  }
  if (value.contains("timeoutInMillis")) {
    if (!value["timeoutInMillis"].is_number_integer()) {
      return At(where + ".timeoutInMillis", "must be an integer");
    }
    integration["timeoutInMillis"] = value["timeoutInMillis"];
  }
  if (value.contains("description")) integration["description"] = value["description"];
  json responses = json::array();
  if (value.contains("responses")) {
    const json& items = value["responses"];
    if (!items.is_object()) return At(where + ".responses", "must be an object");
    for (auto it = items.begin(); it != items.end(); ++it) {
      std::string at = where + ".responses." + it.key();
      if (!it.value().is_object()) return At(at, "must be an object");
      std::string key = it.key() == "default" ? "$default"
                        : it.key().size() >= 2 && it.key().front() == '/' && it.key().back() == '/'
                            ? it.key()
                            : "/" + it.key() + "/";
      json response = {{"integrationResponseKey", key}};
      for (const char* map : {"responseTemplates", "responseParameters"}) {
        if (!it.value().contains(map)) continue;
        if (!IsStringMap(it.value()[map])) return At(at + "." + map, "must be a map of strings");
        response[map] = it.value()[map];
      }
      if (it.value().contains("contentHandling")) response["contentHandlingStrategy"] = it.value()["contentHandling"];
      responses.push_back(std::move(response));
    }
  }
  integration["_responses"] = std::move(responses);
  return integration;
}

Result<json> ParseIntegration(const json& value, const std::string& where) {
  if (!value.is_object()) return At(where, "must be an object");
  json integration = json::object();
  std::string type = Lower(value.value("type", ""));
  if (type == "mock") return ParseMockIntegration(value, where);
  if (type == "aws_proxy") {
    integration["integrationType"] = "AWS_PROXY";
  } else if (type == "http_proxy") {
    integration["integrationType"] = "HTTP_PROXY";
  } else {
    return At(where + ".type", "unsupported integration type '" + value.value("type", "") +
                                   "' (aws_proxy, http_proxy or mock)");
  }
  if (!value.contains("uri") || !value["uri"].is_string()) return At(where + ".uri", "missing");
  integration["integrationUri"] = value["uri"];
  if (value.contains("httpMethod")) {
    if (!value["httpMethod"].is_string()) return At(where + ".httpMethod", "must be a string");
    integration["integrationMethod"] = Upper(value["httpMethod"]);
  }
  if (value.contains("payloadFormatVersion")) {
    if (!value["payloadFormatVersion"].is_string()) {
      return At(where + ".payloadFormatVersion", "must be a string");
    }
    integration["payloadFormatVersion"] = value["payloadFormatVersion"];
  }
  if (value.contains("timeoutInMillis")) {
    if (!value["timeoutInMillis"].is_number_integer()) {
      return At(where + ".timeoutInMillis", "must be an integer");
    }
    integration["timeoutInMillis"] = value["timeoutInMillis"];
  }
  if (value.contains("connectionType")) integration["connectionType"] = value["connectionType"];
  if (value.contains("description")) integration["description"] = value["description"];
  // Parameter mapping, as HTTP APIs write it (validated with the integration).
  if (value.contains("requestParameters")) integration["requestParameters"] = value["requestParameters"];
  if (value.contains("responseParameters")) integration["responseParameters"] = value["responseParameters"];
  return integration;
}

Result<json> ParseAuthorizer(const std::string& name, const json& scheme, const std::string& where) {
  const json& value = scheme[kAuthorizer];
  if (!value.is_object()) return At(where + "." + kAuthorizer, "must be an object");
  json authorizer = {{"name", name}};
  std::string type = Lower(value.value("type", ""));
  std::string at = where + "." + kAuthorizer;
  if (type == "request") {
    authorizer["authorizerType"] = "REQUEST";
    if (!value.contains("authorizerUri") || !value["authorizerUri"].is_string()) {
      return At(at + ".authorizerUri", "missing");
    }
    authorizer["authorizerUri"] = value["authorizerUri"];
    authorizer["authorizerPayloadFormatVersion"] = value.value("authorizerPayloadFormatVersion", "2.0");
    if (value.contains("enableSimpleResponses")) authorizer["enableSimpleResponses"] = value["enableSimpleResponses"];
    authorizer["authorizerResultTtlInSeconds"] = value.value("authorizerResultTtlInSeconds", 0);
  } else if (type == "token") {
    // REST's TOKEN authorizer: the header is the extension's identitySource or, as REST writes
    // it, the security scheme's `name` (in: header).
    authorizer["authorizerType"] = "TOKEN";
    if (!value.contains("authorizerUri") || !value["authorizerUri"].is_string()) {
      return At(at + ".authorizerUri", "missing");
    }
    authorizer["authorizerUri"] = value["authorizerUri"];
    authorizer["authorizerResultTtlInSeconds"] = value.value("authorizerResultTtlInSeconds", 300);
    if (value.contains("identityValidationExpression")) {
      if (!value["identityValidationExpression"].is_string()) {
        return At(at + ".identityValidationExpression", "must be a string");
      }
      authorizer["identityValidationExpression"] = value["identityValidationExpression"];
    }
    std::string header = scheme.value("in", "") == "header" && scheme.contains("name") &&
                                 scheme["name"].is_string()
                             ? scheme["name"].get<std::string>()
                             : "Authorization";
    std::string source = "$request.header." + header;
    if (value.contains("identitySource")) {
      if (!value["identitySource"].is_string()) return At(at + ".identitySource", "must be a string");
      source = value["identitySource"];
      static const std::string kRest = "method.request.header.";
      if (source.starts_with(kRest)) source = "$request.header." + source.substr(kRest.size());
    }
    authorizer["identitySource"] = json::array({source});
    return authorizer;
  } else if (type == "jwt") {
    authorizer["authorizerType"] = "JWT";
    if (!value.contains("jwtConfiguration") || !value["jwtConfiguration"].is_object()) {
      return At(at + ".jwtConfiguration", "missing");
    }
    authorizer["jwtConfiguration"] = value["jwtConfiguration"];
  } else {
    return At(at + ".type", "unsupported authorizer type '" + value.value("type", "") +
                                "' (request, token or jwt)");
  }
  if (value.contains("identitySource")) {
    const json& sources = value["identitySource"];
    if (sources.is_string()) {
      authorizer["identitySource"] = SplitComma(sources.get<std::string>());
    } else if (sources.is_array()) {
      authorizer["identitySource"] = sources;
    } else {
      return At(at + ".identitySource", "must be a string");
    }
  }
  return authorizer;
}

Status ParseOperation(const std::string& route_key, const json& operation, const std::string& where,
                      const std::map<std::string, std::string>& authorizer_types, ImportedApi* out) {
  if (!operation.is_object()) return At(where, "must be an object");
  auto parsed = ParseRouteKey(route_key);
  if (!parsed.ok()) return At(where, parsed.status().message());
  json route = {{"routeKey", route_key}, {"authorizationType", "NONE"}, {"apiKeyRequired", false}};
  if (operation.contains("operationId") && operation["operationId"].is_string()) {
    route["operationName"] = operation["operationId"];
  }
  if (operation.contains("security")) {
    const json& security = operation["security"];
    if (!security.is_array()) return At(where + ".security", "must be an array");
    for (size_t i = 0; i < security.size(); ++i) {
      if (!security[i].is_object()) return At(where + ".security[" + std::to_string(i) + "]", "must be an object");
      for (auto it = security[i].begin(); it != security[i].end(); ++it) {
        if (!authorizer_types.count(it.key())) {
          return At(where + ".security[" + std::to_string(i) + "]." + it.key(),
                    "no such security scheme in components.securitySchemes");
        }
        route["authorizerName"] = it.key();
        if (it.value().is_array() && !it.value().empty()) route["authorizationScopes"] = it.value();
      }
    }
  }
  json integration = nullptr;
  if (operation.contains(kIntegration)) {
    auto made = ParseIntegration(operation[kIntegration], where + "." + kIntegration);
    if (!made.ok()) return made.status();
    integration = std::move(*made);
  } else {
    out->warnings.push_back("Route " + route_key + " has no " + kIntegration);
  }
  out->routes.push_back(std::move(route));
  out->integrations.push_back(std::move(integration));
  return Status::Ok();
}

json ExportMock(const json& value) {
  json extension = {{"type", "mock"}};
  if (value.contains("requestTemplates")) extension["requestTemplates"] = value["requestTemplates"];
  if (value.contains("passthroughBehavior")) {
    extension["passthroughBehavior"] = Lower(value.value("passthroughBehavior", ""));
  }
  if (value.contains("timeoutInMillis")) extension["timeoutInMillis"] = value["timeoutInMillis"];
  if (value.contains("description")) extension["description"] = value["description"];
  json responses = json::object();
  for (const auto& response : value.value("_responses", json::array())) {
    std::string key = response.value("integrationResponseKey", "");
    json out = json::object();
    std::string name = key == "$default" ? "default" : key;
    if (key != "$default" && key.size() >= 2) {
      std::string pattern = key.substr(1, key.size() - 2);
      // REST's documents write the pattern bare; a plain status is also the response's status.
      name = pattern;
      if (pattern.size() == 3 && pattern.find_first_not_of("0123456789") == std::string::npos) {
        out["statusCode"] = pattern;
      }
    }
    for (const char* map : {"responseTemplates", "responseParameters"}) {
      if (response.contains(map)) out[map] = response[map];
    }
    if (response.contains("contentHandlingStrategy")) out["contentHandling"] = response["contentHandlingStrategy"];
    responses[name] = std::move(out);
  }
  if (!responses.empty()) extension["responses"] = std::move(responses);
  return extension;
}

}  // namespace

Result<ImportedApi> ImportOpenApi(std::string_view document) {
  auto parsed = ParseJsonOrYaml(document);
  if (!parsed.ok()) return parsed.status();
  const json& doc = *parsed;
  if (!doc.is_object()) return At("$", "must be an object");
  if (!doc.contains("openapi") || !doc["openapi"].is_string() ||
      !doc["openapi"].get<std::string>().starts_with("3.")) {
    return At("openapi", "must be a 3.x version string");
  }
  ImportedApi out;
  const json& info = doc.value("info", json::object());
  if (!info.is_object() || !info.contains("title") || !info["title"].is_string() ||
      info["title"].get<std::string>().empty()) {
    return At("info.title", "missing");
  }
  out.api = {{"name", info["title"]}};
  if (info.contains("version") && info["version"].is_string()) out.api["version"] = info["version"];
  if (info.contains("description") && info["description"].is_string()) out.api["description"] = info["description"];
  if (doc.contains(kCors)) {
    if (!doc[kCors].is_object()) return At(kCors, "must be an object");
    out.api["corsConfiguration"] = doc[kCors];
  }
  std::map<std::string, std::string> authorizer_types;
  if (doc.contains("components")) {
    const json& components = doc["components"];
    if (!components.is_object()) return At("components", "must be an object");
    if (components.contains("securitySchemes")) {
      const json& schemes = components["securitySchemes"];
      if (!schemes.is_object()) return At("components.securitySchemes", "must be an object");
      for (auto it = schemes.begin(); it != schemes.end(); ++it) {
        std::string where = "components.securitySchemes." + it.key();
        if (!it.value().is_object()) return At(where, "must be an object");
        if (!it.value().contains(kAuthorizer)) {
          out.warnings.push_back("Security scheme " + it.key() + " has no " + kAuthorizer);
          continue;
        }
        auto authorizer = ParseAuthorizer(it.key(), it.value(), where);
        if (!authorizer.ok()) return authorizer.status();
        authorizer_types[it.key()] = (*authorizer)["authorizerType"];
        out.authorizers.push_back(std::move(*authorizer));
      }
    }
  }
  if (!doc.contains("paths") || !doc["paths"].is_object()) return At("paths", "missing");
  for (auto path = doc["paths"].begin(); path != doc["paths"].end(); ++path) {
    std::string where = "paths." + path.key();
    if (!path.value().is_object()) return At(where, "must be an object");
    bool is_default = path.key() == "$default";
    if (!is_default && !path.key().starts_with("/")) return At(where, "a path must start with '/'");
    for (auto op = path.value().begin(); op != path.value().end(); ++op) {
      std::string method;
      if (op.key() == kAnyMethod) {
        method = "ANY";
      } else if (std::find(std::begin(kOperations), std::end(kOperations), op.key()) != std::end(kOperations)) {
        method = Upper(op.key());
      } else if (op.key() == "parameters" || op.key() == "summary" || op.key() == "description" ||
                 op.key().starts_with("x-")) {
        continue;
      } else {
        return At(where + "." + op.key(), "unknown operation");
      }
      std::string route_key = is_default ? "$default" : method + " " + path.key();
      if (is_default && method != "ANY") {
        return At(where + "." + op.key(), "the $default route takes only " + std::string(kAnyMethod));
      }
      HANEUL_RETURN_IF_ERROR(ParseOperation(route_key, op.value(), where + "." + op.key(),
                                            authorizer_types, &out));
    }
  }
  return out;
}

json ExportOpenApi(const json& api, const json& routes, const std::map<std::string, json>& integrations,
                   const std::map<std::string, json>& authorizers, bool include_extensions) {
  json doc = {{"openapi", "3.0.1"},
              {"info", {{"title", api.value("name", "")}, {"version", api.value("version", "1.0")}}},
              {"paths", json::object()}};
  if (api.contains("description")) doc["info"]["description"] = api["description"];
  if (include_extensions && api.contains("corsConfiguration") && api["corsConfiguration"].is_object()) {
    doc[kCors] = api["corsConfiguration"];
  }
  std::map<std::string, std::string> authorizer_names;
  for (const auto& [id, authorizer] : authorizers) {
    std::string name = authorizer.value("name", id);
    authorizer_names[id] = name;
    json scheme;
    json extension = json::object();
    std::string sources;
    for (const auto& source : authorizer.value("identitySource", json::array())) {
      sources += (sources.empty() ? "" : ",") + source.get<std::string>();
    }
    if (authorizer.value("authorizerType", "") == "JWT") {
      scheme = {{"type", "oauth2"}, {"flows", json::object()}};
      extension = {{"type", "jwt"}, {"jwtConfiguration", authorizer.value("jwtConfiguration", json::object())}};
    } else if (authorizer.value("authorizerType", "") == "TOKEN") {
      std::string header = sources.starts_with("$request.header.") ? sources.substr(16) : "Authorization";
      scheme = {{"type", "apiKey"}, {"name", header}, {"in", "header"},
                {"x-amazon-apigateway-authtype", "custom"}};
      extension = {{"type", "token"},
                   {"authorizerUri", authorizer.value("authorizerUri", "")},
                   {"authorizerResultTtlInSeconds", authorizer.value("authorizerResultTtlInSeconds", 300)}};
      if (authorizer.contains("identityValidationExpression")) {
        extension["identityValidationExpression"] = authorizer["identityValidationExpression"];
      }
    } else {
      scheme = {{"type", "apiKey"}, {"name", "Unused"}, {"in", "header"}};
      extension = {{"type", "request"},
                   {"authorizerUri", authorizer.value("authorizerUri", "")},
                   {"authorizerPayloadFormatVersion", authorizer.value("authorizerPayloadFormatVersion", "2.0")},
                   {"authorizerResultTtlInSeconds", authorizer.value("authorizerResultTtlInSeconds", 0)}};
      if (authorizer.contains("enableSimpleResponses")) extension["enableSimpleResponses"] = authorizer["enableSimpleResponses"];
    }
    if (!sources.empty()) extension["identitySource"] = sources;
    if (include_extensions) scheme[kAuthorizer] = extension;
    doc["components"]["securitySchemes"][name] = scheme;
  }
  for (const auto& route : routes) {
    std::string key = route.value("routeKey", "");
    std::string path = "$default";
    std::string operation_name = kAnyMethod;
    if (key != "$default") {
      size_t space = key.find(' ');
      std::string method = key.substr(0, space);
      path = key.substr(space + 1);
      operation_name = method == "ANY" ? std::string(kAnyMethod) : Lower(method);
    }
    json operation = json::object();
    if (route.contains("operationName")) operation["operationId"] = route["operationName"];
    operation["responses"] = {{"default", {{"description", "Default response for " + key}}}};
    std::string authorizer_id = route.value("authorizerId", "");
    if (!authorizer_id.empty() && authorizer_names.count(authorizer_id)) {
      operation["security"] = json::array({{{authorizer_names[authorizer_id],
                                             route.value("authorizationScopes", json::array())}}});
    }
    std::string target = route.value("target", "");
    auto integration = integrations.find(target.starts_with("integrations/") ? target.substr(13) : "");
    if (include_extensions && integration != integrations.end()) {
      const json& value = integration->second;
      if (value.value("integrationType", "") == "MOCK") {
        operation[kIntegration] = ExportMock(value);
        doc["paths"][path][operation_name] = operation;
        continue;
      }
      json extension = {{"type", Lower(value.value("integrationType", ""))},
                        {"uri", value.value("integrationUri", "")},
                        {"httpMethod", value.value("integrationMethod", "POST")},
                        {"payloadFormatVersion", value.value("payloadFormatVersion", "2.0")},
                        {"connectionType", value.value("connectionType", "INTERNET")}};
      if (value.contains("timeoutInMillis")) extension["timeoutInMillis"] = value["timeoutInMillis"];
      if (value.contains("description")) extension["description"] = value["description"];
      for (const char* mapping : {"requestParameters", "responseParameters"}) {
        if (value.contains(mapping) && value[mapping].is_object() && !value[mapping].empty()) {
          extension[mapping] = value[mapping];
        }
      }
      operation[kIntegration] = extension;
    }
    doc["paths"][path][operation_name] = operation;
  }
  return doc;
}

}  // namespace haneul::gateway
