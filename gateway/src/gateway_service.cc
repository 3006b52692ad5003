// GatewayService: the apigatewayv2 management API, its durable store, and the data plane that
// serves routes (see gateway_service.h).
//
// Storage: one KvStore value per API under "gateway/apis/{apiId}", a JSON document holding the
// API and all of its routes, integrations (and MOCK integrations' integration responses),
// stages, deployments and authorizers in their wire shape (so Get* answers are the stored
// objects). Writes are synchronous (fsynced) because management calls are rare and users expect
// an acknowledged change to survive.
//
// Deployments are snapshots of the routes, integrations and authorizers; a stage serves the
// snapshot of its deployment, compiled once into a RouteTable and cached. A stage with
// AutoDeploy gets a new deployment after every change, as in API Gateway.
//
// Threading: everything runs on the loop thread, except HTTP_PROXY calls, which block in curl
// and so run on a small pool of worker threads that post their answers back to the loop.
#include "haneul/gateway/gateway_service.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "authorizer.h"
#include "access_log.h"
#include "events.h"
#include "mock.h"
#include "openapi.h"
#include "parameter_mapping.h"
#include "yaml_json.h"
#include "haneul/common/fast_json.h"
#include "haneul/common/http_client.h"
#include "haneul/common/ids.h"
#include "routes.h"

namespace haneul::gateway {

namespace {

using nlohmann::json;

constexpr std::string_view kKeyPrefix = "gateway/apis/";
constexpr size_t kPayloadLimit = 10 * 1024 * 1024;  // HTTP APIs: 10 MB
constexpr int kDefaultTimeoutMs = 30000;           // HTTP APIs: default and maximum

std::string NewId(size_t length) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string hex = RandomHex(length * 2);
  std::string id;
  for (size_t i = 0; i < length; ++i) {
    int byte = std::stoi(hex.substr(i * 2, 2), nullptr, 16);
    id += kAlphabet[byte % 36];
  }
  return id;
}

// "JKJaXmPLvHcESHA=": the shape of API Gateway's request ids (apigw-requestid).
std::string NewRequestId() {
  std::string hex = RandomHex(22);
  std::string bytes;
  for (size_t i = 0; i < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return Base64Encode(bytes);
}

std::string IsoNow() {
  // API Gateway's dates have second precision.
  int64_t now = NowUnixMillis();
  std::string text = IsoTimestamp(now - now % 1000);
  auto dot = text.find('.');
  return dot == std::string::npos ? text : text.substr(0, dot) + "Z";
}

HttpResponse ErrorResponse(int status, const std::string& type, const std::string& message) {
  HttpResponse response = HttpResponse::Json(status, json{{"message", message}}.dump());
  response.headers.Set("x-amzn-ErrorType", type);
  return response;
}
HttpResponse NotFound(const std::string& message) {
  return ErrorResponse(404, "NotFoundException", message);
}
HttpResponse BadRequest(const std::string& message) {
  return ErrorResponse(400, "BadRequestException", message);
}
HttpResponse Conflict(const std::string& message) {
  return ErrorResponse(409, "ConflictException", message);
}

// Data-plane errors: {"message": ...} with no error type, as API Gateway answers them.
HttpResponse RouteError(int status, const char* message) {
  return HttpResponse::Json(status, json{{"message", message}}.dump());
}

bool IsStringMap(const json& value) {
  if (!value.is_object()) return false;
  for (const auto& item : value) {
    if (!item.is_string()) return false;
  }
  return true;
}

// The Lambda function named by an integration or authorizer URI: a name, a function ARN, or
// API Gateway's "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations".
std::string FunctionFromUri(const std::string& uri) {
  static const std::string kFunctions = "/functions/";
  static const std::string kInvocations = "/invocations";
  auto at = uri.find(kFunctions);
  if (uri.starts_with("arn:aws:apigateway:") && at != std::string::npos &&
      uri.ends_with(kInvocations)) {
    return uri.substr(at + kFunctions.size(),
                      uri.size() - kInvocations.size() - at - kFunctions.size());
  }
  return uri;
}

// ${stageVariables.name} → the stage's value (empty when unset).
std::string SubstituteStageVariables(std::string text,
                                     const std::map<std::string, std::string>& variables) {
  static const std::string kOpen = "${stageVariables.";
  size_t at = 0;
  while ((at = text.find(kOpen, at)) != std::string::npos) {
    size_t close = text.find('}', at);
    if (close == std::string::npos) break;
    std::string name = text.substr(at + kOpen.size(), close - at - kOpen.size());
    auto it = variables.find(name);
    std::string value = it == variables.end() ? "" : it->second;
    text.replace(at, close - at + 1, value);
    at += value.size();
  }
  return text;
}

// "127.0.0.1:41602" / "[::1]:41602" → the address alone.
std::string SourceIp(const std::string& remote) {
  if (remote.starts_with("[")) {
    auto close = remote.find(']');
    return close == std::string::npos ? remote : remote.substr(1, close - 1);
  }
  auto colon = remote.find(':');
  if (colon != std::string::npos && remote.find(':', colon + 1) == std::string::npos) {
    return remote.substr(0, colon);
  }
  return remote;
}

bool HopByHop(std::string_view name) {
  static const char* kNames[] = {"connection", "keep-alive", "transfer-encoding", "te",
                                 "upgrade", "proxy-connection", "content-length", "host",
                                 "expect", "trailer"};
  for (const char* hop : kNames) {
    if (name.size() == std::strlen(hop) && strncasecmp(name.data(), hop, name.size()) == 0) {
      return true;
    }
  }
  return false;
}

// Runs blocking HTTP calls off the loop, one HttpClient (and its connections) per thread.
class ProxyPool {
 public:
  explicit ProxyPool(size_t threads) {
    for (size_t i = 0; i < std::max<size_t>(1, threads); ++i) {
      threads_.emplace_back([this] { Work(); });
    }
  }
  ~ProxyPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& thread : threads_) thread.join();
  }
  void Submit(std::function<void(HttpClient&)> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    wake_.notify_one();
  }

 private:
  void Work() {
    HttpClient client;
    while (true) {
      std::function<void(HttpClient&)> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
        if (stop_) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task(client);
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void(HttpClient&)>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

struct ApiRecord {
  json api;
  std::map<std::string, json> routes;
  std::map<std::string, json> integrations;
  std::map<std::string, json> stages;
  std::map<std::string, json> deployments;  // each with "_snapshot"
  std::map<std::string, json> authorizers;
  // MOCK integrations' integration responses: integrationId → integrationResponseId → object.
  std::map<std::string, std::map<std::string, json>> integration_responses;
};

json ToMapJson(const std::map<std::string, json>& items) {
  json out = json::object();
  for (const auto& [key, value] : items) out[key] = value;
  return out;
}
std::map<std::string, json> FromMapJson(const json& value) {
  std::map<std::string, json> out;
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) out[it.key()] = it.value();
  }
  return out;
}

// A deployment, ready to serve.
struct Compiled {
  explicit Compiled(const std::vector<std::string>& keys) : table(keys) {}
  RouteTable table;
  std::vector<json> routes;  // parallel to the table's keys
  std::map<std::string, json> integrations;
  std::map<std::string, json> authorizers;
  std::map<std::string, json> integration_responses;  // integrationId → array of responses
};

// One data-plane request in flight: answered once, by the integration or by the timeout.
struct Pending {
  std::shared_ptr<Responder> responder;
  std::unique_ptr<Timer> timer;
  std::string request_id;
  Headers extra_headers;  // CORS
  bool done = false;
  int64_t start_ms = 0;
  int64_t integration_start_ms = 0;
  // Access logging, when the stage has AccessLogSettings: the group, the format and the
  // $context values known so far.
  std::string log_group;
  std::string log_format;
  std::map<std::string, std::string> log_context;
};

}  // namespace

struct GatewayService::Impl {
  EventLoop& loop;
  KvStore& store;
  invoker::LambdaService& lambda;
  GatewayOptions options;
  std::string endpoint = "http://127.0.0.1:4747";
  std::map<std::string, ApiRecord> apis;
  std::map<std::string, std::shared_ptr<const Compiled>> compiled;  // "{apiId}/{deploymentId}"
  AuthorizerCache authorizer_cache;
  Router router;
  std::unique_ptr<ProxyPool> pool;

  Impl(EventLoop& l, KvStore& s, invoker::LambdaService& f, GatewayOptions o)
      : loop(l), store(s), lambda(f), options(std::move(o)) {}

  // ------------------------------------------------------------------------------------------
  // Storage.

  Status Load() {
    return store.Scan(kKeyPrefix, kKeyPrefix, [this](std::string_view key, std::string_view value) {
      json doc = json::parse(value, nullptr, false);
      if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != "haneul-gateway-api") {
        spdlog::warn("gateway: skipping unreadable record {}", std::string(key));
        return true;
      }
      ApiRecord record;
      record.api = doc["api"];
      record.routes = FromMapJson(doc["routes"]);
      record.integrations = FromMapJson(doc["integrations"]);
      record.stages = FromMapJson(doc["stages"]);
      record.deployments = FromMapJson(doc["deployments"]);
      record.authorizers = FromMapJson(doc["authorizers"]);
      for (const auto& [integration, responses] : FromMapJson(doc["integrationResponses"])) {
        record.integration_responses[integration] = FromMapJson(responses);
      }
      std::string id = record.api.value("apiId", "");
      if (!id.empty()) apis[id] = std::move(record);
      return true;
    });
  }

  Status Save(const std::string& api_id) {
    const ApiRecord& record = apis.at(api_id);
    json doc = {{"format", "haneul-gateway-api"},
                {"version", 1},
                {"api", record.api},
                {"routes", ToMapJson(record.routes)},
                {"integrations", ToMapJson(record.integrations)},
                {"stages", ToMapJson(record.stages)},
                {"deployments", ToMapJson(record.deployments)},
                {"authorizers", ToMapJson(record.authorizers)},
                {"integrationResponses", IntegrationResponsesJson(record)}};
    return store.Put(std::string(kKeyPrefix) + api_id, doc.dump(), true);
  }

  // Saves and answers: the stored object on success, 500 when the store failed.
  void SaveAndRespond(const std::string& api_id, const std::shared_ptr<Responder>& responder,
                      int status, const json& body) {
    Status saved = Save(api_id);
    if (!saved.ok()) {
      responder->Respond(ErrorResponse(500, "InternalServerError", saved.message()));
      return;
    }
    responder->Respond(HttpResponse::Json(status, body.dump()));
  }

  // ------------------------------------------------------------------------------------------
  // Deployments.

  static json IntegrationResponsesJson(const ApiRecord& record) {
    json out = json::object();
    for (const auto& [integration, responses] : record.integration_responses) {
      if (!responses.empty()) out[integration] = ToMapJson(responses);
    }
    return out;
  }

  json Snapshot(const ApiRecord& record) {
    return {{"routes", ToMapJson(record.routes)},
            {"integrations", ToMapJson(record.integrations)},
            {"authorizers", ToMapJson(record.authorizers)},
            {"integrationResponses", IntegrationResponsesJson(record)}};
  }

  std::string Deploy(ApiRecord& record, const std::string& description, bool auto_deployed) {
    std::string id = NewId(6);
    json deployment = {{"deploymentId", id},
                       {"createdDate", IsoNow()},
                       {"deploymentStatus", "DEPLOYED"},
                       {"autoDeployed", auto_deployed}};
    if (!description.empty()) deployment["description"] = description;
    deployment["_snapshot"] = Snapshot(record);
    record.deployments[id] = std::move(deployment);
    return id;
  }

  // After a change: every AutoDeploy stage moves to a fresh deployment; auto deployments no
  // stage uses any more are dropped (they would only grow the record).
  void AutoDeploy(ApiRecord& record) {
    bool any = false;
    for (auto& [name, stage] : record.stages) any = any || stage.value("autoDeploy", false);
    if (!any) return;
    std::string id = Deploy(record, "Automatic deployment triggered by changes to the Api configuration", true);
    for (auto& [name, stage] : record.stages) {
      if (stage.value("autoDeploy", false)) {
        stage["deploymentId"] = id;
        stage["lastUpdatedDate"] = IsoNow();
        stage["lastDeploymentStatusMessage"] = "Successfully deployed stage with deployment ID '" + id + "'";
      }
    }
    for (auto it = record.deployments.begin(); it != record.deployments.end();) {
      bool used = false;
      for (auto& [name, stage] : record.stages) used = used || stage.value("deploymentId", "") == it->first;
      if (!used && it->second.value("autoDeployed", false)) {
        compiled.erase(record.api.value("apiId", "") + "/" + it->first);
        it = record.deployments.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::shared_ptr<const Compiled> GetCompiled(const std::string& api_id, const json& deployment) {
    std::string key = api_id + "/" + deployment.value("deploymentId", "");
    auto found = compiled.find(key);
    if (found != compiled.end()) return found->second;
    const json& snapshot = deployment["_snapshot"];
    std::vector<std::string> keys;
    std::vector<json> routes;
    if (snapshot.contains("routes")) {
      for (const auto& route : snapshot["routes"]) {
        keys.push_back(route.value("routeKey", ""));
        routes.push_back(route);
      }
    }
    auto made = std::make_shared<Compiled>(keys);
    made->routes = std::move(routes);
    if (snapshot.contains("integrations")) made->integrations = FromMapJson(snapshot["integrations"]);
    if (snapshot.contains("authorizers")) made->authorizers = FromMapJson(snapshot["authorizers"]);
    if (snapshot.contains("integrationResponses")) {
      for (const auto& [integration, responses] : FromMapJson(snapshot["integrationResponses"])) {
        json list = json::array();
        for (const auto& response : responses) list.push_back(response);
        made->integration_responses[integration] = std::move(list);
      }
    }
    compiled[key] = made;
    return made;
  }

  // ------------------------------------------------------------------------------------------
  // Management API.

  std::string ApiEndpoint(const std::string& api_id) const {
    return endpoint + "/_api/" + api_id;
  }

  static json PublicDeployment(const json& deployment) {
    json out = deployment;
    out.erase("_snapshot");
    return out;
  }

  static Result<json> ParseBody(const HttpRequest& request) {
    if (request.body.empty()) return json::object();
    json body = json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return Status::InvalidArgument("Invalid request body: not a JSON object");
    }
    return body;
  }

  // Validates the fields shared by CreateApi and UpdateApi.
  static Status ValidateApiFields(const json& body) {
    if (body.contains("name") && (!body["name"].is_string() || body["name"].get<std::string>().empty() ||
                                  body["name"].get<std::string>().size() > 128)) {
      return Status::InvalidArgument("Invalid API name");
    }
    if (body.contains("corsConfiguration") && !body["corsConfiguration"].is_null()) {
      const json& cors = body["corsConfiguration"];
      if (!cors.is_object()) return Status::InvalidArgument("Invalid corsConfiguration");
      for (const char* list : {"allowHeaders", "allowMethods", "allowOrigins", "exposeHeaders"}) {
        if (cors.contains(list)) {
          if (!cors[list].is_array()) return Status::InvalidArgument(std::string("Invalid cors ") + list);
          for (const auto& item : cors[list]) {
            if (!item.is_string()) return Status::InvalidArgument(std::string("Invalid cors ") + list);
          }
        }
      }
      if (cors.contains("maxAge") && !cors["maxAge"].is_number_integer()) {
        return Status::InvalidArgument("Invalid cors maxAge");
      }
      if (cors.contains("allowCredentials") && cors.value("allowCredentials", false)) {
        for (const auto& origin : cors.value("allowOrigins", json::array())) {
          if (origin == "*") {
            return Status::InvalidArgument(
                "allow-credentials is not supported when allow-origin is *");
          }
        }
      }
    }
    if (body.contains("description") && !body["description"].is_string()) {
      return Status::InvalidArgument("Invalid description");
    }
    return Status::Ok();
  }

  ApiRecord* FindApi(const std::string& api_id, const std::shared_ptr<Responder>& responder) {
    auto it = apis.find(api_id);
    if (it == apis.end()) {
      responder->Respond(NotFound("Invalid API identifier specified " + options.account_id + ":" + api_id));
      return nullptr;
    }
    return &it->second;
  }

  Status ValidateIntegration(json& integration, bool creating) {
    std::string type = integration.value("integrationType", "");
    if (type == "MOCK") return ValidateMockIntegration(integration, creating);
    if (type != "AWS_PROXY" && type != "HTTP_PROXY") {
      return Status::InvalidArgument("Unsupported integration type " + type +
                                     " for HTTP APIs (use AWS_PROXY, HTTP_PROXY or MOCK)");
    }
    if (!integration.contains("integrationUri") || !integration["integrationUri"].is_string() ||
        integration["integrationUri"].get<std::string>().empty()) {
      return Status::InvalidArgument("IntegrationUri is required for " + type + " integrations");
    }
    std::string uri = integration["integrationUri"];
    if (integration.contains("timeoutInMillis")) {
      const json& timeout = integration["timeoutInMillis"];
      if (!timeout.is_number_integer() || timeout.get<int>() < 50 || timeout.get<int>() > 30000) {
        return Status::InvalidArgument("Timeout must be between 50 ms and 30000 ms");
      }
    } else if (creating) {
      integration["timeoutInMillis"] = kDefaultTimeoutMs;
    }
    if (type == "AWS_PROXY") {
      if (!integration.contains("payloadFormatVersion")) integration["payloadFormatVersion"] = "2.0";
      std::string version = integration.value("payloadFormatVersion", "");
      if (version != "1.0" && version != "2.0") {
        return Status::InvalidArgument("Invalid payload format version " + version +
                                       ": must be 1.0 or 2.0");
      }
      if (!integration.contains("integrationMethod")) integration["integrationMethod"] = "POST";
    } else {
      if (!uri.starts_with("http://") && !uri.starts_with("https://")) {
        return Status::InvalidArgument("Invalid HTTP endpoint specified for URI");
      }
      if (!integration.contains("payloadFormatVersion")) integration["payloadFormatVersion"] = "1.0";
      if (integration.value("payloadFormatVersion", "") != "1.0") {
        return Status::InvalidArgument("HTTP_PROXY integrations support payload format version 1.0 only");
      }
      if (!integration.contains("integrationMethod")) {
        return Status::InvalidArgument("IntegrationMethod is required for HTTP_PROXY integrations");
      }
    }
    if (integration.contains("requestParameters") && !integration["requestParameters"].is_null() &&
        !integration["requestParameters"].empty()) {
      if (type != "HTTP_PROXY") {
        // API Gateway maps requests for HTTP and AWS service integrations; haneul for HTTP_PROXY.
        return Status::InvalidArgument("haneul applies RequestParameters to HTTP_PROXY integrations only");
      }
      HANEUL_RETURN_IF_ERROR(ValidateRequestParameters(integration["requestParameters"]));
    }
    if (integration.contains("responseParameters") && !integration["responseParameters"].is_null()) {
      HANEUL_RETURN_IF_ERROR(ValidateResponseParameters(integration["responseParameters"]));
    }
    if (!integration.contains("connectionType")) integration["connectionType"] = "INTERNET";
    return Status::Ok();
  }

  // MOCK on an HTTP API (haneul's extension, REST's semantics; see mock.h): no URI, no payload
  // format; RequestTemplates by content type.
  static Status ValidateMockIntegration(json& integration, bool creating) {
    if (integration.contains("requestTemplates") && !integration["requestTemplates"].is_null() &&
        !IsStringMap(integration["requestTemplates"])) {
      return Status::InvalidArgument("Invalid requestTemplates: a map of content type to template");
    }
    if (integration.contains("integrationUri") && !integration["integrationUri"].is_null() &&
        !integration["integrationUri"].is_string()) {
      return Status::InvalidArgument("Invalid integrationUri");
    }
    if (integration.contains("templateSelectionExpression") &&
        !integration["templateSelectionExpression"].is_string()) {
      return Status::InvalidArgument("Invalid templateSelectionExpression");
    }
    if (integration.contains("passthroughBehavior")) {
      std::string behavior = integration.value("passthroughBehavior", "");
      if (behavior != "WHEN_NO_MATCH" && behavior != "NEVER" && behavior != "WHEN_NO_TEMPLATES") {
        return Status::InvalidArgument("Invalid passthroughBehavior " + behavior);
      }
    }
    if (integration.contains("timeoutInMillis")) {
      const json& timeout = integration["timeoutInMillis"];
      if (!timeout.is_number_integer() || timeout.get<int>() < 50 || timeout.get<int>() > 30000) {
        return Status::InvalidArgument("Timeout must be between 50 ms and 30000 ms");
      }
    } else if (creating) {
      integration["timeoutInMillis"] = kDefaultTimeoutMs;
    }
    if (creating && !integration.contains("passthroughBehavior")) {
      integration["passthroughBehavior"] = "WHEN_NO_MATCH";
    }
    if (!integration.contains("connectionType")) integration["connectionType"] = "INTERNET";
    return Status::Ok();
  }

  static Status ValidateIntegrationResponse(const json& response) {
    if (!response.contains("integrationResponseKey") || !response["integrationResponseKey"].is_string()) {
      return Status::InvalidArgument("IntegrationResponseKey is required");
    }
    if (!ValidIntegrationResponseKey(response["integrationResponseKey"].get<std::string>())) {
      return Status::InvalidArgument("Invalid IntegrationResponseKey " +
                                     response["integrationResponseKey"].get<std::string>() +
                                     ": $default or /regex/");
    }
    if (response.contains("responseTemplates") && !response["responseTemplates"].is_null() &&
        !IsStringMap(response["responseTemplates"])) {
      return Status::InvalidArgument("Invalid responseTemplates: a map of content type to template");
    }
    if (response.contains("responseParameters") && !response["responseParameters"].is_null() &&
        !IsStringMap(response["responseParameters"])) {
      return Status::InvalidArgument("Invalid responseParameters: a map of strings");
    }
    if (response.contains("contentHandlingStrategy")) {
      std::string strategy = response.value("contentHandlingStrategy", "");
      if (strategy != "CONVERT_TO_BINARY" && strategy != "CONVERT_TO_TEXT") {
        return Status::InvalidArgument("Invalid contentHandlingStrategy " + strategy);
      }
    }
    return Status::Ok();
  }

  Status ValidateRoute(const ApiRecord& record, const json& route, const std::string& route_id) {
    if (!route.contains("routeKey") || !route["routeKey"].is_string()) {
      return Status::InvalidArgument("RouteKey is required");
    }
    std::string key = route["routeKey"];
    auto parsed = ParseRouteKey(key);
    if (!parsed.ok()) return parsed.status();
    if (route.contains("target") && !route["target"].is_null()) {
      if (!route["target"].is_string()) return Status::InvalidArgument("Invalid target");
      std::string target = route["target"];
      if (!target.starts_with("integrations/") ||
          !record.integrations.count(target.substr(std::string("integrations/").size()))) {
        return Status::InvalidArgument("Invalid target " + target +
                                       ": must be integrations/{integrationId} of this API");
      }
    }
    std::string type = route.value("authorizationType", "NONE");
    if (type == "AWS_IAM") {
      // Refused rather than served unchecked: haneul does not verify SigV4 on routes.
      return Status::InvalidArgument("Authorization type AWS_IAM is not supported by haneul");
    }
    if (type != "NONE" && type != "CUSTOM" && type != "JWT") {
      return Status::InvalidArgument("Invalid authorization type " + type);
    }
    if (type == "CUSTOM" || type == "JWT") {
      std::string authorizer = route.value("authorizerId", "");
      auto it = record.authorizers.find(authorizer);
      if (it == record.authorizers.end()) {
        return Status::InvalidArgument("Invalid authorizer id " + authorizer);
      }
      std::string kind = it->second.value("authorizerType", "");
      if ((type == "CUSTOM") != (kind == "REQUEST" || kind == "TOKEN")) {
        return Status::InvalidArgument("Authorization type " + type +
                                       " does not match the authorizer's type " + kind);
      }
    }
    for (const auto& [id, other] : record.routes) {
      if (id != route_id && other.value("routeKey", "") == key) {
        return Status::AlreadyExists("Unable to create route " + key +
                                     ". A route with that key already exists for this API");
      }
    }
    return Status::Ok();
  }

  static HttpResponse FromStatus(const Status& status) {
    if (status.code() == Status::Code::kAlreadyExists) return Conflict(status.message());
    if (status.code() == Status::Code::kNotFound) return NotFound(status.message());
    return BadRequest(status.message());
  }

  void AddRoutes() {
    using Params = Router::Params;
    using Resp = std::shared_ptr<Responder>;
    router.Add("POST", "/v2/apis", [this](HttpRequest& r, const Params&, Resp p) { CreateApi(r, p); });
    router.Add("PUT", "/v2/apis", [this](HttpRequest& r, const Params&, Resp p) { ImportApi(r, p, ""); });
    router.Add("GET", "/v2/apis", [this](HttpRequest& r, const Params&, Resp p) {
      std::vector<std::pair<std::string, const json*>> items;
      for (const auto& [id, record] : apis) items.emplace_back(id, &record.api);
      ListPage(items, r, p, [](const json& api) { return api; });
    });
    router.Add("GET", "/v2/apis/{apiId}", [this](HttpRequest&, const Params& a, Resp p) {
      if (ApiRecord* record = FindApi(a.at("apiId"), p)) {
        p->Respond(HttpResponse::Json(200, record->api.dump()));
      }
    });
    router.Add("PUT", "/v2/apis/{apiId}", [this](HttpRequest& r, const Params& a, Resp p) {
      if (FindApi(a.at("apiId"), p)) ImportApi(r, p, a.at("apiId"));
    });
    router.Add("PATCH", "/v2/apis/{apiId}", [this](HttpRequest& r, const Params& a, Resp p) { UpdateApi(r, a.at("apiId"), p); });
    router.Add("DELETE", "/v2/apis/{apiId}", [this](HttpRequest&, const Params& a, Resp p) {
      std::string id = a.at("apiId");
      if (!FindApi(id, p)) return;
      Status deleted = store.Delete(std::string(kKeyPrefix) + id, true);
      if (!deleted.ok()) {
        p->Respond(ErrorResponse(500, "InternalServerError", deleted.message()));
        return;
      }
      for (auto it = compiled.begin(); it != compiled.end();) {
        it = it->first.starts_with(id + "/") ? compiled.erase(it) : std::next(it);
      }
      apis.erase(id);
      p->Respond(HttpResponse{204, {}, ""});
    });
    router.Add("GET", "/v2/apis/{apiId}/exports/{specification}", [this](HttpRequest& r, const Params& a, Resp p) {
      ExportApi(r, a.at("apiId"), a.at("specification"), p);
    });

    // Routes.
    router.Add("POST", "/v2/apis/{apiId}/routes", [this](HttpRequest& r, const Params& a, Resp p) {
      ApiRecord* record = FindApi(a.at("apiId"), p);
      if (!record) return;
      auto body = ParseBody(r);
      if (!body.ok()) return p->Respond(BadRequest(body.status().message()));
      json route = *body;
      route.erase("apiId");
      if (!route.contains("authorizationType")) route["authorizationType"] = "NONE";
      if (!route.contains("apiKeyRequired")) route["apiKeyRequired"] = false;
      Status valid = ValidateRoute(*record, route, "");
      if (!valid.ok()) return p->Respond(FromStatus(valid));
      std::string id = NewId(7);
      route["routeId"] = id;
      record->routes[id] = route;
      AutoDeploy(*record);
      SaveAndRespond(a.at("apiId"), p, 201, route);
    });
    router.Add("GET", "/v2/apis/{apiId}/routes", [this](HttpRequest& r, const Params& a, Resp p) {
      if (ApiRecord* record = FindApi(a.at("apiId"), p)) ListItems(record->routes, r, p);
    });
    router.Add("GET", "/v2/apis/{apiId}/routes/{routeId}", [this](HttpRequest&, const Params& a, Resp p) {
      GetChild(a, "routes", "routeId", "Route", p);
    });
    router.Add("PATCH", "/v2/apis/{apiId}/routes/{routeId}", [this](HttpRequest& r, const Params& a, Resp p) {
      ApiRecord* record = FindApi(a.at("apiId"), p);
      if (!record) return;
      auto it = record->routes.find(a.at("routeId"));
      if (it == record->routes.end()) return p->Respond(NotFound("Invalid Route identifier specified " + a.at("routeId")));
      auto body = ParseBody(r);
      if (!body.ok()) return p->Respond(BadRequest(body.status().message()));
      json route = it->second;
      for (auto field = body->begin(); field != body->end(); ++field) {
        if (field.key() != "apiId" && field.key() != "routeId") route[field.key()] = field.value();
      }
      Status valid = ValidateRoute(*record, route, it->first);
      if (!valid.ok()) return p->Respond(FromStatus(valid));
      it->second = route;
      AutoDeploy(*record);
      SaveAndRespond(a.at("apiId"), p, 200, route);
    });
    router.Add("DELETE", "/v2/apis/{apiId}/routes/{routeId}", [this](HttpRequest&, const Params& a, Resp p) {
      DeleteChild(a, "routes", "routeId", "Route", p);
    });

    // Integrations.
    router.Add("POST", "/v2/apis/{apiId}/integrations", [this](HttpRequest& r, const Params& a, Resp p) {
      ApiRecord* record = FindApi(a.at("apiId"), p);
      if (!record) return;
      auto body = ParseBody(r);
      if (!body.ok()) return p->Respond(BadRequest(body.status().message()));
      json integration = *body;
      integration.erase("apiId");
      Status valid = ValidateIntegration(integration, true);
      if (!valid.ok()) return p->Respond(FromStatus(valid));
      std::string id = NewId(7);
      integration["integrationId"] = id;
      record->integrations[id] = integration;
      AutoDeploy(*record);
      SaveAndRespond(a.at("apiId"), p, 201, integration);
    });
    router.Add("GET", "/v2/apis/{apiId}/integrations", [this](HttpRequest& r, const Params& a, Resp p) {
      if (ApiRecord* record = FindApi(a.at("apiId"), p)) ListItems(record->integrations, r, p);
    });
    router.Add("GET", "/v2/apis/{apiId}/integrations/{integrationId}", [this](HttpRequest&, const Params& a, Resp p) {
      GetChild(a, "integrations", "integrationId", "Integration", p);
    });
    router.Add("PATCH", "/v2/apis/{apiId}/integrations/{integrationId}", [this](HttpRequest& r, const Params& a, Resp p) {
      ApiRecord* record = FindApi(a.at("apiId"), p);
      if (!record) return;
      auto it = record->integrations.find(a.at("integrationId"));
      if (it == record->integrations.end()) return p->Respond(NotFound("Invalid Integration identifier specified " + a.at("integrationId")));
      auto body = ParseBody(r);
      if (!body.ok()) return p->Respond(BadRequest(body.status().message()));
      json integration = it->second;
      for (auto field = body->begin(); field != body->end(); ++field) {
        if (field.key() != "apiId" && field.key() != "integrationId") integration[field.key()] = field.value();
      }
      Status valid = ValidateIntegration(integration, false);
      if (!valid.ok()) return p->Respond(FromStatus(valid));
      it->second = integration;
      AutoDeploy(*record);
      SaveAndRespond(a.at("apiId"), p, 200, integration);
    });
    router.Add("DELETE", "/v2/apis/{apiId}/integrations/{integrationId}", [this](HttpRequest&, const Params& a, Resp p) {
      ApiRecord* record = FindApi(a.at("apiId"), p);
      if (!record) return;
      std::string target = "integrations/" + a.at("integrationId");
      for (const auto& [id, route] : record->routes) {
        if (route.value("target", "") == target) {
          return p->Respond(Conflict("Cannot delete integration " + a.at("integrationId") +
                                     ": route " + id + " uses it"));
        }
      }
      if (record->integrations.count(a.at("integrationId"))) {
        record->integration_responses.erase(a.at("integrationId"));
      }
      DeleteChild(a, "integrations", "integrationId", "Integration", p);
    });
    AddIntegrationResponseRoutes();

    // Stages.
    router.Add("POST", "/v2/apis/{apiId}/stages", [this](HttpRequest& r, const Params& a, Resp p) {
      ApiRecord* record = FindApi(a.at("apiId"), p);
      if (!record) return;
      auto body = ParseBody(r);
      if (!body.ok()) return p->Respond(BadRequest(body.status().message()));
      json stage = *body;
      stage.erase("apiId");
      std::string name = stage.value("stageName", "");
      if (name.empty() || name.size() > 128 || name.find('/') != std::string::npos) {
        return p->Respond(BadRequest("Invalid stage name " + name));
      }
      if (record->stages.count(name)) return p->Respond(Conflict("Stage already exists"));
      Status valid = ValidateStage(*record, stage);
      if (!valid.ok()) return p->Respond(FromStatus(valid));
      if (!stage.contains("autoDeploy")) stage["autoDeploy"] = false;
      if (!stage.contains("stageVariables")) stage["stageVariables"] = json::object();
      stage["createdDate"] = IsoNow();
      stage["lastUpdatedDate"] = stage["createdDate"];
      stage["defaultRouteSettings"] = stage.value("defaultRouteSettings", json{{"detailedMetricsEnabled", false}});
      stage["routeSettings"] = stage.value("routeSettings", json::object());
      stage["tags"] = stage.value("tags", json::object());
      record->stages[name] = stage;
      if (stage["autoDeploy"].get<bool>()) AutoDeploy(*record);
      SaveAndRespond(a.at("apiId"), p, 201, record->stages[name]);
    });
    router.Add("GET", "/v2/apis/{apiId}/stages", [this](HttpRequest& r, const Params& a, Resp p) {
      if (ApiRecord* record = FindApi(a.at("apiId"), p)) ListItems(record->stages, r, p);
    });
    router.Add("GET", "/v2/apis/{apiId}/stages/{stageName}", [this](HttpRequest&, const Params& a, Resp p) {
      GetChild(a, "stages", "stageName", "Stage", p);
    });
    router.Add("PATCH", "/v2/apis/{apiId}/stages/{stageName}", [this](HttpRequest& r, const Params& a, Resp p) {
      ApiRecord* record = FindApi(a.at("apiId"), p);
      if (!record) return;
      auto it = record->stages.find(a.at("stageName"));
      if (it == record->stages.end()) return p->Respond(NotFound("Invalid stage identifier specified"));
      auto body = ParseBody(r);
      if (!body.ok()) return p->Respond(BadRequest(body.status().message()));
      json stage = it->second;
      for (auto field = body->begin(); field != body->end(); ++field) {
        if (field.key() != "apiId" && field.key() != "stageName") stage[field.key()] = field.value();
      }
      Status valid = ValidateStage(*record, stage);
      if (!valid.ok()) return p->Respond(FromStatus(valid));
      bool became_auto = stage.value("autoDeploy", false) && !it->second.value("autoDeploy", false);
      stage["lastUpdatedDate"] = IsoNow();
      it->second = stage;
      if (became_auto) AutoDeploy(*record);
      SaveAndRespond(a.at("apiId"), p, 200, it->second);
    });
    router.Add("DELETE", "/v2/apis/{apiId}/stages/{stageName}", [this](HttpRequest&, const Params& a, Resp p) {
      DeleteChild(a, "stages", "stageName", "Stage", p);
    });

    // Deployments.
    router.Add("POST", "/v2/apis/{apiId}/deployments", [this](HttpRequest& r, const Params& a, Resp p) {
      ApiRecord* record = FindApi(a.at("apiId"), p);
      if (!record) return;
      auto body = ParseBody(r);
      if (!body.ok()) return p->Respond(BadRequest(body.status().message()));
      std::string stage_name = body->value("stageName", "");
      if (!stage_name.empty()) {
        auto stage = record->stages.find(stage_name);
        if (stage == record->stages.end()) return p->Respond(NotFound("Invalid stage identifier specified"));
        if (stage->second.value("autoDeploy", false)) {
          return p->Respond(BadRequest("Stage " + stage_name + " has AutoDeploy enabled"));
        }
      }
      std::string id = Deploy(*record, body->value("description", ""), false);
      if (!stage_name.empty()) {
        json& stage = record->stages[stage_name];
        stage["deploymentId"] = id;
        stage["lastUpdatedDate"] = IsoNow();
      }
      SaveAndRespond(a.at("apiId"), p, 201, PublicDeployment(record->deployments[id]));
    });
    router.Add("GET", "/v2/apis/{apiId}/deployments", [this](HttpRequest& r, const Params& a, Resp p) {
      ApiRecord* record = FindApi(a.at("apiId"), p);
      if (!record) return;
      std::vector<std::pair<std::string, const json*>> items;
      for (const auto& [id, deployment] : record->deployments) items.emplace_back(id, &deployment);
      ListPage(items, r, p, [](const json& deployment) { return PublicDeployment(deployment); });
    });
    router.Add("GET", "/v2/apis/{apiId}/deployments/{deploymentId}", [this](HttpRequest&, const Params& a, Resp p) {
      ApiRecord* record = FindApi(a.at("apiId"), p);
      if (!record) return;
      auto it = record->deployments.find(a.at("deploymentId"));
      if (it == record->deployments.end()) return p->Respond(NotFound("Invalid Deployment identifier specified " + a.at("deploymentId")));
      p->Respond(HttpResponse::Json(200, PublicDeployment(it->second).dump()));
    });
    router.Add("DELETE", "/v2/apis/{apiId}/deployments/{deploymentId}", [this](HttpRequest&, const Params& a, Resp p) {
      ApiRecord* record = FindApi(a.at("apiId"), p);
      if (!record) return;
      for (const auto& [name, stage] : record->stages) {
        if (stage.value("deploymentId", "") == a.at("deploymentId")) {
          return p->Respond(BadRequest("Active stages pointing to this deployment must be moved or deleted"));
        }
      }
      compiled.erase(a.at("apiId") + "/" + a.at("deploymentId"));
      DeleteChild(a, "deployments", "deploymentId", "Deployment", p);
    });

    // Authorizers.
    router.Add("POST", "/v2/apis/{apiId}/authorizers", [this](HttpRequest& r, const Params& a, Resp p) {
      ApiRecord* record = FindApi(a.at("apiId"), p);
      if (!record) return;
      auto body = ParseBody(r);
      if (!body.ok()) return p->Respond(BadRequest(body.status().message()));
      json authorizer = *body;
      authorizer.erase("apiId");
      Status valid = ValidateAuthorizer(authorizer, true);
      if (!valid.ok()) return p->Respond(FromStatus(valid));
      std::string id = NewId(6);
      authorizer["authorizerId"] = id;
      record->authorizers[id] = authorizer;
      AutoDeploy(*record);
      SaveAndRespond(a.at("apiId"), p, 201, authorizer);
    });
    router.Add("GET", "/v2/apis/{apiId}/authorizers", [this](HttpRequest& r, const Params& a, Resp p) {
      if (ApiRecord* record = FindApi(a.at("apiId"), p)) ListItems(record->authorizers, r, p);
    });
    router.Add("GET", "/v2/apis/{apiId}/authorizers/{authorizerId}", [this](HttpRequest&, const Params& a, Resp p) {
      GetChild(a, "authorizers", "authorizerId", "Authorizer", p);
    });
    router.Add("PATCH", "/v2/apis/{apiId}/authorizers/{authorizerId}", [this](HttpRequest& r, const Params& a, Resp p) {
      ApiRecord* record = FindApi(a.at("apiId"), p);
      if (!record) return;
      auto it = record->authorizers.find(a.at("authorizerId"));
      if (it == record->authorizers.end()) return p->Respond(NotFound("Invalid Authorizer identifier specified " + a.at("authorizerId")));
      auto body = ParseBody(r);
      if (!body.ok()) return p->Respond(BadRequest(body.status().message()));
      json authorizer = it->second;
      for (auto field = body->begin(); field != body->end(); ++field) {
        if (field.key() != "apiId" && field.key() != "authorizerId") authorizer[field.key()] = field.value();
      }
      Status valid = ValidateAuthorizer(authorizer, false);
      if (!valid.ok()) return p->Respond(FromStatus(valid));
      it->second = authorizer;
      authorizer_cache.Clear();
      AutoDeploy(*record);
      SaveAndRespond(a.at("apiId"), p, 200, authorizer);
    });
    router.Add("DELETE", "/v2/apis/{apiId}/authorizers/{authorizerId}", [this](HttpRequest&, const Params& a, Resp p) {
      ApiRecord* record = FindApi(a.at("apiId"), p);
      if (!record) return;
      for (const auto& [id, route] : record->routes) {
        if (route.value("authorizerId", "") == a.at("authorizerId")) {
          return p->Respond(Conflict("Cannot delete authorizer " + a.at("authorizerId") +
                                     ": route " + id + " uses it"));
        }
      }
      DeleteChild(a, "authorizers", "authorizerId", "Authorizer", p);
    });
  }

  // Integration responses (CreateIntegrationResponse ...): for MOCK integrations, where the
  // mock's status selects one (see mock.h).
  void AddIntegrationResponseRoutes() {
    using Params = Router::Params;
    using Resp = std::shared_ptr<Responder>;
    static const std::string kBase = "/v2/apis/{apiId}/integrations/{integrationId}/integrationresponses";
    // The integration, or nullptr after answering 404.
    auto find = [this](const Params& a, const Resp& p) -> ApiRecord* {
      ApiRecord* record = FindApi(a.at("apiId"), p);
      if (!record) return nullptr;
      if (!record->integrations.count(a.at("integrationId"))) {
        p->Respond(NotFound("Invalid Integration identifier specified " + a.at("integrationId")));
        return nullptr;
      }
      return record;
    };
    router.Add("POST", kBase, [this, find](HttpRequest& r, const Params& a, Resp p) {
      ApiRecord* record = find(a, p);
      if (!record) return;
      const json& integration = record->integrations[a.at("integrationId")];
      if (integration.value("integrationType", "") != "MOCK") {
        return p->Respond(BadRequest("Integration responses are supported for MOCK integrations only"));
      }
      auto body = ParseBody(r);
      if (!body.ok()) return p->Respond(BadRequest(body.status().message()));
      json response = *body;
      response.erase("apiId");
      response.erase("integrationId");
      Status valid = ValidateIntegrationResponse(response);
      if (!valid.ok()) return p->Respond(FromStatus(valid));
      auto& responses = record->integration_responses[a.at("integrationId")];
      for (const auto& [id, other] : responses) {
        if (other.value("integrationResponseKey", "") == response["integrationResponseKey"]) {
          return p->Respond(Conflict("An integration response with key " +
                                     response["integrationResponseKey"].get<std::string>() +
                                     " already exists for this integration"));
        }
      }
      std::string id = NewId(6);
      response["integrationResponseId"] = id;
      responses[id] = response;
      AutoDeploy(*record);
      SaveAndRespond(a.at("apiId"), p, 201, response);
    });
    router.Add("GET", kBase, [this, find](HttpRequest& r, const Params& a, Resp p) {
      if (ApiRecord* record = find(a, p)) {
        ListItems(record->integration_responses[a.at("integrationId")], r, p);
      }
    });
    router.Add("GET", kBase + "/{integrationResponseId}", [find](HttpRequest&, const Params& a, Resp p) {
      ApiRecord* record = find(a, p);
      if (!record) return;
      auto& responses = record->integration_responses[a.at("integrationId")];
      auto it = responses.find(a.at("integrationResponseId"));
      if (it == responses.end()) {
        return p->Respond(NotFound("Invalid IntegrationResponse identifier specified " + a.at("integrationResponseId")));
      }
      p->Respond(HttpResponse::Json(200, it->second.dump()));
    });
    router.Add("PATCH", kBase + "/{integrationResponseId}", [this, find](HttpRequest& r, const Params& a, Resp p) {
      ApiRecord* record = find(a, p);
      if (!record) return;
      auto& responses = record->integration_responses[a.at("integrationId")];
      auto it = responses.find(a.at("integrationResponseId"));
      if (it == responses.end()) {
        return p->Respond(NotFound("Invalid IntegrationResponse identifier specified " + a.at("integrationResponseId")));
      }
      auto body = ParseBody(r);
      if (!body.ok()) return p->Respond(BadRequest(body.status().message()));
      json response = it->second;
      for (auto field = body->begin(); field != body->end(); ++field) {
        if (field.key() != "apiId" && field.key() != "integrationId" && field.key() != "integrationResponseId") {
          response[field.key()] = field.value();
        }
      }
      Status valid = ValidateIntegrationResponse(response);
      if (!valid.ok()) return p->Respond(FromStatus(valid));
      for (const auto& [id, other] : responses) {
        if (id != it->first && other.value("integrationResponseKey", "") == response["integrationResponseKey"]) {
          return p->Respond(Conflict("An integration response with that key already exists"));
        }
      }
      it->second = response;
      AutoDeploy(*record);
      SaveAndRespond(a.at("apiId"), p, 200, response);
    });
    router.Add("DELETE", kBase + "/{integrationResponseId}", [this, find](HttpRequest&, const Params& a, Resp p) {
      ApiRecord* record = find(a, p);
      if (!record) return;
      auto& responses = record->integration_responses[a.at("integrationId")];
      if (!responses.erase(a.at("integrationResponseId"))) {
        return p->Respond(NotFound("Invalid IntegrationResponse identifier specified " + a.at("integrationResponseId")));
      }
      AutoDeploy(*record);
      Status saved = Save(a.at("apiId"));
      if (!saved.ok()) return p->Respond(ErrorResponse(500, "InternalServerError", saved.message()));
      p->Respond(HttpResponse{204, {}, ""});
    });
  }

  Status ValidateStage(const ApiRecord& record, const json& stage) {
    if (stage.contains("stageVariables") && !IsStringMap(stage["stageVariables"])) {
      return Status::InvalidArgument("Invalid stage variables: values must be strings");
    }
    if (stage.contains("autoDeploy") && !stage["autoDeploy"].is_boolean()) {
      return Status::InvalidArgument("Invalid autoDeploy");
    }
    if (stage.contains("deploymentId") && !stage["deploymentId"].is_null()) {
      if (!stage["deploymentId"].is_string() || !record.deployments.count(stage["deploymentId"])) {
        return Status::InvalidArgument("Invalid deployment identifier specified");
      }
    }
    return Status::Ok();
  }

  Status ValidateAuthorizer(json& authorizer, bool creating) {
    std::string name = authorizer.value("name", "");
    if (name.empty()) return Status::InvalidArgument("Authorizer name is required");
    std::string type = authorizer.value("authorizerType", "");
    if (type == "REQUEST") {
      if (authorizer.value("authorizerUri", "").empty()) {
        return Status::InvalidArgument("AuthorizerUri is required for REQUEST authorizers");
      }
      if (!authorizer.contains("authorizerPayloadFormatVersion")) {
        return Status::InvalidArgument(
            "AuthorizerPayloadFormatVersion is required for REQUEST authorizers");
      }
      std::string version = authorizer.value("authorizerPayloadFormatVersion", "");
      if (version != "1.0" && version != "2.0") {
        return Status::InvalidArgument("Invalid authorizer payload format version " + version);
      }
      if (authorizer.value("enableSimpleResponses", false) && version != "2.0") {
        return Status::InvalidArgument("Simple responses require payload format version 2.0");
      }
      if (creating && !authorizer.contains("authorizerResultTtlInSeconds")) {
        authorizer["authorizerResultTtlInSeconds"] = 0;
      }
    } else if (type == "TOKEN") {
      // haneul's extension on HTTP APIs with REST's semantics: one header carries the token.
      if (authorizer.value("authorizerUri", "").empty()) {
        return Status::InvalidArgument("AuthorizerUri is required for TOKEN authorizers");
      }
      if (authorizer.value("enableSimpleResponses", false)) {
        return Status::InvalidArgument("TOKEN authorizers answer with an IAM policy, not simple responses");
      }
      if (!authorizer.contains("identitySource")) {
        authorizer["identitySource"] = json::array({"$request.header.Authorization"});
      }
      const json& sources = authorizer["identitySource"];
      if (!sources.is_array() || sources.size() != 1 || !sources[0].is_string() ||
          !sources[0].get<std::string>().starts_with("$request.header.") ||
          sources[0].get<std::string>().size() == std::string("$request.header.").size()) {
        return Status::InvalidArgument(
            "A TOKEN authorizer's identity source is a single header: $request.header.NAME");
      }
      if (authorizer.contains("identityValidationExpression") &&
          !authorizer["identityValidationExpression"].is_null()) {
        if (!authorizer["identityValidationExpression"].is_string() ||
            !ValidIdentityValidationExpression(authorizer["identityValidationExpression"])) {
          return Status::InvalidArgument("Invalid identityValidationExpression: not a regular expression");
        }
      }
      // REST's default TTL for TOKEN authorizers.
      if (creating && !authorizer.contains("authorizerResultTtlInSeconds")) {
        authorizer["authorizerResultTtlInSeconds"] = 300;
      }
    } else if (type == "JWT") {
      const json& config = authorizer.value("jwtConfiguration", json());
      if (!config.is_object() || config.value("issuer", "").empty()) {
        return Status::InvalidArgument("JwtConfiguration with an Issuer is required for JWT authorizers");
      }
    } else {
      return Status::InvalidArgument("Invalid authorizer type " + type + ": REQUEST, TOKEN or JWT");
    }
    if (authorizer.contains("identitySource")) {
      if (!authorizer["identitySource"].is_array()) return Status::InvalidArgument("Invalid identitySource");
      for (const auto& source : authorizer["identitySource"]) {
        if (!source.is_string() || !source.get<std::string>().starts_with("$")) {
          return Status::InvalidArgument("Invalid identity source " + source.dump() +
                                         ": use $request.header.X, $request.querystring.X, "
                                         "$context.X or $stageVariables.X");
        }
      }
    } else if (type == "JWT") {
      authorizer["identitySource"] = json::array({"$request.header.Authorization"});
    }
    if (authorizer.contains("authorizerResultTtlInSeconds")) {
      const json& ttl = authorizer["authorizerResultTtlInSeconds"];
      if (!ttl.is_number_integer() || ttl.get<int>() < 0 || ttl.get<int>() > 3600) {
        return Status::InvalidArgument("AuthorizerResultTtlInSeconds must be between 0 and 3600");
      }
    }
    return Status::Ok();
  }

  void ListItems(const std::map<std::string, json>& items, const HttpRequest& request,
                 const std::shared_ptr<Responder>& responder) {
    std::vector<std::pair<std::string, const json*>> list;
    for (const auto& [id, item] : items) list.emplace_back(id, &item);
    ListPage(list, request, responder, [](const json& item) { return item; });
  }

  // One page of a Get* list call (items sorted by key). maxResults (a positive integer; all
  // when absent) and nextToken as the model has them: the token is the key of the next item,
  // base64-encoded, so that a page survives items being added or deleted before it.
  void ListPage(const std::vector<std::pair<std::string, const json*>>& items, const HttpRequest& request,
                const std::shared_ptr<Responder>& responder,
                const std::function<json(const json&)>& present) {
    size_t limit = items.size();
    if (auto max = request.QueryParam("maxResults")) {
      if (max->empty() || max->size() > 9 || max->find_first_not_of("0123456789") != std::string::npos ||
          std::stoul(*max) == 0) {
        return responder->Respond(BadRequest("Invalid maxResults " + *max + ": a positive integer"));
      }
      limit = std::stoul(*max);
    }
    size_t start = 0;
    if (auto token = request.QueryParam("nextToken"); token && !token->empty()) {
      std::string key;
      if (!Base64Decode(*token, &key) || key.empty()) {
        return responder->Respond(BadRequest("Invalid nextToken"));
      }
      while (start < items.size() && items[start].first < key) ++start;
    }
    json list = json::array();
    size_t at = start;
    for (; at < items.size() && list.size() < limit; ++at) list.push_back(present(*items[at].second));
    json body = {{"items", list}};
    if (at < items.size()) body["nextToken"] = Base64Encode(items[at].first);
    responder->Respond(HttpResponse::Json(200, body.dump()));
  }

  std::map<std::string, json>& Children(ApiRecord& record, const std::string& kind) {
    if (kind == "routes") return record.routes;
    if (kind == "integrations") return record.integrations;
    if (kind == "stages") return record.stages;
    if (kind == "deployments") return record.deployments;
    return record.authorizers;
  }

  void GetChild(const Router::Params& params, const std::string& kind, const std::string& id_name,
                const std::string& label, const std::shared_ptr<Responder>& responder) {
    ApiRecord* record = FindApi(params.at("apiId"), responder);
    if (!record) return;
    auto& items = Children(*record, kind);
    auto it = items.find(params.at(id_name));
    if (it == items.end()) {
      return responder->Respond(NotFound("Invalid " + label + " identifier specified " + params.at(id_name)));
    }
    responder->Respond(HttpResponse::Json(200, it->second.dump()));
  }

  void DeleteChild(const Router::Params& params, const std::string& kind, const std::string& id_name,
                   const std::string& label, const std::shared_ptr<Responder>& responder) {
    ApiRecord* record = FindApi(params.at("apiId"), responder);
    if (!record) return;
    auto& items = Children(*record, kind);
    auto it = items.find(params.at(id_name));
    if (it == items.end()) {
      return responder->Respond(NotFound("Invalid " + label + " identifier specified " + params.at(id_name)));
    }
    items.erase(it);
    if (kind == "routes" || kind == "integrations" || kind == "authorizers") AutoDeploy(*record);
    Status saved = Save(params.at("apiId"));
    if (!saved.ok()) return responder->Respond(ErrorResponse(500, "InternalServerError", saved.message()));
    responder->Respond(HttpResponse{204, {}, ""});
  }

  void CreateApi(HttpRequest& request, const std::shared_ptr<Responder>& responder) {
    auto body = ParseBody(request);
    if (!body.ok()) return responder->Respond(BadRequest(body.status().message()));
    if (!body->contains("name")) return responder->Respond(BadRequest("Name is required"));
    std::string protocol = body->value("protocolType", "");
    if (protocol != "HTTP") {
      return responder->Respond(BadRequest(
          protocol == "WEBSOCKET" ? "WebSocket APIs are not supported by haneul"
                                  : "Invalid protocol type " + protocol + ": HTTP"));
    }
    Status valid = ValidateApiFields(*body);
    if (!valid.ok()) return responder->Respond(BadRequest(valid.message()));
    std::string id = NewId(10);
    while (apis.count(id)) id = NewId(10);
    json api = *body;
    api.erase("target");
    api.erase("routeKey");
    api.erase("credentialsArn");
    api["apiId"] = id;
    api["apiEndpoint"] = ApiEndpoint(id);
    api["createdDate"] = IsoNow();
    if (!api.contains("routeSelectionExpression")) api["routeSelectionExpression"] = "$request.method $request.path";
    if (!api.contains("apiKeySelectionExpression")) api["apiKeySelectionExpression"] = "$request.header.x-api-key";
    if (!api.contains("disableExecuteApiEndpoint")) api["disableExecuteApiEndpoint"] = false;
    if (!api.contains("tags")) api["tags"] = json::object();
    ApiRecord record;
    record.api = api;
    // Quick create: an integration, a route (RouteKey or $default) and an auto-deployed $default
    // stage.
    if (body->contains("target")) {
      std::string target = body->value("target", "");
      json integration = {{"integrationUri", target}};
      if (target.starts_with("http://") || target.starts_with("https://")) {
        integration["integrationType"] = "HTTP_PROXY";
        integration["integrationMethod"] = "ANY";
        integration["payloadFormatVersion"] = "1.0";
      } else {
        integration["integrationType"] = "AWS_PROXY";
        integration["payloadFormatVersion"] = "2.0";
      }
      integration["apiGatewayManaged"] = true;
      Status ok = ValidateIntegration(integration, true);
      if (!ok.ok()) return responder->Respond(BadRequest(ok.message()));
      std::string integration_id = NewId(7);
      integration["integrationId"] = integration_id;
      record.integrations[integration_id] = integration;
      json route = {{"routeKey", body->value("routeKey", "$default")},
                    {"target", "integrations/" + integration_id},
                    {"authorizationType", "NONE"},
                    {"apiKeyRequired", false},
                    {"apiGatewayManaged", true}};
      ok = ValidateRoute(record, route, "");
      if (!ok.ok()) return responder->Respond(BadRequest(ok.message()));
      std::string route_id = NewId(7);
      route["routeId"] = route_id;
      record.routes[route_id] = route;
      json stage = {{"stageName", "$default"},
                    {"autoDeploy", true},
                    {"apiGatewayManaged", true},
                    {"stageVariables", json::object()},
                    {"createdDate", IsoNow()},
                    {"lastUpdatedDate", IsoNow()},
                    {"defaultRouteSettings", {{"detailedMetricsEnabled", false}}},
                    {"routeSettings", json::object()},
                    {"tags", json::object()}};
      record.stages["$default"] = stage;
      AutoDeploy(record);
    }
    apis[id] = std::move(record);
    SaveAndRespond(id, responder, 201, api);
  }

  void UpdateApi(HttpRequest& request, const std::string& api_id,
                 const std::shared_ptr<Responder>& responder) {
    ApiRecord* record = FindApi(api_id, responder);
    if (!record) return;
    auto body = ParseBody(request);
    if (!body.ok()) return responder->Respond(BadRequest(body.status().message()));
    Status valid = ValidateApiFields(*body);
    if (!valid.ok()) return responder->Respond(BadRequest(valid.message()));
    for (const char* field : {"name", "description", "corsConfiguration", "disableExecuteApiEndpoint",
                              "version", "routeSelectionExpression", "apiKeySelectionExpression",
                              "disableSchemaValidation"}) {
      if (body->contains(field)) record->api[field] = (*body)[field];
    }
    SaveAndRespond(api_id, responder, 200, record->api);
  }

  // OpenAPI import (ImportApi, ReimportApi): the document becomes a new record (or replaces the
  // routes, integrations and authorizers of an existing one).
  void ImportApi(HttpRequest& request, const std::shared_ptr<Responder>& responder,
                 const std::string& reimport_id) {
    auto body = ParseBody(request);
    if (!body.ok()) return responder->Respond(BadRequest(body.status().message()));
    auto imported = ImportOpenApi(body->value("body", ""));
    if (!imported.ok()) return responder->Respond(BadRequest(imported.status().message()));
    std::string id = reimport_id;
    if (id.empty()) {
      id = NewId(10);
      while (apis.count(id)) id = NewId(10);
    }
    // Built aside and committed only when the whole document is valid: a failed reimport
    // leaves the API as it was.
    auto existing = apis.find(id);
    ApiRecord record = existing == apis.end() ? ApiRecord() : existing->second;
    json api = imported->api;
    api["apiId"] = id;
    api["apiEndpoint"] = ApiEndpoint(id);
    api["createdDate"] = record.api.is_object() ? record.api.value("createdDate", IsoNow()) : IsoNow();
    api["protocolType"] = "HTTP";
    api["routeSelectionExpression"] = "$request.method $request.path";
    api["apiKeySelectionExpression"] = "$request.header.x-api-key";
    api["disableExecuteApiEndpoint"] = false;
    if (!api.contains("tags")) api["tags"] = json::object();
    record.api = api;
    record.routes.clear();
    record.integrations.clear();
    record.integration_responses.clear();
    record.authorizers.clear();
    // Ids are assigned here; the document refers to authorizers by name and to integrations
    // by position.
    std::map<std::string, std::string> authorizer_ids;
    for (json authorizer : imported->authorizers) {
      Status valid = ValidateAuthorizer(authorizer, true);
      if (!valid.ok()) {
        return responder->Respond(BadRequest("Authorizer " + authorizer.value("name", "") + ": " + valid.message()));
      }
      std::string authorizer_id = NewId(6);
      authorizer["authorizerId"] = authorizer_id;
      authorizer_ids[authorizer.value("name", "")] = authorizer_id;
      record.authorizers[authorizer_id] = authorizer;
    }
    for (size_t i = 0; i < imported->routes.size(); ++i) {
      json route = imported->routes[i];
      if (i < imported->integrations.size() && !imported->integrations[i].is_null()) {
        json integration = imported->integrations[i];
        json responses = integration.value("_responses", json::array());
        integration.erase("_responses");
        Status valid = ValidateIntegration(integration, true);
        for (const auto& response : responses) {
          if (valid.ok()) valid = ValidateIntegrationResponse(response);
        }
        if (!valid.ok()) {
          return responder->Respond(BadRequest(route.value("routeKey", "") + ": " + valid.message()));
        }
        std::string integration_id = NewId(7);
        integration["integrationId"] = integration_id;
        record.integrations[integration_id] = integration;
        for (json response : responses) {
          std::string response_id = NewId(6);
          response["integrationResponseId"] = response_id;
          record.integration_responses[integration_id][response_id] = std::move(response);
        }
        route["target"] = "integrations/" + integration_id;
      }
      if (route.contains("authorizerName")) {
        std::string name = route["authorizerName"];
        route.erase("authorizerName");
        auto found = authorizer_ids.find(name);
        if (found == authorizer_ids.end()) {
          return responder->Respond(BadRequest("Route " + route.value("routeKey", "") +
                                               " names the unknown authorizer " + name));
        }
        route["authorizerId"] = found->second;
        route["authorizationType"] =
            record.authorizers[found->second].value("authorizerType", "") == "JWT" ? "JWT" : "CUSTOM";
      }
      route["routeId"] = NewId(7);
      record.routes[route["routeId"]] = route;
    }
    AutoDeploy(record);
    if (!imported->warnings.empty()) record.api["warnings"] = imported->warnings;
    ApiRecord& stored = apis[id];
    stored = std::move(record);
    SaveAndRespond(id, responder, 201, stored.api);
  }

  void ExportApi(HttpRequest& request, const std::string& api_id, const std::string& specification,
                 const std::shared_ptr<Responder>& responder) {
    ApiRecord* record = FindApi(api_id, responder);
    if (!record) return;
    if (specification != "OAS30") return responder->Respond(BadRequest("Unsupported specification " + specification));
    auto output = request.QueryParam("outputType").value_or("JSON");
    if (output != "JSON" && output != "YAML") {
      return responder->Respond(BadRequest("Invalid outputType " + output + ": JSON or YAML"));
    }
    json routes = json::array();
    for (const auto& [id, route] : record->routes) routes.push_back(route);
    std::map<std::string, json> integrations = record->integrations;
    std::map<std::string, json> authorizers = record->authorizers;
    json integration_responses = IntegrationResponsesJson(*record);
    std::string stage = request.QueryParam("stageName").value_or("");
    if (!stage.empty()) {
      auto found = record->stages.find(stage);
      if (found == record->stages.end()) return responder->Respond(NotFound("Invalid stage identifier specified"));
      auto deployment = record->deployments.find(found->second.value("deploymentId", ""));
      if (deployment != record->deployments.end()) {
        const json& snapshot = deployment->second["_snapshot"];
        routes = json::array();
        for (const auto& route : snapshot["routes"]) routes.push_back(route);
        integrations = FromMapJson(snapshot["integrations"]);
        authorizers = FromMapJson(snapshot["authorizers"]);
        integration_responses = snapshot.value("integrationResponses", json::object());
      }
    }
    // ExportOpenApi takes a MOCK integration's responses inside it, as "_responses".
    for (auto& [integration_id, integration] : integrations) {
      if (!integration_responses.contains(integration_id)) continue;
      json list = json::array();
      for (const auto& response : integration_responses[integration_id]) list.push_back(response);
      integration["_responses"] = std::move(list);
    }
    bool extensions = request.QueryParam("includeExtensions").value_or("true") != "false";
    json document = ExportOpenApi(record->api, routes, integrations, authorizers, extensions);
    if (output == "YAML") {
      HttpResponse response{200, {}, JsonToYaml(document, {"openapi", "info", "paths", "components"})};
      response.headers.Set("Content-Type", "application/yaml");
      return responder->Respond(std::move(response));
    }
    HttpResponse response = HttpResponse::Json(200, document.dump(2));
    responder->Respond(std::move(response));
  }

  // ------------------------------------------------------------------------------------------
  // Data plane.

  // Splits a route request into api id and the path the API sees (stage included); false when
  // the request is not for a gateway route.
  static bool ParseRouteTarget(const HttpRequest& request, std::string* api_id, std::string* path) {
    static constexpr std::string_view kPrefix = "/_api/";
    if (request.path.starts_with(kPrefix)) {
      std::string_view rest = std::string_view(request.path).substr(kPrefix.size());
      size_t slash = rest.find('/');
      *api_id = std::string(rest.substr(0, slash));
      *path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
      return true;
    }
    std::string_view host = request.headers.Get("host");
    if (host.empty()) return false;
    std::string lower(host.substr(0, host.rfind(':') == std::string_view::npos || host.back() == ']'
                                         ? host.size()
                                         : host.rfind(':')));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    static constexpr std::string_view kSuffix = ".execute-api.localhost";
    if (!lower.ends_with(kSuffix) || lower.size() == kSuffix.size()) return false;
    *api_id = lower.substr(0, lower.size() - kSuffix.size());
    if (api_id->find('.') != std::string::npos) return false;
    *path = request.path.empty() ? "/" : request.path;
    return true;
  }

  void AddCors(const json& api, const HttpRequest& request, Headers* headers) {
    if (!api.contains("corsConfiguration") || !api["corsConfiguration"].is_object()) return;
    const json& cors = api["corsConfiguration"];
    std::string origin(request.headers.Get("origin"));
    if (origin.empty()) return;
    bool any = false;
    bool match = false;
    for (const auto& allowed : cors.value("allowOrigins", json::array())) {
      if (allowed == "*") any = true;
      if (allowed == origin) match = true;
    }
    if (!any && !match) return;
    headers->Set("Access-Control-Allow-Origin", match || cors.value("allowCredentials", false) ? origin : "*");
    if (cors.value("allowCredentials", false)) headers->Set("Access-Control-Allow-Credentials", "true");
    std::string expose;
    for (const auto& header : cors.value("exposeHeaders", json::array())) {
      expose += (expose.empty() ? "" : ",") + header.get<std::string>();
    }
    if (!expose.empty()) headers->Set("Access-Control-Expose-Headers", expose);
    if (!any) headers->Set("Vary", "Origin");
  }

  // A CORS preflight answered by the gateway itself; false when the API has no CORS config.
  bool Preflight(const json& api, const HttpRequest& request, HttpResponse* response) {
    if (request.method != "OPTIONS" || !api.contains("corsConfiguration") ||
        !api["corsConfiguration"].is_object() || request.headers.Get("origin").empty() ||
        request.headers.Get("access-control-request-method").empty()) {
      return false;
    }
    const json& cors = api["corsConfiguration"];
    response->status = 204;
    Headers headers;
    AddCors(api, request, &headers);
    if (headers.Has("Access-Control-Allow-Origin")) {
      std::string wanted(request.headers.Get("access-control-request-method"));
      auto join = [](const json& list) {
        std::string out;
        for (const auto& item : list) out += (out.empty() ? "" : ",") + item.get<std::string>();
        return out;
      };
      json methods = cors.value("allowMethods", json::array());
      bool method_ok = false;
      for (const auto& m : methods) method_ok = method_ok || m == "*" || m == wanted;
      if (method_ok) {
        headers.Set("Access-Control-Allow-Methods", join(methods) == "*" ? wanted : join(methods));
        json allow_headers = cors.value("allowHeaders", json::array());
        std::string requested(request.headers.Get("access-control-request-headers"));
        if (!allow_headers.empty()) {
          std::string joined = join(allow_headers);
          headers.Set("Access-Control-Allow-Headers", joined == "*" && !requested.empty() ? requested : joined);
        }
        if (cors.contains("maxAge") && cors["maxAge"].get<int>() >= 0) {
          headers.Set("Access-Control-Max-Age", std::to_string(cors["maxAge"].get<int>()));
        }
      } else {
        headers = Headers();
      }
    }
    response->headers = std::move(headers);
    return true;
  }

  void Finish(const std::shared_ptr<Pending>& pending, HttpResponse response) {
    if (pending->done) return;
    pending->done = true;
    if (pending->timer) pending->timer->Cancel();
    for (const auto& [name, value] : pending->extra_headers.all()) response.headers.Set(name, value);
    response.headers.Set("Apigw-Requestid", pending->request_id);
    if (!pending->log_group.empty() && options.access_logs) {
      auto& context = pending->log_context;
      context["status"] = std::to_string(response.status);
      context["responseLength"] = std::to_string(response.body.size());
      context["responseLatency"] = std::to_string(NowUnixMillis() - pending->start_ms);
      std::string line = FormatAccessLog(pending->log_format, context);
      options.access_logs->CreateGroup(pending->log_group);
      options.access_logs->Append(pending->log_group, context["apiId"] + "_" + context["stage"],
                                  NowUnixMillis(), line);
    }
    pending->responder->Respond(std::move(response));
  }

  // Answers with one of the gateway's own errors ({"message": ...}).
  void Fail(const std::shared_ptr<Pending>& pending, int status, const char* message) {
    if (pending->done) return;
    pending->log_context["error.message"] = message;
    Finish(pending, RouteError(status, message));
  }

  // Starts access logging of this request when the stage asks for it.
  void StartAccessLog(const std::shared_ptr<Pending>& pending, const json& stage,
                      const RequestInfo& info) {
    const json& settings = stage.value("accessLogSettings", json());
    if (!settings.is_object() || !options.access_logs) return;
    std::string group = LogGroupFromArn(settings.value("destinationArn", ""));
    std::string format = settings.value("format", "");
    if (group.empty() || format.empty()) return;
    pending->log_group = group;
    pending->log_format = format;
    auto& context = pending->log_context;
    context["requestId"] = info.request_id;
    context["extendedRequestId"] = info.request_id;
    context["apiId"] = info.api_id;
    context["accountId"] = info.account_id;
    context["stage"] = info.stage;
    context["httpMethod"] = info.method;
    context["path"] = PercentDecode(info.raw_path);
    context["protocol"] = "HTTP/1.1";
    context["requestTime"] = ApiGatewayTime(info.time_ms);
    context["requestTimeEpoch"] = std::to_string(info.time_ms);
    context["identity.sourceIp"] = info.source_ip;
    context["identity.userAgent"] = std::string(info.headers.Get("user-agent"));
    context["domainName"] = info.domain_name;
    context["domainPrefix"] = info.domain_name.substr(0, info.domain_name.find('.'));
  }

  void NoteIntegration(const std::shared_ptr<Pending>& pending, int status, const std::string& error) {
    auto& context = pending->log_context;
    context["integrationStatus"] = std::to_string(status);
    context["integration.status"] = std::to_string(status);
    context["integration.integrationStatus"] = std::to_string(status);
    std::string latency = std::to_string(NowUnixMillis() - pending->integration_start_ms);
    context["integrationLatency"] = latency;
    context["integration.latency"] = latency;
    if (!error.empty()) {
      context["integrationErrorMessage"] = error;
      context["integration.error"] = error;
    }
  }

  bool HandleRoute(HttpRequest& request, const std::shared_ptr<Responder>& responder) {
    std::string api_id, path;
    if (!ParseRouteTarget(request, &api_id, &path)) return false;
    auto pending = std::make_shared<Pending>();
    pending->responder = responder;
    pending->request_id = NewRequestId();
    pending->start_ms = NowUnixMillis();
    auto api_it = apis.find(api_id);
    if (api_it == apis.end()) {
      Fail(pending, 404, "Not Found");
      return true;
    }
    ApiRecord& record = api_it->second;
    // The stage: the first segment names it, else the $default stage serves from the root.
    std::string stage_name;
    std::string stage_path;
    {
      size_t end = path.find('/', 1);
      std::string first = PercentDecode(path.substr(1, end == std::string::npos ? std::string::npos : end - 1));
      if (!first.empty() && first != "$default" && record.stages.count(first)) {
        stage_name = first;
        stage_path = end == std::string::npos ? "/" : path.substr(end);
      } else if (record.stages.count("$default")) {
        stage_name = "$default";
        stage_path = path;
      } else {
        Fail(pending, 404, "Not Found");
        return true;
      }
    }
    const json& stage = record.stages[stage_name];
    // What every event and the access log share; the route's fields are added once it matches.
    auto info = std::make_shared<RequestInfo>();
    info->method = request.method;
    info->raw_path = path;
    info->query = request.query;
    info->headers = request.headers;
    info->source_ip = SourceIp(request.remote_address);
    info->account_id = options.account_id;
    info->api_id = api_id;
    info->stage = stage_name;
    std::string host(request.headers.Get("host"));
    info->domain_name = host.empty() ? api_id + ".execute-api.localhost" : host;
    info->request_id = pending->request_id;
    info->time_ms = pending->start_ms;
    if (stage.contains("stageVariables") && stage["stageVariables"].is_object()) {
      for (auto it = stage["stageVariables"].begin(); it != stage["stageVariables"].end(); ++it) {
        if (it.value().is_string()) info->stage_variables[it.key()] = it.value();
      }
    }
    StartAccessLog(pending, stage, *info);

    std::string deployment_id = stage.value("deploymentId", "");
    auto deployment = record.deployments.find(deployment_id);
    if (deployment_id.empty() || deployment == record.deployments.end()) {
      Fail(pending, 404, "Not Found");
      return true;
    }
    if (request.body.size() > kPayloadLimit) {
      Fail(pending, 413, "Request Entity Too Large");
      return true;
    }
    HttpResponse preflight;
    if (Preflight(record.api, request, &preflight)) {
      Finish(pending, std::move(preflight));
      return true;
    }
    AddCors(record.api, request, &pending->extra_headers);
    auto compiled_deployment = GetCompiled(api_id, deployment->second);
    auto match = compiled_deployment->table.Match(request.method, stage_path);
    if (!match) {
      Fail(pending, 404, "Not Found");
      return true;
    }
    const json& route = compiled_deployment->routes[match->index];
    info->route_key = route.value("routeKey", "");
    pending->log_context["routeKey"] = info->route_key;
    std::string target = route.value("target", "");
    auto integration = compiled_deployment->integrations.find(
        target.starts_with("integrations/") ? target.substr(13) : "");
    if (integration == compiled_deployment->integrations.end()) {
      Fail(pending, 404, "Not Found");
      return true;
    }
    info->body = std::move(request.body);
    info->resource = info->route_key;
    if (auto space = info->resource.find(' '); space != std::string::npos) {
      info->resource = info->resource.substr(space + 1);
    }
    info->path_parameters = match->path_parameters;
    // A MOCK integration's responses (kept alive by compiled_deployment, which the callbacks hold).
    static const json kNoResponses = json::array();
    const json* responses = &kNoResponses;
    if (auto found = compiled_deployment->integration_responses.find(integration->first);
        found != compiled_deployment->integration_responses.end()) {
      responses = &found->second;
    }
    bool mock = integration->second.value("integrationType", "") == "MOCK";

    std::string authorization = route.value("authorizationType", "NONE");
    if (authorization == "CUSTOM" || authorization == "JWT") {
      auto authorizer = compiled_deployment->authorizers.find(route.value("authorizerId", ""));
      if (authorizer == compiled_deployment->authorizers.end()) {
        Fail(pending, 500, "Internal Server Error");
        return true;
      }
      AuthorizeContext context{loop, lambda, authorizer_cache, options.region, MakeFetcher()};
      // A mock's templates see the authorizer's context flat, as REST's $context.authorizer.
      Authorize(context, authorizer->second, route,
                mock ? "1.0" : integration->second.value("payloadFormatVersion", "2.0"), info,
                [this, pending, info, integration = integration->second, responses,
                 compiled_deployment](std::optional<HttpResponse> refusal) {
                  if (refusal) {
                    pending->log_context["authorizer.error"] = refusal->body;
                    return Finish(pending, std::move(*refusal));
                  }
                  Integrate(pending, integration, info, *responses);
                });
      return true;
    }
    Integrate(pending, integration->second, info, *responses);
    return true;
  }

  // GETs for JWT key sets, on the proxy pool; answers come back on the loop.
  Fetcher MakeFetcher() {
    EventLoop* event_loop = &loop;
    ProxyPool* workers = pool.get();
    return [event_loop, workers](const std::string& url,
                                 std::function<void(Result<std::string>)> done) {
      workers->Submit([event_loop, url, done](HttpClient& client) {
        auto answer = client.Send("GET", url, Headers(), "", std::chrono::seconds(5));
        Result<std::string> body = Status::Unavailable("fetch failed");
        if (!answer.ok()) {
          body = answer.status();
        } else if (answer->status != 200) {
          body = Status::Unavailable(url + " answered " + std::to_string(answer->status));
        } else {
          body = std::move(answer->body);
        }
        event_loop->Post([done, body]() mutable { done(std::move(body)); });
      });
    };
  }

  void StartTimer(const std::shared_ptr<Pending>& pending, const json& integration) {
    int timeout = integration.value("timeoutInMillis", kDefaultTimeoutMs);
    pending->timer = std::make_unique<Timer>(loop);
    std::weak_ptr<Pending> weak = pending;
    pending->timer->Start(std::chrono::milliseconds(timeout), [this, weak] {
      if (auto held = weak.lock()) Fail(held, 504, "Service Unavailable");
    });
  }

  void Integrate(const std::shared_ptr<Pending>& pending, const json& integration,
                 const std::shared_ptr<RequestInfo>& info, const json& responses) {
    pending->integration_start_ms = NowUnixMillis();
    if (integration.value("integrationType", "") == "MOCK") {
      // Answered here, invoking nothing (see mock.h); a configuration that cannot answer is
      // API Gateway's 500.
      auto answer = MockAnswer(integration, responses, *info);
      if (!answer.ok()) {
        NoteIntegration(pending, 500, answer.status().message());
        spdlog::debug("gateway: mock integration: {}", answer.status().message());
        return Fail(pending, 500, "Internal Server Error");
      }
      NoteIntegration(pending, answer->status, "");
      return Finish(pending, std::move(*answer));
    }
    StartTimer(pending, integration);
    std::string type = integration.value("integrationType", "");
    if (type == "HTTP_PROXY") return ProxyHttp(pending, integration, info);
    std::string version = integration.value("payloadFormatVersion", "2.0");
    json event = version == "1.0" ? BuildEventV1(*info) : BuildEventV2(*info);
    std::string function =
        SubstituteStageVariables(FunctionFromUri(integration.value("integrationUri", "")),
                                 info->stage_variables);
    json response_parameters = integration.value("responseParameters", json());
    lambda.Invoke(function, DumpJson(event), [this, pending, version, info,
                                           response_parameters](HttpResponse answer) {
      if (pending->done) return;
      NoteIntegration(pending, answer.status, std::string(answer.headers.Get("X-Amz-Function-Error")));
      if (answer.status == 429) return Fail(pending, 429, "Too Many Requests");
      if (answer.status != 200) {
        spdlog::warn("gateway: integration answered {}: {}", answer.status, answer.body);
        return Fail(pending, 500, "Internal Server Error");
      }
      if (answer.headers.Has("X-Amz-Function-Error")) {
        return Fail(pending, 502, "Internal server error");
      }
      auto mapped = version == "1.0" ? MapResponseV1(answer.body) : MapResponseV2(answer.body);
      if (!mapped.ok()) return Fail(pending, 502, "Internal server error");
      ApplyResponseParameters(response_parameters, *info, &*mapped);
      Finish(pending, std::move(*mapped));
    });
  }

  void ProxyHttp(const std::shared_ptr<Pending>& pending, const json& integration,
                 const std::shared_ptr<RequestInfo>& info) {
    std::string url = SubstituteStageVariables(integration.value("integrationUri", ""),
                                               info->stage_variables);
    // {name} path parameters of the route, as API Gateway substitutes them.
    for (const auto& [name, value] : info->path_parameters) {
      std::string marker = "{" + name + "}";
      std::string encoded;
      size_t start = 0;
      while (start <= value.size()) {
        size_t slash = value.find('/', start);
        if (!encoded.empty() || start > 0) encoded += "/";
        encoded += PercentEncode(value.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
        if (slash == std::string::npos) break;
        start = slash + 1;
      }
      for (size_t at = 0; (at = url.find(marker, at)) != std::string::npos; at += encoded.size()) {
        url.replace(at, marker.size(), encoded);
      }
      std::string greedy = "{" + name + "+}";
      for (size_t at = 0; (at = url.find(greedy, at)) != std::string::npos; at += encoded.size()) {
        url.replace(at, greedy.size(), encoded);
      }
    }
    if (!info->query.empty()) url += (url.find('?') == std::string::npos ? "?" : "&") + info->query;
    std::string method = integration.value("integrationMethod", "ANY");
    if (method == "ANY") method = info->method;
    Headers headers;
    for (const auto& [name, value] : info->headers.all()) {
      if (!HopByHop(name)) headers.Add(name, value);
    }
    const json& request_parameters = integration.value("requestParameters", json());
    if (request_parameters.is_object() && !request_parameters.empty()) {
      // Parameter mapping: split the URL, map path, query and headers, join again.
      size_t scheme = url.find("://");
      size_t path_start = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
      std::string origin = url.substr(0, path_start);
      std::string rest = path_start == std::string::npos ? "/" : url.substr(path_start);
      size_t question = rest.find('?');
      MappedRequest mapped;
      mapped.path = rest.substr(0, question);
      mapped.query = ParseQuery(question == std::string::npos ? "" : rest.substr(question + 1));
      mapped.headers = std::move(headers);
      ApplyRequestParameters(request_parameters, *info, &mapped);
      std::string query = BuildQuery(mapped.query);
      url = origin + mapped.path + (query.empty() ? "" : "?" + query);
      headers = std::move(mapped.headers);
    }
    json response_parameters = integration.value("responseParameters", json());
    std::string forwarded(info->headers.Get("x-forwarded-for"));
    headers.Set("X-Forwarded-For", forwarded.empty() ? info->source_ip : forwarded + ", " + info->source_ip);
    headers.Set("X-Forwarded-Proto", "http");
    int timeout = integration.value("timeoutInMillis", kDefaultTimeoutMs);
    EventLoop* event_loop = &loop;
    pool->Submit([this, event_loop, pending, url, method, headers, body = info->body,
                  timeout, info, response_parameters](HttpClient& client) {
      auto answer = client.Send(method, url, headers, body, std::chrono::milliseconds(timeout + 50));
      event_loop->Post([this, pending, info, response_parameters, answer = std::move(answer)]() mutable {
        if (pending->done) return;
        NoteIntegration(pending, answer.ok() ? answer->status : 0,
                        answer.ok() ? "" : answer.status().message());
        if (!answer.ok()) {
          spdlog::warn("gateway: HTTP integration failed: {}", answer.status().message());
          return Fail(pending, 500, "Internal Server Error");
        }
        HttpResponse response;
        response.status = answer->status;
        for (const auto& [name, value] : answer->headers.all()) {
          if (!HopByHop(name)) response.headers.Add(name, value);
        }
        response.body = std::move(answer->body);
        ApplyResponseParameters(response_parameters, *info, &response);
        Finish(pending, std::move(response));
      });
    });
  }
};

GatewayService::GatewayService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GatewayService::~GatewayService() = default;

Result<std::unique_ptr<GatewayService>> GatewayService::Create(EventLoop& loop, KvStore& store,
                                                               invoker::LambdaService& lambda,
                                                               GatewayOptions options) {
  auto impl = std::make_unique<Impl>(loop, store, lambda, std::move(options));
  Status loaded = impl->Load();
  if (!loaded.ok()) return loaded.WithContext("gateway: loading APIs");
  impl->AddRoutes();
  impl->pool = std::make_unique<ProxyPool>(impl->options.http_proxy_threads);
  return std::unique_ptr<GatewayService>(new GatewayService(std::move(impl)));
}

void GatewayService::SetEndpoint(std::string endpoint) {
  impl_->endpoint = std::move(endpoint);
  for (auto& [id, record] : impl_->apis) record.api["apiEndpoint"] = impl_->ApiEndpoint(id);
}

bool GatewayService::HandleRoute(HttpRequest& request, const std::shared_ptr<Responder>& responder) {
  return impl_->HandleRoute(request, responder);
}

bool GatewayService::HandleManagement(HttpRequest& request,
                                      const std::shared_ptr<Responder>& responder) {
  if (request.path != "/v2/apis" && !request.path.starts_with("/v2/apis/")) return false;
  if (!impl_->router.Dispatch(request, responder)) {
    responder->Respond(NotFound("No apigatewayv2 operation at " + request.method + " " + request.path));
  }
  return true;
}

bool GatewayService::RouteTooLarge(const HttpRequest& request, HttpResponse* response) const {
  std::string api_id, path;
  if (!Impl::ParseRouteTarget(request, &api_id, &path)) return false;
  *response = RouteError(413, "Request Entity Too Large");
  return true;
}

}  // namespace haneul::gateway
