// LambdaService: routes, validation and wire shapes of the Lambda API.
// Errors use Lambda's rest-json shape: status code, `x-amzn-ErrorType: <Name>` and a body
// {"Type":"User","message":"..."}.
#include "haneul/invoker/lambda_service.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "code_store.h"
#include "function_config.h"
#include "haneul/common/aws_error.h"
#include "haneul/common/ids.h"
#include "invoker.h"

namespace haneul::invoker {

namespace {

constexpr size_t kMaxInvokePayload = 6291456;
constexpr std::string_view kFunctionKeyPrefix = "lambda/fn/";
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

struct LambdaService::Impl {
  Impl(EventLoop& loop, KvStore& store, LogStore& logs, LambdaOptions options)
      : loop(loop),
        store(store),
        logs(logs),
        options(std::move(options)),
        code(this->options.data_directory + "/code") {
    account.region = this->options.region;
    account.account_id = this->options.account_id;
  }

  Status Load() {
    return store.Scan(kFunctionKeyPrefix, "", [&](std::string_view, std::string_view value) {
      auto parsed = Json::parse(value, nullptr, false);
      auto config = FunctionConfig::FromStorage(parsed);
      if (config) {
        std::string name = config->name;
        functions[name] = std::make_shared<const FunctionConfig>(std::move(*config));
      } else {
        spdlog::error("skipping a corrupt function record");
      }
      return true;
    });
  }

  void AddRoutes() {
    router.Add("POST", "/2015-03-31/functions", [this](auto& r, auto&, auto s) { Create(r, s); });
    router.Add("POST", "/2015-03-31/functions/", [this](auto& r, auto&, auto s) { Create(r, s); });
    router.Add("GET", "/2015-03-31/functions/", [this](auto& r, auto&, auto s) { List(r, s); });
    router.Add("GET", "/2015-03-31/functions", [this](auto& r, auto&, auto s) { List(r, s); });
    router.Add("GET", "/2015-03-31/functions/{FunctionName}",
               [this](auto& r, auto& p, auto s) { Get(r, p.at("FunctionName"), s, false); });
    router.Add("GET", "/2015-03-31/functions/{FunctionName}/configuration",
               [this](auto& r, auto& p, auto s) { Get(r, p.at("FunctionName"), s, true); });
    router.Add("DELETE", "/2015-03-31/functions/{FunctionName}",
               [this](auto& r, auto& p, auto s) { Delete(r, p.at("FunctionName"), s); });
    router.Add("PUT", "/2015-03-31/functions/{FunctionName}/configuration",
               [this](auto& r, auto& p, auto s) { Update(r, p.at("FunctionName"), s, false); });
    router.Add("PUT", "/2015-03-31/functions/{FunctionName}/code",
               [this](auto& r, auto& p, auto s) { Update(r, p.at("FunctionName"), s, true); });
    router.Add("POST", "/2015-03-31/functions/{FunctionName}/invocations",
               [this](auto& r, auto& p, auto s) { Invoke(r, p.at("FunctionName"), s); });
  }

  // Resolves a FunctionName path parameter and qualifier to a stored function, or answers.
  std::shared_ptr<const FunctionConfig> Resolve(const HttpRequest& request,
                                                const std::string& raw_name,
                                                const std::shared_ptr<Responder>& responder) {
    AwsError error;
    auto ref = ParseFunctionRef(raw_name, account, &error);
    if (!ref) {
      responder->Respond(ErrorResponse(error));
      return nullptr;
    }
    std::string qualifier = ref->qualifier;
    if (auto query = request.QueryParam("Qualifier"); query && !query->empty()) {
      qualifier = *query;
    }
    auto it = functions.find(ref->name);
    if (it == functions.end() || (!qualifier.empty() && qualifier != "$LATEST")) {
      std::string arn = "arn:aws:lambda:" + account.region + ":" + account.account_id +
                        ":function:" + ref->name + (qualifier.empty() ? "" : ":" + qualifier);
      responder->Respond(ErrorResponse(AwsError::ResourceNotFound("Function not found: " + arn)));
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

  // Decodes Code.ZipFile (or a bare ZipFile for UpdateFunctionCode) and stores it.
  bool StoreCode(const Json& code, FunctionConfig* config, AwsError* error) {
    if (!code.is_object()) {
      *error = AwsError::InvalidRequestContent(
          "Could not parse request body into json: Code must be an object");
      return false;
    }
    if (code.contains("ImageUri")) {
      *error = AwsError::InvalidParameterValue(
          "Container image functions (ImageUri) are not supported by this server yet.");
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
    responder->Respond(JsonResponse(201, stored->ToApi(account)));
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
    auto function = Resolve(request, name, responder);
    if (!function) return;
    if (configuration_only) return responder->Respond(JsonResponse(200, function->ToApi(account)));
    std::string host(request.headers.Get("Host"));
    if (host.empty()) host = "127.0.0.1:4747";
    Json out = {{"Configuration", function->ToApi(account)},
                {"Code",
                 {{"RepositoryType", "S3"},
                  {"Location", "http://" + host + std::string(kCodeDownloadPrefix) +
                                   function->code_id + ".zip"}}}};
    responder->Respond(JsonResponse(200, out));
  }

  void Delete(HttpRequest& request, const std::string& name,
              const std::shared_ptr<Responder>& responder) {
    auto function = Resolve(request, name, responder);
    if (!function) return;
    Status deleted = store.Delete(std::string(kFunctionKeyPrefix) + function->name, true);
    if (!deleted.ok()) {
      return responder->Respond(ErrorResponse(AwsError::Service(deleted.message())));
    }
    functions.erase(function->name);
    invoker->SetRevision(function->name, 0);
    HttpResponse response;
    response.status = 204;
    response.headers.Set("x-amzn-RequestId", NewUuid());
    responder->Respond(std::move(response));
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
    invoker->SetRevision(stored->name, stored->revision);
    responder->Respond(JsonResponse(200, stored->ToApi(account)));
  }

  // Both updates: resolve, parse, change a copy of the configuration, commit.
  void Update(HttpRequest& request, const std::string& name,
              const std::shared_ptr<Responder>& responder, bool code_update) {
    auto current = Resolve(request, name, responder);
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

  void Invoke(HttpRequest& request, const std::string& name,
              const std::shared_ptr<Responder>& responder) {
    auto function = Resolve(request, name, responder);
    if (!function) return;
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
    if (!request.body.empty() &&
        !Json::accept(request.body)) {
      return responder->Respond(ErrorResponse(AwsError::InvalidRequestContent(
          "Could not parse request body into json: Could not parse payload into json: "
          "Unexpected character or end of input")));
    }
    if (type == "DryRun") {
      HttpResponse response;
      response.status = 204;
      response.headers.Set("x-amzn-RequestId", NewUuid());
      return responder->Respond(std::move(response));
    }
    if (type == "Event") {
      return responder->Respond(ErrorResponse(AwsError::InvalidParameterValue(
          "InvocationType Event is not supported by this server yet; use RequestResponse.")));
    }
    std::string log_type(request.headers.Get("X-Amz-Log-Type"));
    bool tail = log_type == "Tail";

    runtime_api::Invocation invocation;
    invocation.request_id = NewUuid();
    invocation.payload = request.body.empty() ? "{}" : std::move(request.body);
    invocation.invoked_function_arn = function->Arn(account);
    if (auto qualifier = request.QueryParam("Qualifier"); qualifier && !qualifier->empty()) {
      invocation.invoked_function_arn += ":" + *qualifier;
    }
    std::string trace(request.headers.Get("X-Amzn-Trace-Id"));
    invocation.trace_id = trace.empty() ? NewTraceId() : trace;
    std::string client_context(request.headers.Get("X-Amz-Client-Context"));
    if (!client_context.empty()) {
      std::string decoded;
      if (!Base64Decode(client_context, &decoded) || !Json::accept(decoded)) {
        return responder->Respond(ErrorResponse(AwsError::InvalidRequestContent(
            "Client context must be a valid Base64-encoded JSON object.")));
      }
      invocation.client_context = decoded;
    }
    auto directory = code.Directory(function->code_id);
    if (!directory.ok()) {
      return responder->Respond(ErrorResponse(AwsError::Service(directory.status().message())));
    }
    std::string request_id = invocation.request_id;
    bool accepted = invoker->Invoke(
        function, *directory, std::move(invocation), tail,
        [responder, request_id, tail](InvokeOutcome outcome) {
          HttpResponse response;
          response.status = 200;
          response.headers.Set("Content-Type", "application/json");
          response.headers.Set("x-amzn-RequestId", request_id);
          response.headers.Set("X-Amz-Executed-Version", "$LATEST");
          if (outcome.function_error) response.headers.Set("X-Amz-Function-Error", "Unhandled");
          if (tail) response.headers.Set("X-Amz-Log-Result", Base64Encode(outcome.log_tail));
          response.body = std::move(outcome.payload);
          responder->Respond(std::move(response));
        });
    if (!accepted) {
      responder->Respond(ErrorResponse(
          {429, "TooManyRequestsException", "Rate Exceeded."}));
    }
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
  std::unique_ptr<sandbox::Sandbox> sandbox;
  std::unique_ptr<Invoker> invoker;
  std::map<std::string, std::shared_ptr<const FunctionConfig>> functions;
  uint64_t revision_counter = 0;
  Router router;
};

LambdaService::LambdaService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LambdaService::~LambdaService() = default;

Result<std::unique_ptr<LambdaService>> LambdaService::Create(EventLoop& loop, KvStore& store,
                                                             LogStore& logs,
                                                             LambdaOptions options) {
  if (options.max_function_memory_mb <= 0) {
    long pages = sysconf(_SC_PHYS_PAGES);
    long page_size = sysconf(_SC_PAGE_SIZE);
    options.max_function_memory_mb =
        pages > 0 && page_size > 0 ? static_cast<int>((pages / 1024) * (page_size / 1024)) : 10240;
  }
  auto impl = std::make_unique<Impl>(loop, store, logs, std::move(options));
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

  EnvironmentContext context;
  context.loop = &loop;
  context.sandbox = impl->sandbox.get();
  context.logs = &logs;
  context.account = impl->account;
  context.runtimes_dir = impl->options.runtimes_directory;
  context.python = impl->options.python;
  context.node = impl->options.node;
  context.scratch_root = impl->options.data_directory + "/scratch";
  context.init_timeout = std::chrono::milliseconds(impl->options.init_timeout_ms);
  std::error_code ec;
  std::filesystem::remove_all(context.scratch_root, ec);  // left by a previous run
  std::filesystem::create_directories(context.scratch_root, ec);
  impl->invoker = std::make_unique<Invoker>(std::move(context), impl->options.max_environments);
  impl->AddRoutes();
  return std::unique_ptr<LambdaService>(new LambdaService(std::move(impl)));
}

std::string LambdaService::sandbox_name() const { return impl_->sandbox->name(); }

HttpResponse LambdaService::RequestTooLarge(const HttpRequest& request) const {
  if (request.path.ends_with("/invocations")) return ErrorResponse(InvokePayloadTooLarge());
  return ErrorResponse({413, "RequestEntityTooLargeException",
                        "Request must be smaller than 70167211 bytes"});
}

bool LambdaService::HasFunction(const std::string& name) const {
  return impl_->functions.count(name) > 0;
}

bool LambdaService::Handle(HttpRequest& request, const std::shared_ptr<Responder>& responder) {
  if (request.path.starts_with(kCodeDownloadPrefix) && request.method == "GET") {
    impl_->DownloadCode(request, responder);
    return true;
  }
  if (!request.path.starts_with("/2015-03-31/") && !request.path.starts_with("/2018-")) {
    return false;
  }
  if (!impl_->router.Dispatch(request, responder)) {
    responder->Respond(ErrorResponse(
        {404, "UnknownOperationException",
         "Unknown operation " + request.method + " " + request.path}));
  }
  return true;
}

}  // namespace haneul::invoker
