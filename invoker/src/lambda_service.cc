// LambdaService: routes, validation and wire shapes of the Lambda API, plus versions and aliases,
// concurrency limits, the async (Event) queue with its dispatcher and destinations, and /metrics.
// Errors use Lambda's rest-json shape: status code, `x-amzn-ErrorType: <Name>` and a body
// {"Type":"User","message":"..."}.
#include "haneul/invoker/lambda_service.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cmath>
#include <random>
#include <regex>

#include "async_queue.h"
#include "code_store.h"
#include "concurrency.h"
#include "function_config.h"
#include "metrics.h"
#include "haneul/common/aws_error.h"
#include "haneul/common/fast_json.h"
#include "haneul/common/ids.h"
#include "image_function.h"
#include "invoker.h"
#include "haneul/snapshot/snapshotter.h"

namespace haneul::invoker {

namespace {

constexpr size_t kMaxInvokePayload = 6291456;
// Event invocations: 256 KB until AWS raised it to 1 MB in 2025.
constexpr size_t kMaxAsyncPayload = 1048576;
constexpr std::string_view kFunctionKeyPrefix = "lambda/fn/";
constexpr std::string_view kVersionKeyPrefix = "lambda/ver/";      // NAME/%010d
constexpr std::string_view kLastVersionPrefix = "lambda/lastver/"; // NAME -> highest published
constexpr std::string_view kAliasKeyPrefix = "lambda/alias/";      // NAME/ALIAS
constexpr std::string_view kConcurrencyPrefix = "lambda/conc/";    // NAME -> reserved
constexpr std::string_view kEventConfigPrefix = "lambda/eic/";     // NAME/QUALIFIER
constexpr std::string_view kProvisionedPrefix = "lambda/pc/";      // NAME/QUALIFIER -> count
constexpr std::string_view kDlqPrefix = "/_haneul/dlq";
constexpr std::string_view kCodeDownloadPrefix = "/_haneul/code/";

using Json = nlohmann::json;

HttpResponse ErrorResponse(const AwsError& error) {
  HttpResponse response = HttpResponse::Json(
      error.http_status, Json{{"Type", error.fault}, {"message", error.message}}.dump());
  response.headers.Set("x-amzn-RequestId", NewUuid());
  response.headers.Set("x-amzn-ErrorType", error.type);
  return response;
}

AwsError InvokePayloadTooLarge() {
  return AwsError::RequestTooLarge("Request must be smaller than " +
                                   std::to_string(kMaxInvokePayload) +
                                   " bytes for the InvokeFunction operation");
}

HttpResponse JsonResponse(int status, const Json& body) {
  HttpResponse response = HttpResponse::Json(status, body.dump());
  response.headers.Set("x-amzn-RequestId", NewUuid());
  return response;
}

}  // namespace

std::string DefaultRuntimesDirectory() { return HANEUL_DEFAULT_RUNTIMES_DIR; }

namespace {

HttpResponse NoContent() {
  HttpResponse response;
  response.status = 204;
  response.headers.Set("x-amzn-RequestId", NewUuid());
  return response;
}

// Lambda's throttle: 429 with the limit that refused in Reason, and when to retry.
HttpResponse ThrottleResponse(const std::string& reason) {
  HttpResponse response = HttpResponse::Json(
      429, Json{{"Type", "User"},
                {"message", "Rate Exceeded."},
                {"Reason", reason},
                {"retryAfterSeconds", "1"}}
               .dump());
  response.headers.Set("x-amzn-RequestId", NewUuid());
  response.headers.Set("x-amzn-ErrorType", "TooManyRequestsException");
  response.headers.Set("Retry-After", "1");
  return response;
}

std::string VersionKey(const std::string& name, int version) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "%010d", version);
  return std::string(kVersionKeyPrefix) + name + "/" + buffer;
}

bool IsVersionNumber(const std::string& text) {
  return !text.empty() && text.size() <= 9 &&
         text.find_first_not_of("0123456789") == std::string::npos;
}

// A weighted alias: the primary version and at most one additional version with its weight.
struct Alias {
  std::string function;
  std::string name;
  std::string version;
  std::string description;
  std::string additional_version;  // empty: no routing
  double weight = 0;
  std::string revision_id;

  std::string Arn(const AccountInfo& account) const {
    return "arn:aws:lambda:" + account.region + ":" + account.account_id + ":function:" +
           function + ":" + name;
  }
  Json ToApi(const AccountInfo& account) const {
    Json out = {{"AliasArn", Arn(account)},   {"Name", name},
                {"FunctionVersion", version}, {"Description", description},
                {"RevisionId", revision_id}};
    if (!additional_version.empty()) {
      out["RoutingConfig"] = {{"AdditionalVersionWeights", {{additional_version, weight}}}};
    }
    return out;
  }
  Json ToStorage() const {
    return {{"function", function}, {"name", name}, {"version", version},
            {"description", description}, {"additional_version", additional_version},
            {"weight", weight}, {"revision_id", revision_id}};
  }
  static std::optional<Alias> FromStorage(const Json& json) {
    Alias alias;
    try {
      alias.function = json.at("function").get<std::string>();
      alias.name = json.at("name").get<std::string>();
      alias.version = json.at("version").get<std::string>();
      alias.description = json.at("description").get<std::string>();
      alias.additional_version = json.at("additional_version").get<std::string>();
      alias.weight = json.at("weight").get<double>();
      alias.revision_id = json.at("revision_id").get<std::string>();
    } catch (const std::exception&) {
      return std::nullopt;
    }
    return alias;
  }
};

// FunctionEventInvokeConfig of one function qualifier. Unset fields mean Lambda's defaults.
struct EventConfig {
  std::optional<int> max_retries;
  std::optional<int> max_age_seconds;
  std::string on_success;
  std::string on_failure;
  int64_t last_modified_ms = 0;

  int retries() const { return max_retries.value_or(2); }
  int max_age() const { return max_age_seconds.value_or(21600); }
  Json ToStorage() const {
    Json out = {{"on_success", on_success}, {"on_failure", on_failure},
                {"last_modified_ms", last_modified_ms}};
    if (max_retries) out["max_retries"] = *max_retries;
    if (max_age_seconds) out["max_age"] = *max_age_seconds;
    return out;
  }
  static EventConfig FromStorage(const Json& json) {
    EventConfig config;
    config.on_success = json.value("on_success", std::string());
    config.on_failure = json.value("on_failure", std::string());
    config.last_modified_ms = json.value("last_modified_ms", int64_t{0});
    if (json.contains("max_retries")) config.max_retries = json.value("max_retries", 2);
    if (json.contains("max_age")) config.max_age_seconds = json.value("max_age", 21600);
    return config;
  }
  Json ToApi(const std::string& function_arn) const {
    Json destination = {{"OnSuccess", Json::object()}, {"OnFailure", Json::object()}};
    if (!on_success.empty()) destination["OnSuccess"]["Destination"] = on_success;
    if (!on_failure.empty()) destination["OnFailure"]["Destination"] = on_failure;
    Json out = {{"LastModified", static_cast<double>(last_modified_ms) / 1000.0},
                {"FunctionArn", function_arn},
                {"DestinationConfig", destination}};
    if (max_retries) out["MaximumRetryAttempts"] = *max_retries;
    if (max_age_seconds) out["MaximumEventAgeInSeconds"] = *max_age_seconds;
    return out;
  }
};

// PutProvisionedConcurrencyConfig of one function qualifier.
struct ProvisionedConfig {
  int count = 0;
  int64_t last_modified_ms = 0;
};

// A destination ARN this server can deliver to: a function (with optional qualifier) or an
// SQS-style queue kept in the data directory.
struct Destination {
  enum class Kind { kFunction, kQueue } kind;
  std::string name;       // function or queue name
  std::string qualifier;  // function destinations only
};

std::optional<Destination> ParseDestination(const std::string& arn, const AccountInfo& account) {
  static const std::regex queue("arn:aws[a-zA-Z-]*:sqs:[a-z0-9-]+:\\d{12}:([a-zA-Z0-9_-]{1,80})");
  std::smatch match;
  if (std::regex_match(arn, match, queue)) {
    return Destination{Destination::Kind::kQueue, match[1].str(), ""};
  }
  if (arn.starts_with("arn:") && arn.find(":lambda:") != std::string::npos) {
    AwsError error;
    auto ref = ParseFunctionRef(arn, account, &error);
    if (ref) return Destination{Destination::Kind::kFunction, ref->name, ref->qualifier};
  }
  return std::nullopt;
}

Json PayloadAsJson(const std::string& payload) {
  auto parsed = Json::parse(payload, nullptr, false);
  if (parsed.is_discarded()) return payload;
  return parsed;
}

// Parses MaxItems (1..10000) and Marker of a List request, or answers the error.
bool ListParams(const HttpRequest& request, size_t* max_items, std::string* marker,
                AwsError* error) {
  *max_items = 50;
  if (auto value = request.QueryParam("MaxItems")) {
    char* end = nullptr;
    long parsed = std::strtol(value->c_str(), &end, 10);
    if (value->empty() || *end != '\0' || parsed < 1 || parsed > 10000) {
      *error = AwsError::Validation(
          "1 validation error detected: Value '" + *value +
          "' at 'maxItems' failed to satisfy constraint: Member must have value between 1 "
          "and 10000");
      return false;
    }
    *max_items = static_cast<size_t>(parsed);
  }
  *marker = request.QueryParam("Marker").value_or("");
  return true;
}

}  // namespace

struct LambdaService::Impl {
  // Shared with every environment's context: how handlers reach the bundled services.
  std::shared_ptr<ServiceEndpoints> context_services;
  Impl(EventLoop& loop, KvStore& store, LogStore& logs, LambdaOptions options)
      : loop(loop),
        store(store),
        logs(logs),
        options(std::move(options)),
        code(this->options.data_directory + "/code"),
        limiter(this->options.account_concurrency),
        queue(store),
        dispatch_timer(loop),
        random(std::random_device{}()) {
    account.region = this->options.region;
    account.account_id = this->options.account_id;
  }

  // ---- loading -------------------------------------------------------------------------

  Status Load() {
    HANEUL_RETURN_IF_ERROR(
        store.Scan(kFunctionKeyPrefix, "", [&](std::string_view, std::string_view value) {
          auto parsed = Json::parse(value, nullptr, false);
          auto config = FunctionConfig::FromStorage(parsed);
          if (config) {
            std::string name = config->name;
            functions[name] = std::make_shared<const FunctionConfig>(std::move(*config));
          } else {
            spdlog::error("skipping a corrupt function record");
          }
          return true;
        }));
    HANEUL_RETURN_IF_ERROR(
        store.Scan(kVersionKeyPrefix, "", [&](std::string_view, std::string_view value) {
          auto config = FunctionConfig::FromStorage(Json::parse(value, nullptr, false));
          if (config && IsVersionNumber(config->version)) {
            int number = std::stoi(config->version);
            std::string name = config->name;
            // SnapStart: the snapshot is taken again once the server runs (RestoreSnapshots).
            if (config->snap_start()) {
              config->version_state = std::make_shared<VersionState>(
                  VersionState{"Pending", "InProgress", "Creating", "The function is being created."});
            }
            versions[name][number] = std::make_shared<const FunctionConfig>(std::move(*config));
          }
          return true;
        }));
    HANEUL_RETURN_IF_ERROR(
        store.Scan(kLastVersionPrefix, "", [&](std::string_view key, std::string_view value) {
          last_version[std::string(key.substr(kLastVersionPrefix.size()))] =
              std::atoi(std::string(value).c_str());
          return true;
        }));
    HANEUL_RETURN_IF_ERROR(
        store.Scan(kAliasKeyPrefix, "", [&](std::string_view, std::string_view value) {
          auto alias = Alias::FromStorage(Json::parse(value, nullptr, false));
          if (alias) aliases[alias->function][alias->name] = *alias;
          return true;
        }));
    HANEUL_RETURN_IF_ERROR(
        store.Scan(kConcurrencyPrefix, "", [&](std::string_view key, std::string_view value) {
          limiter.SetReserved(std::string(key.substr(kConcurrencyPrefix.size())),
                              std::atoi(std::string(value).c_str()));
          return true;
        }));
    HANEUL_RETURN_IF_ERROR(
        store.Scan(kEventConfigPrefix, "", [&](std::string_view key, std::string_view value) {
          auto rest = key.substr(kEventConfigPrefix.size());
          auto slash = rest.find('/');
          if (slash == std::string_view::npos) return true;
          event_configs[std::string(rest.substr(0, slash))][std::string(rest.substr(slash + 1))] =
              EventConfig::FromStorage(Json::parse(value, nullptr, false));
          return true;
        }));
    HANEUL_RETURN_IF_ERROR(
        store.Scan(kProvisionedPrefix, "", [&](std::string_view key, std::string_view value) {
          auto rest = key.substr(kProvisionedPrefix.size());
          auto slash = rest.find('/');
          auto json = Json::parse(value, nullptr, false);
          if (slash == std::string_view::npos || !json.is_object()) return true;
          provisioned[std::string(rest.substr(0, slash))][std::string(rest.substr(slash + 1))] = {
              json.value("count", 0), json.value("last_modified_ms", int64_t{0})};
          return true;
        }));
    return queue.Load(NowUnixMillis());
  }

  void AddRoutes() {
    const std::string f = "/2015-03-31/functions/{FunctionName}";
    router.Add("POST", "/2015-03-31/functions", [this](auto& r, auto&, auto s) { Create(r, s); });
    router.Add("POST", "/2015-03-31/functions/", [this](auto& r, auto&, auto s) { Create(r, s); });
    router.Add("GET", "/2015-03-31/functions/", [this](auto& r, auto&, auto s) { List(r, s); });
    router.Add("GET", "/2015-03-31/functions", [this](auto& r, auto&, auto s) { List(r, s); });
    router.Add("GET", f,
               [this](auto& r, auto& p, auto s) { Get(r, p.at("FunctionName"), s, false); });
    router.Add("GET", f + "/configuration",
               [this](auto& r, auto& p, auto s) { Get(r, p.at("FunctionName"), s, true); });
    router.Add("DELETE", f,
               [this](auto& r, auto& p, auto s) { Delete(r, p.at("FunctionName"), s); });
    router.Add("PUT", f + "/configuration",
               [this](auto& r, auto& p, auto s) { Update(r, p.at("FunctionName"), s, false); });
    router.Add("PUT", f + "/code",
               [this](auto& r, auto& p, auto s) { Update(r, p.at("FunctionName"), s, true); });
    router.Add("POST", f + "/invocations",
               [this](auto& r, auto& p, auto s) { Invoke(r, p.at("FunctionName"), s); });
    router.Add("POST", f + "/versions",
               [this](auto& r, auto& p, auto s) { Publish(r, p.at("FunctionName"), s); });
    router.Add("GET", f + "/versions",
               [this](auto& r, auto& p, auto s) { ListVersions(r, p.at("FunctionName"), s); });
    router.Add("POST", f + "/aliases",
               [this](auto& r, auto& p, auto s) { CreateAlias(r, p.at("FunctionName"), s); });
    router.Add("GET", f + "/aliases",
               [this](auto& r, auto& p, auto s) { ListAliases(r, p.at("FunctionName"), s); });
    router.Add("GET", f + "/aliases/{Name}", [this](auto& r, auto& p, auto s) {
      AliasOp(r, p.at("FunctionName"), p.at("Name"), s);
    });
    router.Add("PUT", f + "/aliases/{Name}", [this](auto& r, auto& p, auto s) {
      AliasOp(r, p.at("FunctionName"), p.at("Name"), s);
    });
    router.Add("DELETE", f + "/aliases/{Name}", [this](auto& r, auto& p, auto s) {
      AliasOp(r, p.at("FunctionName"), p.at("Name"), s);
    });
    for (const char* prefix : {"/2017-10-31", "/2019-09-30"}) {
      std::string path = std::string(prefix) + "/functions/{FunctionName}/concurrency";
      for (const char* method : {"PUT", "GET", "DELETE"}) {
        router.Add(method, path,
                   [this](auto& r, auto& p, auto s) { Concurrency(r, p.at("FunctionName"), s); });
      }
    }
    router.Add("GET", "/2016-08-19/account-settings/",
               [this](auto& r, auto&, auto s) { AccountSettings(r, s); });
    router.Add("GET", "/2016-08-19/account-settings",
               [this](auto& r, auto&, auto s) { AccountSettings(r, s); });
    for (const char* method : {"PUT", "GET", "DELETE"}) {
      router.Add(method, "/2019-09-30/functions/{FunctionName}/provisioned-concurrency",
                 [this](auto& r, auto& p, auto s) { ProvisionedOp(r, p.at("FunctionName"), s); });
    }
    const std::string eic = "/2019-09-25/functions/{FunctionName}/event-invoke-config";
    for (const char* method : {"PUT", "POST", "GET", "DELETE"}) {
      router.Add(method, eic, [this](auto& r, auto& p, auto s) {
        EventInvokeConfig(r, p.at("FunctionName"), s);
      });
    }
    router.Add("GET", eic + "/list", [this](auto& r, auto& p, auto s) {
      ListEventInvokeConfigs(r, p.at("FunctionName"), s);
    });
  }

  // ---- resolution ----------------------------------------------------------------------

  std::string QualifiedArn(const std::string& name, const std::string& qualifier) const {
    return "arn:aws:lambda:" + account.region + ":" + account.account_id + ":function:" + name +
           (qualifier.empty() ? "" : ":" + qualifier);
  }

  AwsError FunctionNotFound(const std::string& name, const std::string& qualifier) const {
    return AwsError::ResourceNotFound("Function not found: " + QualifiedArn(name, qualifier));
  }

  // The configuration a qualifier names: "" or "$LATEST", a version number, or an alias (its
  // primary version). nullptr when there is none.
  std::shared_ptr<const FunctionConfig> Lookup(const std::string& name,
                                               const std::string& qualifier,
                                               const Alias** alias = nullptr) const {
    auto latest = functions.find(name);
    if (latest == functions.end()) return nullptr;
    if (qualifier.empty() || qualifier == "$LATEST") return latest->second;
    if (IsVersionNumber(qualifier)) {
      auto list = versions.find(name);
      if (list == versions.end()) return nullptr;
      auto it = list->second.find(std::stoi(qualifier));
      return it == list->second.end() ? nullptr : it->second;
    }
    auto list = aliases.find(name);
    if (list == aliases.end()) return nullptr;
    auto it = list->second.find(qualifier);
    if (it == list->second.end()) return nullptr;
    if (alias) *alias = &it->second;
    return Lookup(name, it->second.version);
  }

  struct Target {
    std::string name;
    std::string qualifier;  // as requested; "" when none
    std::shared_ptr<const FunctionConfig> config;
    const Alias* alias = nullptr;
  };

  // Resolves a FunctionName path parameter and the Qualifier query parameter, or answers.
  std::optional<Target> Resolve(const HttpRequest& request, const std::string& raw_name,
                                const std::shared_ptr<Responder>& responder) {
    AwsError error;
    auto ref = ParseFunctionRef(raw_name, account, &error);
    if (!ref) {
      responder->Respond(ErrorResponse(error));
      return std::nullopt;
    }
    Target target;
    target.name = ref->name;
    target.qualifier = ref->qualifier;
    if (auto query = request.QueryParam("Qualifier"); query && !query->empty()) {
      if (!target.qualifier.empty() && target.qualifier != *query) {
        responder->Respond(ErrorResponse(AwsError::InvalidParameterValue(
            "The derived qualifier from the function name does not match the specified "
            "qualifier.")));
        return std::nullopt;
      }
      target.qualifier = *query;
    }
    target.config = Lookup(target.name, target.qualifier, &target.alias);
    if (!target.config) {
      responder->Respond(ErrorResponse(FunctionNotFound(target.name, target.qualifier)));
      return std::nullopt;
    }
    return target;
  }

  // The unqualified function only (control-plane operations on the function as a whole).
  std::shared_ptr<const FunctionConfig> ResolveFunction(
      const std::string& raw_name, const std::shared_ptr<Responder>& responder) {
    AwsError error;
    auto ref = ParseFunctionRef(raw_name, account, &error);
    if (!ref) {
      responder->Respond(ErrorResponse(error));
      return nullptr;
    }
    auto it = functions.find(ref->name);
    if (it == functions.end()) {
      responder->Respond(ErrorResponse(FunctionNotFound(ref->name, "")));
      return nullptr;
    }
    return it->second;
  }

  // A MemorySize within Lambda's range that this host cannot give at all.
  bool MemoryFits(const FunctionConfig& config, AwsError* error) const {
    if (config.memory_mb <= options.max_function_memory_mb) return true;
    *error = AwsError::InvalidParameterValue(
        "MemorySize " + std::to_string(config.memory_mb) + " MB is more than this host can give "
        "one function (" + std::to_string(options.max_function_memory_mb) + " MB).");
    return false;
  }

  Status Save(const FunctionConfig& config) {
    return store.Put(std::string(kFunctionKeyPrefix) + config.name, config.ToStorage().dump(),
                     /*sync=*/true);
  }
  // Where an environment of config finds its code: the unpacked zip, or the image's rootfs.
  Result<std::string> CodeDirectoryOf(const FunctionConfig& config) {
    if (config.is_image()) return config.image_rootfs;
    return code.Directory(config.code_id);
  }

  // Decodes Code.ZipFile (or a bare ZipFile for UpdateFunctionCode) and stores it; for an image
  // function, resolves Code.ImageUri (pulling, importing and unpacking it when new: this blocks
  // the loop for as long, as unzipping does).
  bool StoreCode(const Json& code, FunctionConfig* config, AwsError* error) {
    if (!code.is_object()) {
      *error = AwsError::InvalidRequestContent(
          "Could not parse request body into json: Code must be an object");
      return false;
    }
    if (config->is_image()) {
      auto uri = code.find("ImageUri");
      if (code.contains("ZipFile") || code.contains("S3Bucket")) {
        *error = AwsError::InvalidParameterValue(
            "Please don't provide ZipFile or S3 code when the function's PackageType is Image; "
            "provide ImageUri.");
        return false;
      }
      if (uri == code.end() || !uri->is_string() || uri->get<std::string>().empty()) {
        *error = AwsError::InvalidParameterValue(
            "Please provide ImageUri when the intended function PackageType is Image.");
        return false;
      }
      return ResolveImageCode(*images, uri->get<std::string>(), config, error);
    }
    if (code.contains("ImageUri")) {
      *error = AwsError::InvalidParameterValue(
          "Please don't provide ImageUri when the intended function PackageType is Zip.");
      return false;
    }
    if (code.contains("S3Bucket") || code.contains("S3Key")) {
      *error = AwsError::InvalidParameterValue(
          "Code from S3 (S3Bucket/S3Key) is not supported by this server yet; send ZipFile.");
      return false;
    }
    auto zip_field = code.find("ZipFile");
    if (zip_field == code.end() || !zip_field->is_string()) {
      *error = AwsError::InvalidParameterValue(
          "Please provide a source for function code (ZipFile).");
      return false;
    }
    std::string zip;
    if (!Base64Decode(zip_field->get<std::string>(), &zip)) {
      *error = AwsError::InvalidRequestContent(
          "Could not parse request body into json: ZipFile is not valid base64");
      return false;
    }
    std::string code_id;
    if (!this->code.Put(zip, &code_id, error)) return false;
    config->code_id = code_id;
    config->code_sha256 = Sha256Base64(zip);
    config->code_size = static_cast<int64_t>(zip.size());
    return true;
  }

  void Create(HttpRequest& request, const std::shared_ptr<Responder>& responder) {
    AwsError error;
    auto body = ParseJsonObject(request.body, &error);
    if (!body) return responder->Respond(ErrorResponse(error));
    FunctionConfig config;
    if (!ApplyConfigRequest(*body, /*create=*/true, &config, &error) ||
        !MemoryFits(config, &error)) {
      return responder->Respond(ErrorResponse(error));
    }
    if (functions.count(config.name)) {
      return responder->Respond(
          ErrorResponse(AwsError::ResourceConflict("Function already exist: " + config.name)));
    }
    auto code_field = body->find("Code");
    if (code_field == body->end()) {
      return responder->Respond(ErrorResponse(AwsError::Validation(
          "1 validation error detected: Value null at 'code' failed to satisfy constraint: "
          "Member must not be null")));
    }
    if (!StoreCode(*code_field, &config, &error)) return responder->Respond(ErrorResponse(error));
    config.last_modified_ms = NowUnixMillis();
    config.revision_id = NewUuid();
    config.revision = ++revision_counter;
    Status saved = Save(config);
    if (!saved.ok()) {
      return responder->Respond(ErrorResponse(AwsError::Service(saved.message())));
    }
    auto stored = std::make_shared<const FunctionConfig>(std::move(config));
    functions[stored->name] = stored;
    spdlog::info("created function {} ({})", stored->name, stored->runtime);
    Prewarm(stored);
    responder->Respond(JsonResponse(201, MaybePublish(*body, stored)->ToApi(account)));
  }

  void List(HttpRequest& request, const std::shared_ptr<Responder>& responder) {
    size_t max_items = 50;
    if (auto value = request.QueryParam("MaxItems")) {
      char* end = nullptr;
      long parsed = std::strtol(value->c_str(), &end, 10);
      if (value->empty() || *end != '\0' || parsed < 1 || parsed > 10000) {
        return responder->Respond(ErrorResponse(AwsError::Validation(
            "1 validation error detected: Value '" + *value +
            "' at 'maxItems' failed to satisfy constraint: Member must have value between 1 "
            "and 10000")));
      }
      max_items = static_cast<size_t>(parsed);
    }
    std::string marker = request.QueryParam("Marker").value_or("");
    Json list = Json::array();
    std::string next_marker;
    for (auto it = marker.empty() ? functions.begin() : functions.upper_bound(marker);
         it != functions.end(); ++it) {
      if (list.size() == max_items) {
        next_marker = list.back()["FunctionName"].get<std::string>();
        break;
      }
      list.push_back(it->second->ToApi(account));
    }
    Json out = {{"Functions", list}};
    if (!next_marker.empty()) out["NextMarker"] = next_marker;
    responder->Respond(JsonResponse(200, out));
  }

  void Get(HttpRequest& request, const std::string& name,
           const std::shared_ptr<Responder>& responder, bool configuration_only) {
    auto target = Resolve(request, name, responder);
    if (!target) return;
    Json configuration = target->config->ToApi(account);
    // Asked through a qualifier, Lambda names the qualified ARN ($LATEST or the alias).
    if (!target->qualifier.empty()) {
      configuration["FunctionArn"] = QualifiedArn(target->name, target->qualifier);
    }
    if (configuration_only) return responder->Respond(JsonResponse(200, configuration));
    std::string host(request.headers.Get("Host"));
    if (host.empty()) host = "127.0.0.1:4747";
    Json out = {{"Configuration", configuration},
                {"Code",
                 target->config->is_image()
                     ? ImageCodeLocation(*target->config)
                     : Json{{"RepositoryType", "S3"},
                            {"Location", "http://" + host + std::string(kCodeDownloadPrefix) +
                                             target->config->code_id + ".zip"}}}};
    if (auto reserved = limiter.reserved(target->name)) {
      out["Concurrency"] = {{"ReservedConcurrentExecutions", *reserved}};
    }
    responder->Respond(JsonResponse(200, out));
  }

  void Delete(HttpRequest& request, const std::string& name,
              const std::shared_ptr<Responder>& responder) {
    auto target = Resolve(request, name, responder);
    if (!target) return;
    const std::string& qualifier = target->qualifier;
    if (qualifier == "$LATEST") {
      return responder->Respond(ErrorResponse(AwsError::InvalidParameterValue(
          "$LATEST version cannot be deleted without deleting the function.")));
    }
    if (target->alias) {
      return responder->Respond(ErrorResponse(AwsError::InvalidParameterValue(
          "Deletion of aliases is not supported by DeleteFunction; use DeleteAlias.")));
    }
    if (!qualifier.empty()) return DeleteVersion(*target, responder);
    // The whole function: every version, alias and setting goes with it.
    std::vector<std::string> keys = {std::string(kFunctionKeyPrefix) + target->name,
                                     std::string(kLastVersionPrefix) + target->name,
                                     std::string(kConcurrencyPrefix) + target->name};
    for (const auto& [number, config] : versions[target->name]) {
      keys.push_back(VersionKey(target->name, number));
      DeleteSnapshot(target->name, config->version);
    }
    for (const auto& [alias, value] : aliases[target->name]) {
      keys.push_back(std::string(kAliasKeyPrefix) + target->name + "/" + alias);
    }
    for (const auto& [qual, value] : event_configs[target->name]) {
      keys.push_back(std::string(kEventConfigPrefix) + target->name + "/" + qual);
    }
    for (const auto& [qual, value] : provisioned[target->name]) {
      keys.push_back(std::string(kProvisionedPrefix) + target->name + "/" + qual);
    }
    for (const auto& key : keys) {
      Status deleted = store.Delete(key, true);
      if (!deleted.ok()) {
        return responder->Respond(ErrorResponse(AwsError::Service(deleted.message())));
      }
    }
    functions.erase(target->name);
    versions.erase(target->name);
    last_version.erase(target->name);
    aliases.erase(target->name);
    event_configs.erase(target->name);
    provisioned.erase(target->name);
    limiter.SetReserved(target->name, std::nullopt);
    invoker->RetireFunction(target->name);
    responder->Respond(NoContent());
  }

  void DeleteVersion(const Target& target, const std::shared_ptr<Responder>& responder) {
    std::vector<std::string> referencing;
    for (const auto& [alias_name, alias] : aliases[target.name]) {
      if (alias.version == target.qualifier || alias.additional_version == target.qualifier) {
        referencing.push_back(alias_name);
      }
    }
    if (!referencing.empty()) {
      std::string list;
      for (const auto& alias_name : referencing) list += (list.empty() ? "" : ", ") + alias_name;
      return responder->Respond(ErrorResponse(AwsError::ResourceConflict(
          "Unable to delete version because the following aliases reference it: [" + list +
          "]")));
    }
    int number = std::stoi(target.qualifier);
    Status deleted = store.Delete(VersionKey(target.name, number), true);
    if (!deleted.ok()) {
      return responder->Respond(ErrorResponse(AwsError::Service(deleted.message())));
    }
    versions[target.name].erase(number);
    DeleteSnapshot(target.name, target.qualifier);
    if (provisioned[target.name].erase(target.qualifier)) {
      (void)store.Delete(std::string(kProvisionedPrefix) + target.name + "/" + target.qualifier,
                         true);
    }
    invoker->SetRevision(target.config->PoolKey(), 0);
    responder->Respond(NoContent());
  }

  // ---- versions ------------------------------------------------------------------------

  void Publish(HttpRequest& request, const std::string& name,
               const std::shared_ptr<Responder>& responder) {
    auto latest = ResolveFunction(name, responder);
    if (!latest) return;
    AwsError error;
    Json body = Json::object();
    if (!request.body.empty()) {
      auto parsed = ParseJsonObject(request.body, &error);
      if (!parsed) return responder->Respond(ErrorResponse(error));
      body = *parsed;
    }
    if (auto sha = body.find("CodeSha256"); sha != body.end() && sha->is_string() &&
                                            sha->get<std::string>() != latest->code_sha256) {
      return responder->Respond(ErrorResponse(AwsError::InvalidParameterValue(
          "CodeSHA256 (" + sha->get<std::string>() +
          ") is different from current CodeSHA256 in $LATEST (" + latest->code_sha256 +
          "). Please try again with the current CodeSHA256.")));
    }
    if (auto revision = body.find("RevisionId");
        revision != body.end() && revision->is_string() &&
        revision->get<std::string>() != latest->revision_id) {
      return responder->Respond(ErrorResponse(
          {412, "PreconditionFailedException",
           "The Revision Id provided does not match the latest Revision Id. Call the "
           "GetFunction/GetAlias API to retrieve the latest Revision Id"}));
    }
    std::optional<std::string> description;
    if (auto field = body.find("Description"); field != body.end() && field->is_string()) {
      description = field->get<std::string>();
    }
    auto published = PublishFrom(*latest, description);
    if (!published.ok()) {
      return responder->Respond(ErrorResponse(AwsError::Service(published.status().message())));
    }
    responder->Respond(JsonResponse(201, (*published)->ToApi(account)));
  }

  // Publishes $LATEST as a new version, or returns the newest version when $LATEST did not
  // change since it was published (Lambda's no-op).
  Result<std::shared_ptr<const FunctionConfig>> PublishFrom(
      const FunctionConfig& latest, const std::optional<std::string>& description) {
    auto& list = versions[latest.name];
    if (!list.empty() && list.rbegin()->second->published_from == latest.revision) {
      return list.rbegin()->second;
    }
    FunctionConfig config = latest;
    int number = last_version[latest.name] + 1;
    config.version = std::to_string(number);
    config.published_from = latest.revision;
    config.revision = ++revision_counter;
    config.revision_id = NewUuid();
    config.last_modified_ms = NowUnixMillis();
    if (description) config.description = *description;
    if (config.snap_start()) {
      config.version_state = std::make_shared<VersionState>(
          VersionState{"Pending", "InProgress", "Creating", "The function is being created."});
    }
    HANEUL_RETURN_IF_ERROR(store.PutBatch(
        {{VersionKey(config.name, number), config.ToStorage().dump()},
         {std::string(kLastVersionPrefix) + config.name, std::to_string(number)}},
        /*sync=*/true));
    last_version[config.name] = number;
    auto stored = std::make_shared<const FunctionConfig>(std::move(config));
    list[number] = stored;
    spdlog::info("published {} version {}", stored->name, number);
    if (stored->snap_start()) {
      TakeSnapshot(stored);
    } else {
      Prewarm(stored);
    }
    return stored;
  }

  // ---- SnapStart -------------------------------------------------------------------------

  std::string SnapshotPath(const std::string& name, const std::string& version) const {
    return options.data_directory + "/snapshots/" + name + "/" + version + ".snap";
  }

  // Initialises a published SnapStart version off the request path: Pending until its snapshot
  // is ready (Active), or Failed with the reason.
  void TakeSnapshot(const std::shared_ptr<const FunctionConfig>& config) {
    std::shared_ptr<VersionState> state = config->version_state;
    auto fail = [state](const std::string& code, const std::string& reason) {
      *state = VersionState{"Failed", "Failed", code, reason};
    };
    auto directory = CodeDirectoryOf(*config);
    if (!directory.ok()) return fail("InternalError", directory.status().message());
    // Node's runtime runs threads, which fork cannot copy: its snapshots are criu's.
    std::string backend = config->runtime.starts_with("nodejs") ? "criu" : "fork-server";
    snapshot::SnapshotMetadata metadata{config->name, config->version, backend, config->code_sha256,
                              config->revision, NowUnixMillis()};
    std::string path = SnapshotPath(config->name, config->version);
    invoker->TakeSnapshot(config, *directory, [state, fail, metadata, path](Status status) {
      if (!status.ok()) {
        spdlog::warn("SnapStart {}:{} failed: {}", metadata.function, metadata.version,
                     status.message());
        return fail("FunctionError", status.message());
      }
      Status written = snapshot::WriteMetadataFile(path, metadata);
      if (!written.ok()) spdlog::warn("SnapStart metadata {}: {}", path, written.message());
      *state = VersionState{};
    });
  }

  // After a restart: every SnapStart version's template is built again (fork-server snapshots
  // are live processes). A version whose metadata is sound stays Active meanwhile (its
  // invocations cold-start until the template is ready); one without (or with a refused file)
  // is Pending, as when it was published.
  void RestoreSnapshots() {
    for (const auto& [name, list] : versions) {
      for (const auto& [number, config] : list) {
        if (!config->snap_start() || !config->version_state) continue;
        auto metadata = snapshot::ReadMetadataFile(SnapshotPath(name, config->version));
        if (metadata.ok() && metadata->revision == config->revision) {
          *config->version_state = VersionState{};
        } else if (!metadata.ok() && metadata.status().code() != Status::Code::kNotFound) {
          spdlog::warn("SnapStart {}:{}: {}; taking the snapshot again", name, config->version,
                       metadata.status().message());
        }
        TakeSnapshot(config);
      }
    }
  }

  void DeleteSnapshot(const std::string& name, const std::string& version) {
    invoker->DropSnapshot(name + ":" + version);
    std::error_code ec;
    std::filesystem::remove(SnapshotPath(name, version), ec);
    // The criu backend's image directory beside it.
    std::filesystem::remove_all(options.data_directory + "/snapshots/" + name + "/" + version, ec);
  }

  // With --prewarm, one environment of a new function or version starts at once (its init off
  // the request path, so its first REPORT has no Init Duration).
  void Prewarm(const std::shared_ptr<const FunctionConfig>& config) {
    if (!options.prewarm) return;
    auto directory = CodeDirectoryOf(*config);
    if (directory.ok()) invoker->Prewarm(config, *directory);
  }

  // CreateFunction / UpdateFunctionCode / UpdateFunctionConfiguration with "Publish": true
  // answer with the version they published.
  std::shared_ptr<const FunctionConfig> MaybePublish(
      const Json& body, std::shared_ptr<const FunctionConfig> stored) {
    auto publish = body.find("Publish");
    if (publish == body.end() || !publish->is_boolean() || !publish->get<bool>()) return stored;
    auto published = PublishFrom(*stored, std::nullopt);
    if (!published.ok()) {
      spdlog::error("publishing {}: {}", stored->name, published.status().message());
      return stored;
    }
    return *published;
  }

  void ListVersions(HttpRequest& request, const std::string& name,
                    const std::shared_ptr<Responder>& responder) {
    auto latest = ResolveFunction(name, responder);
    if (!latest) return;
    size_t max_items;
    std::string marker;
    AwsError error;
    if (!ListParams(request, &max_items, &marker, &error)) {
      return responder->Respond(ErrorResponse(error));
    }
    std::vector<std::shared_ptr<const FunctionConfig>> all = {latest};
    for (const auto& [number, config] : versions[latest->name]) all.push_back(config);
    size_t start = 0;
    if (!marker.empty()) {
      while (start < all.size() && all[start]->version != marker) ++start;
      ++start;  // the marker names the last item already returned
    }
    Json list = Json::array();
    std::string next_marker;
    for (size_t i = start; i < all.size(); ++i) {
      if (list.size() == max_items) {
        next_marker = all[i - 1]->version;
        break;
      }
      Json item = all[i]->ToApi(account);
      // Listed, $LATEST carries its qualified ARN as Lambda shows it.
      if (all[i]->is_latest()) item["FunctionArn"] = QualifiedArn(all[i]->name, "$LATEST");
      list.push_back(std::move(item));
    }
    Json out = {{"Versions", list}};
    if (!next_marker.empty()) out["NextMarker"] = next_marker;
    responder->Respond(JsonResponse(200, out));
  }

  // ---- aliases -------------------------------------------------------------------------

  // Validates Name, FunctionVersion, Description and RoutingConfig of a Create/UpdateAlias body
  // into alias. On failure answers and returns false.
  bool ApplyAlias(const Json& body, bool create, Alias* alias,
                  const std::shared_ptr<Responder>& responder) {
    auto fail = [&](AwsError error) {
      responder->Respond(ErrorResponse(std::move(error)));
      return false;
    };
    static const std::regex alias_pattern("(?!^[0-9]+$)([a-zA-Z0-9-_]+)");
    if (create) {
      auto name = body.find("Name");
      if (name == body.end() || !name->is_string()) {
        return fail(AwsError::Validation(
            "1 validation error detected: Value null at 'name' failed to satisfy constraint: "
            "Member must not be null"));
      }
      alias->name = name->get<std::string>();
      if (alias->name.empty() || alias->name.size() > 128 ||
          !std::regex_match(alias->name, alias_pattern)) {
        return fail(AwsError::Validation(
            "1 validation error detected: Value '" + alias->name +
            "' at 'name' failed to satisfy constraint: Member must satisfy regular expression "
            "pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"));
      }
    }
    auto version = body.find("FunctionVersion");
    if (version != body.end() && version->is_string()) {
      alias->version = version->get<std::string>();
    } else if (create) {
      return fail(AwsError::Validation(
          "1 validation error detected: Value null at 'functionVersion' failed to satisfy "
          "constraint: Member must not be null"));
    }
    if (alias->version != "$LATEST" && !IsVersionNumber(alias->version)) {
      return fail(AwsError::Validation(
          "1 validation error detected: Value '" + alias->version +
          "' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular "
          "expression pattern: (\\$LATEST|[0-9]+)"));
    }
    if (auto description = body.find("Description");
        description != body.end() && description->is_string()) {
      alias->description = description->get<std::string>();
    }
    if (auto routing = body.find("RoutingConfig"); routing != body.end()) {
      alias->additional_version.clear();
      alias->weight = 0;
      Json weights = routing->is_object() ? routing->value("AdditionalVersionWeights", Json())
                                          : Json();
      if (weights.is_object()) {
        for (auto& [key, value] : weights.items()) {
          if (!IsVersionNumber(key)) {
            return fail(AwsError::Validation(
                "1 validation error detected: Value '{" + key + "=" + value.dump() +
                "}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: "
                "Map keys must satisfy constraint: [Member must satisfy regular expression "
                "pattern: [0-9]+]"));
          }
          if (!value.is_number() || value.get<double>() < 0.0 || value.get<double>() > 1.0) {
            return fail(AwsError::Validation(
                "1 validation error detected: Value '{" + key + "=" + value.dump() +
                "}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: "
                "Map value must satisfy constraint: [Member must have value less than or equal "
                "to 1.0, Member must have value greater than or equal to 0.0]"));
          }
        }
        if (weights.size() > 1) {
          return fail(AwsError::InvalidParameterValue(
              "Number of items in AdditionalVersionWeights cannot be greater than 1"));
        }
        if (weights.size() == 1) {
          alias->additional_version = weights.begin().key();
          alias->weight = weights.begin().value().get<double>();
        }
      }
    }
    if (!alias->additional_version.empty()) {
      if (alias->version == "$LATEST" || alias->additional_version == "$LATEST") {
        return fail(AwsError::InvalidParameterValue(
            "$LATEST is not supported for an alias pointing to more than 1 version"));
      }
      if (alias->additional_version == alias->version) {
        return fail(AwsError::InvalidParameterValue(
            "Primary and additional version cannot be the same."));
      }
      if (!Lookup(alias->function, alias->additional_version)) {
        return fail(FunctionNotFound(alias->function, alias->additional_version));
      }
    }
    if (!Lookup(alias->function, alias->version)) {
      return fail(FunctionNotFound(alias->function, alias->version));
    }
    return true;
  }

  Status SaveAlias(const Alias& alias) {
    return store.Put(std::string(kAliasKeyPrefix) + alias.function + "/" + alias.name,
                     alias.ToStorage().dump(), /*sync=*/true);
  }

  void CreateAlias(HttpRequest& request, const std::string& name,
                   const std::shared_ptr<Responder>& responder) {
    auto latest = ResolveFunction(name, responder);
    if (!latest) return;
    AwsError error;
    auto body = ParseJsonObject(request.body, &error);
    if (!body) return responder->Respond(ErrorResponse(error));
    Alias alias;
    alias.function = latest->name;
    if (!ApplyAlias(*body, /*create=*/true, &alias, responder)) return;
    if (aliases[alias.function].count(alias.name)) {
      return responder->Respond(ErrorResponse(
          AwsError::ResourceConflict("Alias already exists: " + alias.Arn(account))));
    }
    alias.revision_id = NewUuid();
    Status saved = SaveAlias(alias);
    if (!saved.ok()) return responder->Respond(ErrorResponse(AwsError::Service(saved.message())));
    aliases[alias.function][alias.name] = alias;
    responder->Respond(JsonResponse(201, alias.ToApi(account)));
  }

  void AliasOp(HttpRequest& request, const std::string& name, const std::string& alias_name,
               const std::shared_ptr<Responder>& responder) {
    auto latest = ResolveFunction(name, responder);
    if (!latest) return;
    auto& list = aliases[latest->name];
    auto it = list.find(alias_name);
    if (request.method == "DELETE") {
      // Lambda answers 204 for an alias that is not there.
      if (it != list.end()) {
        Status deleted =
            store.Delete(std::string(kAliasKeyPrefix) + latest->name + "/" + alias_name, true);
        if (!deleted.ok()) {
          return responder->Respond(ErrorResponse(AwsError::Service(deleted.message())));
        }
        list.erase(it);
      }
      return responder->Respond(NoContent());
    }
    if (it == list.end()) {
      return responder->Respond(ErrorResponse(AwsError::ResourceNotFound(
          "Alias not found: " + QualifiedArn(latest->name, alias_name))));
    }
    if (request.method == "GET")
      return responder->Respond(JsonResponse(200, it->second.ToApi(account)));
    AwsError error;
    auto body = ParseJsonObject(request.body, &error);
    if (!body) return responder->Respond(ErrorResponse(error));
    if (auto revision = body->find("RevisionId");
        revision != body->end() && revision->is_string() &&
        revision->get<std::string>() != it->second.revision_id) {
      return responder->Respond(ErrorResponse(
          {412, "PreconditionFailedException",
           "The Revision Id provided does not match the latest Revision Id. Call the "
           "GetFunction/GetAlias API to retrieve the latest Revision Id"}));
    }
    Alias alias = it->second;
    if (!ApplyAlias(*body, /*create=*/false, &alias, responder)) return;
    alias.revision_id = NewUuid();
    Status saved = SaveAlias(alias);
    if (!saved.ok()) return responder->Respond(ErrorResponse(AwsError::Service(saved.message())));
    it->second = alias;
    responder->Respond(JsonResponse(200, alias.ToApi(account)));
  }

  void ListAliases(HttpRequest& request, const std::string& name,
                   const std::shared_ptr<Responder>& responder) {
    auto latest = ResolveFunction(name, responder);
    if (!latest) return;
    size_t max_items;
    std::string marker;
    AwsError error;
    if (!ListParams(request, &max_items, &marker, &error)) {
      return responder->Respond(ErrorResponse(error));
    }
    std::string version_filter = request.QueryParam("FunctionVersion").value_or("");
    Json list = Json::array();
    std::string next_marker;
    auto& all = aliases[latest->name];
    for (auto it = marker.empty() ? all.begin() : all.upper_bound(marker); it != all.end(); ++it) {
      if (!version_filter.empty() && it->second.version != version_filter) continue;
      if (list.size() == max_items) {
        next_marker = list.back()["Name"].get<std::string>();
        break;
      }
      list.push_back(it->second.ToApi(account));
    }
    Json out = {{"Aliases", list}};
    if (!next_marker.empty()) out["NextMarker"] = next_marker;
    responder->Respond(JsonResponse(200, out));
  }

  // ---- concurrency ---------------------------------------------------------------------

  void Concurrency(HttpRequest& request, const std::string& name,
                   const std::shared_ptr<Responder>& responder) {
    auto latest = ResolveFunction(name, responder);
    if (!latest) return;
    std::string key = std::string(kConcurrencyPrefix) + latest->name;
    if (request.method == "GET") {
      Json out = Json::object();
      if (auto reserved = limiter.reserved(latest->name)) {
        out["ReservedConcurrentExecutions"] = *reserved;
      }
      return responder->Respond(JsonResponse(200, out));
    }
    if (request.method == "DELETE") {
      Status deleted = store.Delete(key, true);
      if (!deleted.ok()) {
        return responder->Respond(ErrorResponse(AwsError::Service(deleted.message())));
      }
      limiter.SetReserved(latest->name, std::nullopt);
      return responder->Respond(NoContent());
    }
    AwsError error;
    auto body = ParseJsonObject(request.body, &error);
    if (!body) return responder->Respond(ErrorResponse(error));
    auto value = body->find("ReservedConcurrentExecutions");
    if (value == body->end() || value->is_null()) {
      return responder->Respond(ErrorResponse(AwsError::Validation(
          "1 validation error detected: Value null at 'reservedConcurrentExecutions' failed to "
          "satisfy constraint: Member must not be null")));
    }
    if (!value->is_number_integer()) {
      return responder->Respond(ErrorResponse(AwsError::InvalidRequestContent(
          "Could not parse request body into json: Could not parse payload into json: "
          "ReservedConcurrentExecutions must be an integer")));
    }
    int64_t reserved = value->get<int64_t>();
    if (reserved < 0) {
      return responder->Respond(ErrorResponse(AwsError::Validation(
          "1 validation error detected: Value '" + std::to_string(reserved) +
          "' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have "
          "value greater than or equal to 0")));
    }
    if (reserved > limiter.account_limit() ||
        !limiter.CanReserve(latest->name, static_cast<int>(reserved))) {
      return responder->Respond(ErrorResponse(AwsError::InvalidParameterValue(
          "Specified ReservedConcurrentExecutions for function decreases account's "
          "UnreservedConcurrentExecution below its minimum value of [" +
          std::to_string(ConcurrencyLimiter::kMinimumUnreserved) + "].")));
    }
    Status saved = store.Put(key, std::to_string(reserved), true);
    if (!saved.ok()) return responder->Respond(ErrorResponse(AwsError::Service(saved.message())));
    limiter.SetReserved(latest->name, static_cast<int>(reserved));
    responder->Respond(JsonResponse(200, Json{{"ReservedConcurrentExecutions", reserved}}));
  }

  void AccountSettings(HttpRequest&, const std::shared_ptr<Responder>& responder) {
    int64_t total_code = 0;
    for (const auto& [name, config] : functions) total_code += config->code_size;
    for (const auto& [name, list] : versions) {
      for (const auto& [number, config] : list) total_code += config->code_size;
    }
    Json out = {{"AccountLimit",
                 {{"TotalCodeSize", int64_t{80530636800}},
                  {"CodeSizeUnzipped", 262144000},
                  {"CodeSizeZipped", 52428800},
                  {"ConcurrentExecutions", limiter.account_limit()},
                  {"UnreservedConcurrentExecutions", limiter.unreserved_limit()}}},
                {"AccountUsage",
                 {{"TotalCodeSize", total_code},
                  {"FunctionCount", static_cast<int64_t>(functions.size())}}}};
    responder->Respond(JsonResponse(200, out));
  }

  // ---- provisioned concurrency --------------------------------------------------------

  Json ProvisionedToApi(const std::string& name, const std::string& qualifier,
                        const ProvisionedConfig& config) {
    auto target = Lookup(name, qualifier);
    size_t ready = target ? invoker->provisioned_ready(target->PoolKey()) : 0;
    bool failed = target && invoker->provisioned_failed(target->PoolKey());
    size_t available = std::min<size_t>(ready, static_cast<size_t>(config.count));
    Json out = {{"RequestedProvisionedConcurrentExecutions", config.count},
                {"AvailableProvisionedConcurrentExecutions", available},
                {"AllocatedProvisionedConcurrentExecutions", available},
                {"Status", failed ? "FAILED"
                           : available >= static_cast<size_t>(config.count) ? "READY"
                                                                            : "IN_PROGRESS"},
                {"LastModified", LambdaTimestamp(config.last_modified_ms)}};
    if (failed) out["StatusReason"] = "An environment of this version failed to initialise.";
    return out;
  }

  // Starts (or stops, with count 0) the provisioned environments of name:qualifier.
  void ApplyProvisioned(const std::string& name, const std::string& qualifier, int count) {
    auto target = Lookup(name, qualifier);
    if (!target) return;
    auto directory = CodeDirectoryOf(*target);
    if (!directory.ok()) {
      spdlog::error("provisioned concurrency of {}:{}: {}", name, qualifier,
                    directory.status().message());
      return;
    }
    invoker->SetProvisioned(target, *directory, static_cast<size_t>(count));
  }

  void ProvisionedOp(HttpRequest& request, const std::string& raw_name,
                     const std::shared_ptr<Responder>& responder) {
    if (request.method == "GET" && request.QueryParam("List").value_or("") == "ALL") {
      auto latest = ResolveFunction(raw_name, responder);
      if (!latest) return;
      Json list = Json::array();
      for (const auto& [qualifier, config] : provisioned[latest->name]) {
        Json item = ProvisionedToApi(latest->name, qualifier, config);
        item["FunctionArn"] = QualifiedArn(latest->name, qualifier);
        list.push_back(std::move(item));
      }
      return responder->Respond(JsonResponse(200, Json{{"ProvisionedConcurrencyConfigs", list}}));
    }
    auto target = Resolve(request, raw_name, responder);
    if (!target) return;
    if (target->qualifier.empty() || target->qualifier == "$LATEST") {
      return responder->Respond(ErrorResponse(AwsError::InvalidParameterValue(
          "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")));
    }
    if (target->alias && !target->alias->additional_version.empty()) {
      return responder->Respond(ErrorResponse(AwsError::InvalidParameterValue(
          "Alias with weights can not be used with Provisioned Concurrency")));
    }
    std::string key =
        std::string(kProvisionedPrefix) + target->name + "/" + target->qualifier;
    auto& configs = provisioned[target->name];
    auto existing = configs.find(target->qualifier);
    if (request.method == "GET") {
      if (existing == configs.end()) {
        return responder->Respond(ErrorResponse(
            {404, "ProvisionedConcurrencyConfigNotFoundException",
             "No Provisioned Concurrency Config found for this function"}));
      }
      return responder->Respond(
          JsonResponse(200, ProvisionedToApi(target->name, target->qualifier, existing->second)));
    }
    if (request.method == "DELETE") {
      if (existing != configs.end()) {
        Status deleted = store.Delete(key, true);
        if (!deleted.ok()) {
          return responder->Respond(ErrorResponse(AwsError::Service(deleted.message())));
        }
        configs.erase(existing);
        ApplyProvisioned(target->name, target->qualifier, 0);
      }
      return responder->Respond(NoContent());
    }
    AwsError error;
    auto body = ParseJsonObject(request.body, &error);
    if (!body) return responder->Respond(ErrorResponse(error));
    auto value = body->find("ProvisionedConcurrentExecutions");
    if (value == body->end() || !value->is_number_integer() || *value < 1) {
      return responder->Respond(ErrorResponse(AwsError::Validation(
          "1 validation error detected: Value '" + (value == body->end() ? "null" : value->dump()) +
          "' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have "
          "value greater than or equal to 1")));
    }
    int count = value->get<int>();
    if (auto reserved = limiter.reserved(target->name); reserved && count > *reserved) {
      return responder->Respond(ErrorResponse(AwsError::InvalidParameterValue(
          "Requested Provisioned Concurrency should not be greater than the "
          "reservedConcurrentExecution for function")));
    }
    ProvisionedConfig config{count, NowUnixMillis()};
    Status saved = store.Put(
        key, Json{{"count", count}, {"last_modified_ms", config.last_modified_ms}}.dump(), true);
    if (!saved.ok()) return responder->Respond(ErrorResponse(AwsError::Service(saved.message())));
    configs[target->qualifier] = config;
    ApplyProvisioned(target->name, target->qualifier, count);
    responder->Respond(
        JsonResponse(202, ProvisionedToApi(target->name, target->qualifier, config)));
  }

  // ---- event invoke configs ------------------------------------------------------------

  void EventInvokeConfig(HttpRequest& request, const std::string& raw_name,
                         const std::shared_ptr<Responder>& responder) {
    auto target = Resolve(request, raw_name, responder);
    if (!target) return;
    std::string qualifier = target->qualifier.empty() ? "$LATEST" : target->qualifier;
    std::string arn = QualifiedArn(target->name, qualifier);
    std::string key = std::string(kEventConfigPrefix) + target->name + "/" + qualifier;
    auto& configs = event_configs[target->name];
    auto existing = configs.find(qualifier);
    auto not_found = [&] {
      responder->Respond(ErrorResponse(AwsError::ResourceNotFound(
          "The function " + arn + " doesn't have an EventInvokeConfig")));
    };
    if (request.method == "GET") {
      if (existing == configs.end()) return not_found();
      return responder->Respond(JsonResponse(200, existing->second.ToApi(arn)));
    }
    if (request.method == "DELETE") {
      if (existing == configs.end()) return not_found();
      Status deleted = store.Delete(key, true);
      if (!deleted.ok()) {
        return responder->Respond(ErrorResponse(AwsError::Service(deleted.message())));
      }
      configs.erase(existing);
      return responder->Respond(NoContent());
    }
    bool update = request.method == "POST";
    if (update && existing == configs.end()) return not_found();
    AwsError error;
    auto body = ParseJsonObject(request.body, &error);
    if (!body) return responder->Respond(ErrorResponse(error));
    EventConfig config = update ? existing->second : EventConfig();
    std::vector<std::string> violations;
    if (auto retries = body->find("MaximumRetryAttempts"); retries != body->end()) {
      if (!retries->is_number_integer() || *retries < 0 || *retries > 2) {
        violations.push_back("Value '" + retries->dump() +
                             "' at 'maximumRetryAttempts' failed to satisfy constraint: Member "
                             "must have value " +
                             std::string(retries->is_number() && *retries < 0
                                             ? "greater than or equal to 0"
                                             : "less than or equal to 2"));
      } else {
        config.max_retries = retries->get<int>();
      }
    }
    if (auto age = body->find("MaximumEventAgeInSeconds"); age != body->end()) {
      if (!age->is_number_integer() || *age < 60 || *age > 21600) {
        violations.push_back("Value '" + age->dump() +
                             "' at 'maximumEventAgeInSeconds' failed to satisfy constraint: "
                             "Member must have value " +
                             std::string(age->is_number() && *age < 60
                                             ? "greater than or equal to 60"
                                             : "less than or equal to 21600"));
      } else {
        config.max_age_seconds = age->get<int>();
      }
    }
    if (!violations.empty()) {
      std::string message = std::to_string(violations.size()) + " validation error" +
                            (violations.size() > 1 ? "s" : "") + " detected: ";
      for (size_t i = 0; i < violations.size(); ++i) {
        message += (i ? "; " : "") + violations[i];
      }
      return responder->Respond(ErrorResponse(AwsError::Validation(message)));
    }
    if (auto destinations = body->find("DestinationConfig");
        destinations != body->end() && destinations->is_object()) {
      for (const char* field : {"OnSuccess", "OnFailure"}) {
        auto entry = destinations->find(field);
        if (entry == destinations->end()) continue;
        std::string arn_value;
        if (entry->is_object()) arn_value = entry->value("Destination", std::string());
        if (!arn_value.empty() && !ParseDestination(arn_value, account)) {
          return responder->Respond(ErrorResponse(AwsError::InvalidParameterValue(
              "The destination ARN " + arn_value + " is invalid or not supported here: use a "
              "function ARN (arn:aws:lambda:...:function:NAME) or a queue ARN "
              "(arn:aws:sqs:REGION:ACCOUNT:NAME).")));
        }
        (std::string_view(field) == "OnSuccess" ? config.on_success : config.on_failure) =
            arn_value;
      }
    }
    config.last_modified_ms = NowUnixMillis();
    Status saved = store.Put(key, config.ToStorage().dump(), true);
    if (!saved.ok()) return responder->Respond(ErrorResponse(AwsError::Service(saved.message())));
    configs[qualifier] = config;
    responder->Respond(JsonResponse(200, config.ToApi(arn)));
  }

  void ListEventInvokeConfigs(HttpRequest& request, const std::string& name,
                              const std::shared_ptr<Responder>& responder) {
    auto latest = ResolveFunction(name, responder);
    if (!latest) return;
    size_t max_items;
    std::string marker;
    AwsError error;
    if (!ListParams(request, &max_items, &marker, &error)) {
      return responder->Respond(ErrorResponse(error));
    }
    Json list = Json::array();
    std::string next_marker;
    auto& all = event_configs[latest->name];
    for (auto it = marker.empty() ? all.begin() : all.upper_bound(marker); it != all.end(); ++it) {
      if (list.size() == max_items) {
        next_marker = std::prev(it)->first;
        break;
      }
      list.push_back(it->second.ToApi(QualifiedArn(latest->name, it->first)));
    }
    Json out = {{"FunctionEventInvokeConfigs", list}};
    if (!next_marker.empty()) out["NextMarker"] = next_marker;
    responder->Respond(JsonResponse(200, out));
  }
  // Shared tail of both updates: precondition, save, retire old environments, answer.
  void Commit(FunctionConfig config, const Json& body,
              const std::shared_ptr<const FunctionConfig>& current,
              const std::shared_ptr<Responder>& responder) {
    if (auto revision = body.find("RevisionId");
        revision != body.end() && revision->is_string() &&
        revision->get<std::string>() != current->revision_id) {
      return responder->Respond(ErrorResponse(
          {412, "PreconditionFailedException",
           "The Revision Id provided does not match the latest Revision Id. Call the "
           "GetFunction/GetAlias API to retrieve the latest Revision Id"}));
    }
    config.last_modified_ms = NowUnixMillis();
    config.revision_id = NewUuid();
    config.revision = ++revision_counter;
    Status saved = Save(config);
    if (!saved.ok()) return responder->Respond(ErrorResponse(AwsError::Service(saved.message())));
    auto stored = std::make_shared<const FunctionConfig>(std::move(config));
    functions[stored->name] = stored;
    invoker->SetRevision(stored->PoolKey(), stored->revision);
    responder->Respond(JsonResponse(200, MaybePublish(body, stored)->ToApi(account)));
  }

  // Both updates: resolve, parse, change a copy of the configuration, commit.
  void Update(HttpRequest& request, const std::string& name,
              const std::shared_ptr<Responder>& responder, bool code_update) {
    (void)request;
    auto current = ResolveFunction(name, responder);
    if (!current) return;
    AwsError error;
    auto body = ParseJsonObject(request.body, &error);
    if (!body) return responder->Respond(ErrorResponse(error));
    FunctionConfig config = *current;
    bool applied = code_update ? StoreCode(*body, &config, &error)
                               : ApplyConfigRequest(*body, /*create=*/false, &config, &error) &&
                                     MemoryFits(config, &error);
    if (!applied) return responder->Respond(ErrorResponse(error));
    if (auto dry = body->find("DryRun");
        code_update && dry != body->end() && dry->is_boolean() && *dry) {
      return responder->Respond(JsonResponse(200, config.ToApi(account)));
    }
    Commit(std::move(config), *body, current, responder);
  }

  // ---- invoke --------------------------------------------------------------------------

  enum class Started { kYes, kReservedLimit, kAccountLimit, kNoCapacity, kError };

  // Runs one invocation of config (a version of function name) under the concurrency limits.
  // done fires once when kYes is returned, never otherwise.
  Started Run(const std::string& name, const std::shared_ptr<const FunctionConfig>& config,
              runtime_api::Invocation invocation, bool tail, Environment::Done done,
              std::string* error_message) {
    auto verdict = limiter.TryAcquire(name);
    if (verdict != ConcurrencyLimiter::Verdict::kOk) {
      ++metrics.Of(name, config->version).throttles;
      return verdict == ConcurrencyLimiter::Verdict::kReservedExceeded ? Started::kReservedLimit
                                                                        : Started::kAccountLimit;
    }
    auto directory = CodeDirectoryOf(*config);
    if (!directory.ok()) {
      limiter.Release(name);
      *error_message = directory.status().message();
      return Started::kError;
    }
    bool accepted = invoker->Invoke(
        config, *directory, std::move(invocation), tail,
        [this, name, done = std::move(done)](InvokeOutcome outcome) {
          limiter.Release(name);
          auto& series = metrics.Of(name, outcome.executed_version);
          ++series.invocations;
          if (outcome.function_error) ++series.errors;
          series.duration.Observe(outcome.duration_ms);
          if (outcome.init_duration_ms >= 0) {
            ++series.cold_starts;
            series.init_duration.Observe(outcome.init_duration_ms);
          } else {
            ++series.warm_starts;
          }
          done(std::move(outcome));
          // A slot is free: events waiting on a limit may go now.
          if (queue.depth() > 0) ScheduleDispatch();
        });
    if (!accepted) {
      limiter.Release(name);
      ++metrics.Of(name, config->version).throttles;
      return Started::kNoCapacity;
    }
    return Started::kYes;
  }

  // An alias with weighted routing picks its version per invocation.
  std::shared_ptr<const FunctionConfig> Route(const std::string& name, const Alias* alias,
                                              std::shared_ptr<const FunctionConfig> primary) {
    if (!alias || alias->additional_version.empty()) return primary;
    double uniform = std::uniform_real_distribution<double>(0.0, 1.0)(random);
    const std::string& version =
        PickAliasVersion(alias->version, alias->additional_version, alias->weight, uniform);
    auto config = Lookup(name, version);
    return config ? config : primary;
  }

  void Invoke(HttpRequest& request, const std::string& name,
              const std::shared_ptr<Responder>& responder) {
    auto target = Resolve(request, name, responder);
    if (!target) return;
    std::string type(request.headers.Get("X-Amz-Invocation-Type"));
    if (type.empty()) type = "RequestResponse";
    if (type != "RequestResponse" && type != "Event" && type != "DryRun") {
      return responder->Respond(ErrorResponse(AwsError::InvalidParameterValue(
          "1 validation error detected: Value '" + type +
          "' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value "
          "set: [Event, RequestResponse, DryRun]")));
    }
    if (request.body.size() > kMaxInvokePayload) {
      return responder->Respond(ErrorResponse(InvokePayloadTooLarge()));
    }
    if (type == "Event" && request.body.size() > kMaxAsyncPayload) {
      return responder->Respond(ErrorResponse(AwsError::RequestTooLarge(
          "Request must be smaller than " + std::to_string(kMaxAsyncPayload) +
          " bytes for the InvokeFunction operation")));
    }
    if (!request.body.empty() && !ValidJson(request.body)) {
      return responder->Respond(ErrorResponse(AwsError::InvalidRequestContent(
          "Could not parse request body into json: Could not parse payload into json: "
          "Unexpected character or end of input")));
    }
    if (type == "DryRun") return responder->Respond(NoContent());
    std::string client_context(request.headers.Get("X-Amz-Client-Context"));
    std::string decoded_context;
    if (!client_context.empty()) {
      if (!Base64Decode(client_context, &decoded_context) || !ValidJson(decoded_context)) {
        return responder->Respond(ErrorResponse(AwsError::InvalidRequestContent(
            "Client context must be a valid Base64-encoded JSON object.")));
      }
    }
    std::string payload = request.body.empty() ? "{}" : std::move(request.body);
    if (type == "Event") return Enqueue(*target, std::move(payload), responder);

    bool tail = request.headers.Get("X-Amz-Log-Type") == "Tail";
    auto config = Route(target->name, target->alias, target->config);
    if (config->version_state && config->version_state->state != "Active") {
      // A SnapStart version whose snapshot is not ready (or failed).
      return responder->Respond(ErrorResponse(AwsError::ResourceConflict(
          "The operation cannot be performed at this time. The function is currently in the "
          "following state: " + config->version_state->state)));
    }
    runtime_api::Invocation invocation;
    invocation.request_id = NewUuid();
    invocation.payload = std::move(payload);
    invocation.invoked_function_arn = QualifiedArn(target->name, target->qualifier);
    std::string trace(request.headers.Get("X-Amzn-Trace-Id"));
    invocation.trace_id = trace.empty() ? NewTraceId() : trace;
    invocation.client_context = decoded_context;
    std::string request_id = invocation.request_id;
    std::string error_message;
    Started started = Run(
        target->name, config, std::move(invocation), tail,
        [responder, request_id, tail](InvokeOutcome outcome) {
          HttpResponse response;
          response.status = 200;
          response.headers.Set("Content-Type", "application/json");
          response.headers.Set("x-amzn-RequestId", request_id);
          response.headers.Set("X-Amz-Executed-Version", outcome.executed_version);
          if (outcome.function_error) response.headers.Set("X-Amz-Function-Error", "Unhandled");
          if (tail) response.headers.Set("X-Amz-Log-Result", Base64Encode(outcome.log_tail));
          response.body = std::move(outcome.payload);
          responder->Respond(std::move(response));
        },
        &error_message);
    switch (started) {
      case Started::kYes:
        return;
      case Started::kReservedLimit:
        return responder->Respond(
            ThrottleResponse("ReservedFunctionConcurrentInvocationLimitExceeded"));
      case Started::kAccountLimit:
      case Started::kNoCapacity:
        return responder->Respond(ThrottleResponse("ConcurrentInvocationLimitExceeded"));
      case Started::kError:
        return responder->Respond(ErrorResponse(AwsError::Service(error_message)));
    }
  }

  // ---- async (Event) invocations -------------------------------------------------------

  void Enqueue(const Target& target, std::string payload,
               const std::shared_ptr<Responder>& responder) {
    AsyncEvent event;
    event.request_id = NewUuid();
    event.function = target.name;
    event.qualifier = target.qualifier;
    event.payload = std::move(payload);
    event.enqueued_ms = NowUnixMillis();
    event.next_attempt_ms = event.enqueued_ms;
    // Durable before the 202: Enqueue returns after the write-ahead log is fsynced.
    Status queued = queue.Enqueue(event);
    if (!queued.ok()) {
      return responder->Respond(ErrorResponse(AwsError::Service(queued.message())));
    }
    ++metrics.Of(target.name, target.config->version).async_accepted;
    HttpResponse response;
    response.status = 202;
    response.headers.Set("x-amzn-RequestId", event.request_id);
    responder->Respond(std::move(response));
    ScheduleDispatch();
  }

  EventConfig ConfigFor(const std::string& name, const std::string& qualifier) const {
    auto list = event_configs.find(name);
    if (list == event_configs.end()) return EventConfig();
    auto it = list->second.find(qualifier.empty() ? "$LATEST" : qualifier);
    return it == list->second.end() ? EventConfig() : it->second;
  }

  int64_t ThrottleRetryMs() const { return std::min<int64_t>(options.async_retry_delay_ms, 1000); }

  void ScheduleDispatch() {
    auto next = queue.NextDue();
    if (!next) return dispatch_timer.Cancel();
    int64_t delay = std::max<int64_t>(0, *next - NowUnixMillis());
    dispatch_timer.Start(std::chrono::milliseconds(delay), [this] { Dispatch(); });
  }

  void Dispatch() {
    for (AsyncEvent& event : queue.TakeDue(NowUnixMillis())) DeliverEvent(std::move(event));
    ScheduleDispatch();
  }

  void DeliverEvent(AsyncEvent event) {
    const Alias* alias = nullptr;
    auto config = Lookup(event.function, event.qualifier, &alias);
    if (!config) {
      // The function (or its version/alias) was deleted: Lambda discards such events.
      spdlog::warn("discarding event {} for {}: function not found", event.request_id,
                   QualifiedArn(event.function, event.qualifier));
      (void)queue.Remove(event.sequence);
      return;
    }
    EventConfig event_config = ConfigFor(event.function, event.qualifier);
    int64_t now = NowUnixMillis();
    if (now - event.enqueued_ms > int64_t{event_config.max_age()} * 1000) {
      return Conclude(event, event_config, "EventAgeExceeded", nullptr);
    }
    config = Route(event.function, alias, config);
    runtime_api::Invocation invocation;
    invocation.request_id = event.request_id;  // the same id on every retry, as on Lambda
    invocation.payload = event.payload;
    invocation.invoked_function_arn = QualifiedArn(event.function, event.qualifier);
    invocation.trace_id = NewTraceId();
    std::string error_message;
    Started started = Run(
        event.function, config, std::move(invocation), false,
        [this, event](InvokeOutcome outcome) { OnEventDone(event, std::move(outcome)); },
        &error_message);
    if (started != Started::kYes) {
      // Throttled (or out of capacity): Lambda retries these without counting an attempt.
      queue.Return(event.sequence, NowUnixMillis() + ThrottleRetryMs());
    }
  }

  void OnEventDone(AsyncEvent event, InvokeOutcome outcome) {
    ++event.attempts;
    EventConfig event_config = ConfigFor(event.function, event.qualifier);
    int64_t next = 0;
    AsyncNext decision =
        DecideAfterAttempt(event, outcome.function_error, event_config.retries(),
                           event_config.max_age(), options.async_retry_delay_ms,
                           NowUnixMillis(), &next);
    switch (decision) {
      case AsyncNext::kSucceeded:
        Conclude(event, event_config, "Success", &outcome);
        break;
      case AsyncNext::kRetry: {
        event.next_attempt_ms = next;
        ++metrics.Of(event.function, outcome.executed_version).async_retries;
        Status updated = queue.Update(event);
        if (!updated.ok()) spdlog::error("async queue: {}", updated.message());
        break;
      }
      case AsyncNext::kRetriesExhausted:
        Conclude(event, event_config, "RetriesExhausted", &outcome);
        break;
      case AsyncNext::kEventAgeExceeded:
        Conclude(event, event_config, "EventAgeExceeded", &outcome);
        break;
    }
    ScheduleDispatch();
  }

  // The end of an event: the destination record (if one is configured for this outcome) is
  // persisted before the event leaves the queue, so a crash in between repeats, never loses.
  void Conclude(const AsyncEvent& event, const EventConfig& event_config,
                const std::string& condition, const InvokeOutcome* outcome) {
    bool success = condition == "Success";
    if (!success)
      ++metrics.Of(event.function, outcome ? outcome->executed_version : "$LATEST").async_dropped;
    const std::string& destination = success ? event_config.on_success : event_config.on_failure;
    if (!destination.empty()) {
      Json record = {
          {"version", "1.0"},
          {"timestamp", IsoTimestamp(NowUnixMillis())},
          {"requestContext",
           {{"requestId", event.request_id},
            {"functionArn",
             QualifiedArn(event.function, event.qualifier.empty() ? "$LATEST" : event.qualifier)},
            {"condition", condition},
            {"approximateInvokeCount", event.attempts}}},
          {"requestPayload", PayloadAsJson(event.payload)}};
      if (outcome) {
        Json context = {{"statusCode", 200}, {"executedVersion", outcome->executed_version}};
        if (outcome->function_error) context["functionError"] = "Unhandled";
        record["responseContext"] = context;
        record["responsePayload"] = PayloadAsJson(outcome->payload);
      }
      Status sent = SendToDestination(destination, record.dump());
      if (!sent.ok()) {
        spdlog::error("destination {} for event {}: {}", destination, event.request_id,
                      sent.message());
      }
    } else if (!success) {
      spdlog::warn("event {} for {} failed ({}) and has no failure destination", event.request_id,
                   event.function, condition);
    }
    Status removed = queue.Remove(event.sequence);
    if (!removed.ok()) spdlog::error("async queue: {}", removed.message());
  }

  Status SendToDestination(const std::string& arn, const std::string& record) {
    auto destination = ParseDestination(arn, account);
    if (!destination) return Status::InvalidArgument("unsupported destination " + arn);
    if (destination->kind == Destination::Kind::kQueue) {
      return queue.AppendDeadLetter(destination->name, record);
    }
    // A function destination is invoked asynchronously with the record as its event.
    AsyncEvent event;
    event.request_id = NewUuid();
    event.function = destination->name;
    event.qualifier = destination->qualifier;
    event.payload = record;
    event.enqueued_ms = NowUnixMillis();
    event.next_attempt_ms = event.enqueued_ms;
    return queue.Enqueue(event);
  }

  // ---- /metrics and /_haneul/dlq ---------------------------------------------------------

  void ServeMetrics(const std::shared_ptr<Responder>& responder) {
    Metrics::Gauges gauges;
    for (const auto& [name, config] : functions) {
      gauges.concurrent_executions[name] = limiter.in_flight(name);
    }
    gauges.concurrent_total = limiter.in_flight();
    gauges.async_depth = queue.DepthByFunction();
    if (auto oldest = queue.oldest_enqueued_ms()) {
      gauges.async_oldest_age_seconds =
          std::max<double>(0, static_cast<double>(NowUnixMillis() - *oldest) / 1000.0);
    }
    gauges.environments_live = invoker->live_environments();
    gauges.environments_frozen = invoker->frozen_environments();
    gauges.memory_in_use_mb = invoker->memory_in_use_mb();
    HttpResponse response;
    response.headers.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    response.body = metrics.Render(gauges);
    responder->Respond(std::move(response));
  }

  void ServeDeadLetters(const HttpRequest& request, const std::shared_ptr<Responder>& responder) {
    std::string rest = request.path.substr(kDlqPrefix.size());
    if (request.method != "GET") {
      return responder->Respond(HttpResponse::Json(405, R"({"message":"Method Not Allowed"})"));
    }
    if (rest.empty() || rest == "/") {
      Json queues = Json::array();
      for (const auto& [name, count] : queue.DeadLetterQueues()) {
        queues.push_back({{"Name", name}, {"Count", count}});
      }
      return responder->Respond(JsonResponse(200, Json{{"Queues", queues}}));
    }
    std::string name = rest.substr(1);
    Json messages = Json::array();
    for (const auto& record : queue.ReadDeadLetters(name))
      messages.push_back(PayloadAsJson(record));
    responder->Respond(JsonResponse(200, Json{{"Name", name}, {"Messages", messages}}));
  }

  void DownloadCode(const HttpRequest& request, const std::shared_ptr<Responder>& responder) {
    std::string file = request.path.substr(kCodeDownloadPrefix.size());
    if (file.size() != 68 || !file.ends_with(".zip") ||
        file.find_first_not_of("0123456789abcdef") != 64) {
      return responder->Respond(HttpResponse::Json(404, R"({"message":"Not Found"})"));
    }
    std::string path = code.ZipPath(file.substr(0, 64));
    std::FILE* handle = std::fopen(path.c_str(), "rb");
    if (!handle) return responder->Respond(HttpResponse::Json(404, R"({"message":"Not Found"})"));
    HttpResponse response;
    response.headers.Set("Content-Type", "application/zip");
    char buffer[65536];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), handle)) > 0) response.body.append(buffer, n);
    std::fclose(handle);
    responder->Respond(std::move(response));
  }

  EventLoop& loop;
  KvStore& store;
  LogStore& logs;
  LambdaOptions options;
  AccountInfo account;
  CodeStore code;
  std::unique_ptr<images::ImageStore> images;  // image functions' images (data/images)
  ConcurrencyLimiter limiter;
  AsyncQueue queue;
  Metrics metrics;
  Timer dispatch_timer;
  std::mt19937_64 random;
  std::unique_ptr<sandbox::Sandbox> sandbox;
  std::unique_ptr<Invoker> invoker;
  std::map<std::string, std::shared_ptr<const FunctionConfig>> functions;  // $LATEST
  std::map<std::string, std::map<int, std::shared_ptr<const FunctionConfig>>> versions;
  std::map<std::string, int> last_version;  // never reused, even after a version is deleted
  std::map<std::string, std::map<std::string, Alias>> aliases;
  std::map<std::string, std::map<std::string, EventConfig>> event_configs;  // by qualifier
  std::map<std::string, std::map<std::string, ProvisionedConfig>> provisioned;  // by qualifier
  uint64_t revision_counter = 0;
  Router router;
};

LambdaService::LambdaService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LambdaService::~LambdaService() {
  impl_->dispatch_timer.Cancel();
  // Environments first: their callbacks point into the rest of impl_.
  impl_->invoker.reset();
}

Result<std::unique_ptr<LambdaService>> LambdaService::Create(EventLoop& loop, KvStore& store,
                                                             LogStore& logs,
                                                             LambdaOptions options) {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGE_SIZE);
  int64_t physical_mb = pages > 0 && page_size > 0
                            ? static_cast<int64_t>((pages / 1024) * (page_size / 1024))
                            : 10240;
  if (options.max_function_memory_mb <= 0) {
    options.max_function_memory_mb = static_cast<int>(physical_mb);
  }
  // Environments are counted at their MemorySize, a ceiling that few reach (an idle python
  // environment holds ~5 MB): the default budget overcommits physical memory 4x, as a limit
  // rather than a reservation. Each environment's own cgroup still stops it at its MemorySize.
  if (options.memory_budget_mb <= 0) options.memory_budget_mb = physical_mb * 4;
  auto impl = std::make_unique<Impl>(loop, store, logs, std::move(options));
  // The same store as `haneul image` uses with the same data folder.
  auto images = images::ImageStore::Open(impl->options.data_directory + "/images");
  if (!images.ok()) return images.status().WithContext("opening the image store");
  impl->images = std::move(*images);
  // "auto": the namespace backend where this host allows it, else the process backend, said
  // loudly because it isolates nothing.
  std::string backend = impl->options.sandbox;
  sandbox::SandboxOptions sandbox_options;
  sandbox_options.uid = static_cast<uid_t>(impl->options.sandbox_uid);
  sandbox_options.gid = static_cast<gid_t>(impl->options.sandbox_gid);
  sandbox_options.host_network = impl->options.sandbox_host_network;
  auto sandbox =
      sandbox::MakeSandbox(backend == "auto" ? "namespace" : backend, sandbox_options);
  if (!sandbox.ok() && backend == "auto") {
    spdlog::warn("namespace sandbox unavailable ({}); using the process sandbox, which isolates "
                 "nothing and enforces no limits",
                 sandbox.status().message());
    sandbox = sandbox::MakeSandbox("process");
  }
  if (!sandbox.ok()) return sandbox.status();
  impl->sandbox = std::move(*sandbox);
  HANEUL_RETURN_IF_ERROR(impl->Load().WithContext("loading functions"));
  for (auto& [name, function] : impl->functions) {
    impl->revision_counter = std::max(impl->revision_counter, function->revision);
  }
  for (auto& [name, list] : impl->versions) {
    for (auto& [number, function] : list) {
      impl->revision_counter = std::max(impl->revision_counter, function->revision);
    }
  }

  EnvironmentContext context;
  context.loop = &loop;
  context.sandbox = impl->sandbox.get();
  context.logs = &logs;
  context.account = impl->account;
  context.runtimes_dir = impl->options.runtimes_directory;
  context.python = impl->options.python;
  context.node = impl->options.node;
  context.scratch_root = impl->options.data_directory + "/scratch";
  if (!impl->options.function_access_key.empty()) {
    context.access_key = impl->options.function_access_key;
    context.secret_key = impl->options.function_secret_key;
  }
  context.init_timeout = std::chrono::milliseconds(impl->options.init_timeout_ms);
  impl->context_services = context.services;
  std::error_code ec;
  std::filesystem::remove_all(context.scratch_root, ec);  // left by a previous run
  std::filesystem::create_directories(context.scratch_root, ec);
  PoolOptions pool;
  pool.max_environments = impl->options.max_environments;
  pool.keep_alive = std::chrono::milliseconds(int64_t{impl->options.keep_alive_seconds} * 1000);
  pool.freeze_after = std::chrono::milliseconds(impl->options.freeze_after_ms);
  pool.memory_budget_mb = impl->options.memory_budget_mb;
  impl->invoker = std::make_unique<Invoker>(std::move(context), pool);
  {
    // SnapStart's backend; copies get cgroups of their own where the sandbox has them.
    snapshot::SnapshotterOptions snapshot_options;
    snapshot_options.cgroups = impl->sandbox->name() == "namespace";
    snapshot_options.snapshots_directory = impl->options.data_directory + "/snapshots";
    // "auto": fork-server for python, criu for nodejs (when this host's criu passes ProbeCriu).
    auto snapshotter = snapshot::MakeSnapshotter("auto", snapshot_options);
    if (snapshotter.ok()) {
      // Making "auto" probed criu already; probe again only to say why it is unusable.
      bool criu = (*snapshotter)->ForRuntime("nodejs20.x")->name() == "criu";
      spdlog::info("SnapStart: fork-server backend for python; criu backend for nodejs {}",
                   criu ? std::string("(criu is usable)")
                        : "unavailable: " + snapshot::ProbeCriu().message());
      impl->invoker->SetSnapshotter(std::move(*snapshotter));
    } else {
      spdlog::warn("SnapStart unavailable: {}", snapshotter.status().message());
    }
  }
  impl->AddRoutes();
  if (impl->queue.depth() > 0) {
    spdlog::info("async queue: {} event(s) left by the previous run", impl->queue.depth());
  }
  // Delivery starts once the loop runs (events left by a previous run included).
  Impl* raw = impl.get();
  loop.Post([raw] {
    raw->ScheduleDispatch();
    raw->RestoreSnapshots();
    for (const auto& [name, list] : raw->provisioned) {
      for (const auto& [qualifier, config] : list)
        raw->ApplyProvisioned(name, qualifier, config.count);
    }
  });
  return std::unique_ptr<LambdaService>(new LambdaService(std::move(impl)));
}
std::string LambdaService::sandbox_name() const { return impl_->sandbox->name(); }

void LambdaService::ServeServicesToFunctions(std::string host_url, HttpListenOptions listen,
                                             HttpHandler handler) {
  auto& services = *impl_->context_services;
  services.host_url = std::move(host_url);
  services.listen = std::move(listen);
  services.handler = std::move(handler);
}

HttpResponse LambdaService::RequestTooLarge(const HttpRequest& request) const {
  if (request.path.ends_with("/invocations")) return ErrorResponse(InvokePayloadTooLarge());
  return ErrorResponse({413, "RequestEntityTooLargeException",
                        "Request must be smaller than 70167211 bytes"});
}

bool LambdaService::HasFunction(const std::string& name) const {
  return impl_->functions.count(name) > 0;
}

Status LambdaService::InvokeAsync(const std::string& function, std::string payload) {
  AwsError error;
  auto ref = ParseFunctionRef(function, impl_->account, &error);
  if (!ref) return Status::InvalidArgument(error.message);
  if (!impl_->functions.count(ref->name)) {
    return Status::NotFound("Function not found: " + function);
  }
  AsyncEvent event;
  event.request_id = NewUuid();
  event.function = ref->name;
  event.qualifier = ref->qualifier;
  event.payload = std::move(payload);
  event.enqueued_ms = NowUnixMillis();
  event.next_attempt_ms = event.enqueued_ms;
  HANEUL_RETURN_IF_ERROR(impl_->queue.Enqueue(event));
  impl_->ScheduleDispatch();
  return Status::Ok();
}

namespace {
// Hands the answer of an in-process invocation to a callback.
class CallbackResponder final : public Responder {
 public:
  explicit CallbackResponder(std::function<void(HttpResponse)> done) : done_(std::move(done)) {}
  void Respond(HttpResponse response) override {
    if (responded_) return;
    responded_ = true;
    auto done = std::move(done_);
    done(std::move(response));
  }
  bool responded() const override { return responded_; }

 private:
  std::function<void(HttpResponse)> done_;
  bool responded_ = false;
};
}  // namespace

void LambdaService::Invoke(const std::string& function, std::string payload,
                           std::function<void(HttpResponse)> done, Headers headers) {
  HttpRequest request;
  request.method = "POST";
  request.path = "/2015-03-31/functions/" + function + "/invocations";
  request.target = request.path;
  request.headers = std::move(headers);
  request.headers.Set("X-Amz-Invocation-Type", "RequestResponse");
  request.body = std::move(payload);
  request.remote_address = "127.0.0.1";
  auto responder = std::make_shared<CallbackResponder>(std::move(done));
  impl_->Invoke(request, function, responder);
}

bool LambdaService::Handle(HttpRequest& request, const std::shared_ptr<Responder>& responder) {
  if (request.path.starts_with(kCodeDownloadPrefix) && request.method == "GET") {
    impl_->DownloadCode(request, responder);
    return true;
  }
  if (request.path == "/metrics" && request.method == "GET") {
    impl_->ServeMetrics(responder);
    return true;
  }
  if (request.path == kDlqPrefix || request.path.starts_with(std::string(kDlqPrefix) + "/")) {
    impl_->ServeDeadLetters(request, responder);
    return true;
  }
  static constexpr std::string_view kApiVersions[] = {"/2015-03-31/", "/2016-08-19/",
                                                      "/2017-10-31/", "/2019-09-25/",
                                                      "/2019-09-30/", "/2018-"};
  bool ours = false;
  for (auto prefix : kApiVersions) ours = ours || request.path.starts_with(prefix);
  if (!ours) return false;
  if (!impl_->router.Dispatch(request, responder)) {
    responder->Respond(ErrorResponse(
        {404, "UnknownOperationException",
         "Unknown operation " + request.method + " " + request.path}));
  }
  return true;
}

}  // namespace haneul::invoker
