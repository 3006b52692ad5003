// FunctionConfig validation and shapes. The rules and messages follow Lambda's: constraint
// violations are ValidationException ("1 validation error detected: Value '64' at 'memorySize'
// failed to satisfy constraint: ..."), semantic ones InvalidParameterValueException.
#include "function_config.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <unordered_map>

#include "haneul/common/ids.h"
#include "log_format.h"

namespace haneul::invoker {

namespace {

const std::regex& NameRegex() {
  static const std::regex regex("[a-zA-Z0-9-_]{1,64}");
  return regex;
}

const std::regex& QualifierRegex() {
  static const std::regex regex("\\$LATEST|[a-zA-Z0-9-_]{1,128}");
  return regex;
}

const std::regex& ArnRegex() {
  // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER], or ACCOUNT:function:NAME[:QUALIFIER]
  static const std::regex regex(
      "(?:arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-gov)?-[a-z]+-\\d):)?(\\d{12}):function:"
      "([a-zA-Z0-9-_]+)(?::(\\$LATEST|[a-zA-Z0-9-_]+))?");
  return regex;
}

const std::regex& EnvNameRegex() {
  static const std::regex regex("[a-zA-Z]([a-zA-Z0-9_])+");
  return regex;
}

// Collects constraint violations the way AWS reports them, all at once.
class Violations {
 public:
  void Add(const std::string& value, const std::string& field, const std::string& constraint) {
    items_.push_back("Value '" + value + "' at '" + field + "' failed to satisfy constraint: " +
                     constraint);
  }
  bool empty() const { return items_.empty(); }
  AwsError ToError() const {
    std::string text = std::to_string(items_.size()) + " validation error" +
                       (items_.size() == 1 ? "" : "s") + " detected: ";
    for (size_t i = 0; i < items_.size(); ++i) {
      if (i) text += "; ";
      text += items_[i];
    }
    return AwsError::Validation(text);
  }

 private:
  std::vector<std::string> items_;
};

const char* const kReservedVariables[] = {
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"};

bool TypeError(const nlohmann::json& body, const char* field, nlohmann::json::value_t type,
               AwsError* error) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return false;
  bool ok = it->type() == type ||
            (type == nlohmann::json::value_t::number_integer && it->is_number_integer());
  if (ok) return false;
  *error = AwsError::InvalidRequestContent(std::string("Could not parse request body into json: "
                                                       "Could not parse field '") +
                                           field + "': unexpected " + it->type_name());
  return true;
}

}  // namespace

std::optional<RuntimeFamily> FamilyOf(const std::string& runtime) {
  if (runtime == "python3" || runtime.starts_with("python3.")) return RuntimeFamily::kPython;
  if (runtime == "nodejs" || (runtime.starts_with("nodejs") && runtime.ends_with(".x"))) {
    return RuntimeFamily::kNode;
  }
  if (runtime == "provided" || runtime == "provided.al2" || runtime == "provided.al2023") {
    return RuntimeFamily::kProvided;
  }
  return std::nullopt;
}

std::string FunctionConfig::UnqualifiedArn(const AccountInfo& account) const {
  return "arn:aws:lambda:" + account.region + ":" + account.account_id + ":function:" + name;
}

std::string FunctionConfig::Arn(const AccountInfo& account) const {
  return is_latest() ? UnqualifiedArn(account) : UnqualifiedArn(account) + ":" + version;
}

nlohmann::json FunctionConfig::ToApi(const AccountInfo& account) const {
  nlohmann::json out = {
      {"FunctionName", name},
      {"FunctionArn", Arn(account)},
      {"Runtime", runtime},
      {"Role", role},
      {"Handler", handler},
      {"CodeSize", code_size},
      {"Description", description},
      {"Timeout", timeout_seconds},
      {"MemorySize", memory_mb},
      {"LastModified", LambdaTimestamp(last_modified_ms)},
      {"CodeSha256", code_sha256},
      {"Version", version},
      {"TracingConfig", {{"Mode", "PassThrough"}}},
      {"RevisionId", revision_id},
      {"State", "Active"},
      {"LastUpdateStatus", "Successful"},
      {"PackageType", "Zip"},
      {"Architectures", {"x86_64"}},
      {"EphemeralStorage", {{"Size", ephemeral_storage_mb}}},
      {"SnapStart", {{"ApplyOn", "None"}, {"OptimizationStatus", "Off"}}},
      {"LoggingConfig", {{"LogFormat", log_format}, {"LogGroup", LogGroup()}}},
  };
  if (json_logs()) {
    out["LoggingConfig"]["ApplicationLogLevel"] =
        application_log_level.empty() ? "INFO" : application_log_level;
    out["LoggingConfig"]["SystemLogLevel"] = system_log_level.empty() ? "INFO" : system_log_level;
  }
  if (!environment.empty()) out["Environment"] = {{"Variables", environment}};
  out["SnapStart"] = {{"ApplyOn", snap_start_apply_on},
                      {"OptimizationStatus", snap_start() ? "On" : "Off"}};
  if (version_state) {
    out["State"] = version_state->state;
    out["LastUpdateStatus"] = version_state->last_update_status;
    if (!version_state->reason_code.empty()) {
      out["StateReasonCode"] = version_state->reason_code;
      out["StateReason"] = version_state->reason;
    }
  }
  if (is_image()) {
    // An image function has neither Runtime nor Handler; its overrides show as ImageConfig.
    out.erase("Runtime");
    out.erase("Handler");
    out["PackageType"] = "Image";
    nlohmann::json image_config = nlohmann::json::object();
    if (override_entry_point) image_config["EntryPoint"] = *override_entry_point;
    if (override_command) image_config["Command"] = *override_command;
    if (override_working_directory) image_config["WorkingDirectory"] = *override_working_directory;
    if (!image_config.empty()) out["ImageConfigResponse"] = {{"ImageConfig", image_config}};
  }
  return out;
}

nlohmann::json FunctionConfig::ToStorage() const {
  nlohmann::json stored = {{"name", name},
          {"runtime", runtime},
          {"handler", handler},
          {"role", role},
          {"description", description},
          {"memory_mb", memory_mb},
          {"timeout_seconds", timeout_seconds},
          {"ephemeral_storage_mb", ephemeral_storage_mb},
          {"environment", environment},
          {"code_sha256", code_sha256},
          {"code_id", code_id},
          {"code_size", code_size},
          {"last_modified_ms", last_modified_ms},
          {"revision_id", revision_id},
          {"revision", revision},
          {"version", version},
          {"published_from", published_from}};
  if (snap_start_apply_on != "None") stored["snap_start"] = snap_start_apply_on;
  if (json_logs() || !log_group.empty()) {
    stored["logging"] = {{"format", log_format},
                         {"application_level", application_log_level},
                         {"system_level", system_log_level},
                         {"group", log_group}};
  }
  if (is_image()) {
    stored["package_type"] = package_type;
    stored["image"] = {{"uri", image_uri},
                       {"digest", image_digest},
                       {"rootfs", image_rootfs},
                       {"entrypoint", image_entrypoint},
                       {"cmd", image_cmd},
                       {"env", image_env},
                       {"working_dir", image_working_dir}};
    if (override_entry_point) stored["image"]["override_entry_point"] = *override_entry_point;
    if (override_command) stored["image"]["override_command"] = *override_command;
    if (override_working_directory) {
      stored["image"]["override_working_directory"] = *override_working_directory;
    }
  }
  return stored;
}

std::optional<FunctionConfig> FunctionConfig::FromStorage(const nlohmann::json& stored) {
  if (!stored.is_object()) return std::nullopt;
  FunctionConfig config;
  try {
    config.name = stored.at("name").get<std::string>();
    config.runtime = stored.at("runtime").get<std::string>();
    config.handler = stored.at("handler").get<std::string>();
    config.role = stored.at("role").get<std::string>();
    config.description = stored.at("description").get<std::string>();
    config.memory_mb = stored.at("memory_mb").get<int>();
    config.timeout_seconds = stored.at("timeout_seconds").get<int>();
    config.ephemeral_storage_mb = stored.at("ephemeral_storage_mb").get<int>();
    config.environment = stored.at("environment").get<std::map<std::string, std::string>>();
    config.code_sha256 = stored.at("code_sha256").get<std::string>();
    config.code_id = stored.at("code_id").get<std::string>();
    config.code_size = stored.at("code_size").get<int64_t>();
    config.last_modified_ms = stored.at("last_modified_ms").get<int64_t>();
    config.revision_id = stored.at("revision_id").get<std::string>();
    config.revision = stored.at("revision").get<uint64_t>();
    config.version = stored.value("version", std::string("$LATEST"));
    config.published_from = stored.value("published_from", uint64_t{0});
    config.package_type = stored.value("package_type", std::string("Zip"));
    config.snap_start_apply_on = stored.value("snap_start", std::string("None"));
    if (auto logging = stored.find("logging"); logging != stored.end() && logging->is_object()) {
      config.log_format = logging->value("format", std::string("Text"));
      config.application_log_level = logging->value("application_level", std::string());
      config.system_log_level = logging->value("system_level", std::string());
      config.log_group = logging->value("group", std::string());
    }
    if (config.is_image()) {
      const auto& image = stored.at("image");
      config.image_uri = image.at("uri").get<std::string>();
      config.image_digest = image.at("digest").get<std::string>();
      config.image_rootfs = image.at("rootfs").get<std::string>();
      config.image_entrypoint = image.at("entrypoint").get<std::vector<std::string>>();
      config.image_cmd = image.at("cmd").get<std::vector<std::string>>();
      config.image_env = image.at("env").get<std::vector<std::string>>();
      config.image_working_dir = image.at("working_dir").get<std::string>();
      if (image.contains("override_entry_point")) {
        config.override_entry_point = image.at("override_entry_point").get<std::vector<std::string>>();
      }
      if (image.contains("override_command")) {
        config.override_command = image.at("override_command").get<std::vector<std::string>>();
      }
      if (image.contains("override_working_directory")) {
        config.override_working_directory =
            image.at("override_working_directory").get<std::string>();
      }
    }
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  return config;
}

std::optional<FunctionRef> ParseFunctionRef(const std::string& text, const AccountInfo& account,
                                            AwsError* error) {
  auto invalid = [&] {
    *error = AwsError::Validation(
        "1 validation error detected: Value '" + text +
        "' at 'functionName' failed to satisfy constraint: Member must satisfy regular "
        "expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?"
        "(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?");
    return std::nullopt;
  };
  if (text.empty() || text.size() > 170) return invalid();
  // A plain function name (every Invoke by name): checked without the regexes, which cost more
  // than the rest of an invoke's routing. Without a ':' no ARN form can match.
  if (text.size() <= 64 && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      })) {
    return FunctionRef{text, ""};
  }
  // ARNs repeat too (the gateway's integrations, destinations): remembered once parsed.
  static thread_local std::unordered_map<std::string, FunctionRef> parsed_arns;
  std::string cache_key = account.region + '\n' + account.account_id + '\n' + text;
  if (auto cached = parsed_arns.find(cache_key); cached != parsed_arns.end()) return cached->second;
  std::smatch match;
  if (std::regex_match(text, match, ArnRegex())) {
    if ((match[1].matched && match[1].str() != account.region) ||
        match[2].str() != account.account_id) {
      // An ARN of another region or account names a function that is not here.
      FunctionRef ref{match[3].str(), match[4].matched ? match[4].str() : ""};
      return ref;
    }
    if (match[3].str().size() > 64) return invalid();
    FunctionRef ref{match[3].str(), match[4].matched ? match[4].str() : ""};
    if (parsed_arns.size() >= 1024) parsed_arns.clear();
    parsed_arns.emplace(std::move(cache_key), ref);
    return ref;
  }
  auto colon = text.find(':');
  FunctionRef ref{text.substr(0, colon), colon == std::string::npos ? "" : text.substr(colon + 1)};
  if (!std::regex_match(ref.name, NameRegex())) return invalid();
  if (colon != std::string::npos && !std::regex_match(ref.qualifier, QualifierRegex())) {
    return invalid();
  }
  return ref;
}

std::optional<nlohmann::json> ParseJsonObject(const std::string& body, AwsError* error) {
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    *error = AwsError::InvalidRequestContent(
        "Could not parse request body into json: Unexpected character or end of input");
    return std::nullopt;
  }
  if (!parsed.is_object()) {
    *error = AwsError::InvalidRequestContent(
        "Could not parse request body into json: the request body must be a JSON object");
    return std::nullopt;
  }
  return parsed;
}

bool ApplyConfigRequest(const nlohmann::json& body, bool create, FunctionConfig* config,
                        AwsError* error) {
  using Type = nlohmann::json::value_t;
  // Wrong JSON types are the client's serialisation error, reported before any constraint.
  if (TypeError(body, "FunctionName", Type::string, error) ||
      TypeError(body, "Runtime", Type::string, error) ||
      TypeError(body, "Handler", Type::string, error) ||
      TypeError(body, "Role", Type::string, error) ||
      TypeError(body, "Description", Type::string, error) ||
      TypeError(body, "MemorySize", Type::number_integer, error) ||
      TypeError(body, "Timeout", Type::number_integer, error) ||
      TypeError(body, "Environment", Type::object, error) ||
      TypeError(body, "EphemeralStorage", Type::object, error) ||
      TypeError(body, "LoggingConfig", Type::object, error) ||
      TypeError(body, "PackageType", Type::string, error) ||
      TypeError(body, "Architectures", Type::array, error) ||
      TypeError(body, "SnapStart", Type::object, error)) {
    return false;
  }
  Violations violations;
  auto get_string = [&](const char* field, std::string* out) {
    auto it = body.find(field);
    if (it != body.end() && it->is_string()) *out = it->get<std::string>();
    return it != body.end() && it->is_string();
  };

  if (create) {
    std::string name;
    if (!get_string("FunctionName", &name)) {
      violations.Add("null", "functionName", "Member must not be null");
    } else if (!std::regex_match(name, NameRegex())) {
      AwsError ref_error;
      auto ref = ParseFunctionRef(name, AccountInfo(), &ref_error);
      if (!ref || !ref->qualifier.empty()) {
        violations.Add(name, "functionName",
                       name.size() > 64 ? "Member must have length less than or equal to 64"
                                        : "Member must satisfy regular expression pattern: "
                                          "[a-zA-Z0-9-_]+");
      } else {
        config->name = ref->name;
      }
    } else {
      config->name = name;
    }
    std::string role;
    if (!get_string("Role", &role)) {
      violations.Add("null", "role", "Member must not be null");
    }
  }

  std::string package_type;
  if (get_string("PackageType", &package_type)) {
    if (!create) {
      *error = AwsError::InvalidParameterValue("PackageType cannot be changed after creation.");
      return false;
    }
    if (package_type != "Zip" && package_type != "Image") {
      *error = AwsError::Validation("1 validation error detected: Value '" + package_type +
                                    "' at 'packageType' failed to satisfy constraint: Member must "
                                    "satisfy enum value set: [Zip, Image]");
      return false;
    } else {
      config->package_type = package_type;
    }
  }
  if (config->is_image() && (body.contains("Runtime") || body.contains("Handler") ||
                             body.contains("Layers"))) {
    *error = AwsError::InvalidParameterValue(
        "Please don't provide Handler or Runtime or Layer when the intended function PackageType "
        "is Image.");
    return false;
  }
  if (auto image_config = body.find("ImageConfig"); image_config != body.end()) {
    if (!config->is_image()) {
      *error = AwsError::InvalidParameterValue(
          "ImageConfig is only supported for functions whose PackageType is Image.");
      return false;
    }
    if (!image_config->is_object()) {
      *error = AwsError::InvalidRequestContent(
          "Could not parse request body into json: ImageConfig must be an object");
      return false;
    }
    auto strings = [&](const char* field, std::optional<std::vector<std::string>>* out) {
      auto it = image_config->find(field);
      if (it == image_config->end()) return true;
      if (!it->is_array() || it->size() > 1500) return false;
      std::vector<std::string> values;
      for (const auto& value : *it) {
        if (!value.is_string()) return false;
        values.push_back(value.get<std::string>());
      }
      *out = std::move(values);
      return true;
    };
    if (!strings("EntryPoint", &config->override_entry_point) ||
        !strings("Command", &config->override_command)) {
      *error = AwsError::InvalidRequestContent(
          "Could not parse request body into json: ImageConfig.EntryPoint and ImageConfig.Command "
          "are lists of at most 1500 strings");
      return false;
    }
    if (auto directory = image_config->find("WorkingDirectory"); directory != image_config->end()) {
      if (!directory->is_string() || directory->get<std::string>().size() > 1000) {
        violations.Add(directory->dump(), "imageConfig.workingDirectory",
                       "Member must have length less than or equal to 1000");
      } else {
        config->override_working_directory = directory->get<std::string>();
      }
    }
  }

  std::string runtime;
  if (get_string("Runtime", &runtime)) {
    if (!FamilyOf(runtime)) {
      *error = AwsError::InvalidParameterValue(
          "The runtime parameter of " + runtime +
          " is not supported by haneul. Supported runtimes: python3.x, nodejs*.x, "
          "provided.al2023, provided.al2, provided.");
      return false;
    }
    config->runtime = runtime;
  } else if (create && !config->is_image()) {
    *error = AwsError::InvalidParameterValue("Runtime and Handler are mandatory parameters for "
                                             "functions created with deployment packages.");
    return false;
  }

  std::string handler;
  if (get_string("Handler", &handler)) {
    static const std::regex kHandler("[^\\s]+");
    if (handler.size() > 128) {
      violations.Add(handler, "handler", "Member must have length less than or equal to 128");
    } else if (!std::regex_match(handler, kHandler)) {
      violations.Add(handler, "handler", "Member must satisfy regular expression pattern: [^\\s]+");
    } else {
      config->handler = handler;
    }
  } else if (create && !config->is_image()) {
    if (config->runtime.empty() || FamilyOf(config->runtime) != RuntimeFamily::kProvided) {
      *error = AwsError::InvalidParameterValue("Runtime and Handler are mandatory parameters for "
                                               "functions created with deployment packages.");
      return false;
    }
  }

  std::string role;
  if (get_string("Role", &role)) {
    static const std::regex kRole("arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+");
    if (!std::regex_match(role, kRole)) {
      violations.Add(role, "role",
                     "Member must satisfy regular expression pattern: "
                     "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+");
    } else {
      config->role = role;
    }
  }

  std::string description;
  if (get_string("Description", &description)) {
    if (description.size() > 256) {
      violations.Add(description, "description",
                     "Member must have length less than or equal to 256");
    } else {
      config->description = description;
    }
  }

  if (auto it = body.find("MemorySize"); it != body.end() && it->is_number_integer()) {
    int64_t memory = it->get<int64_t>();
    if (memory < 128) {
      violations.Add(std::to_string(memory), "memorySize",
                     "Member must have value greater than or equal to 128");
    } else if (memory > 10240) {
      violations.Add(std::to_string(memory), "memorySize",
                     "Member must have value less than or equal to 10240");
    } else {
      config->memory_mb = static_cast<int>(memory);
    }
  }

  if (auto it = body.find("Timeout"); it != body.end() && it->is_number_integer()) {
    int64_t timeout = it->get<int64_t>();
    if (timeout < 1) {
      violations.Add(std::to_string(timeout), "timeout",
                     "Member must have value greater than or equal to 1");
    } else if (timeout > 900) {
      violations.Add(std::to_string(timeout), "timeout",
                     "Member must have value less than or equal to 900");
    } else {
      config->timeout_seconds = static_cast<int>(timeout);
    }
  }

  if (auto it = body.find("EphemeralStorage"); it != body.end() && it->is_object()) {
    auto size = it->find("Size");
    if (size == it->end() || !size->is_number_integer()) {
      violations.Add("null", "ephemeralStorage.size", "Member must not be null");
    } else {
      int64_t mb = size->get<int64_t>();
      if (mb < 512) {
        violations.Add(std::to_string(mb), "ephemeralStorage.size",
                       "Member must have value greater than or equal to 512");
      } else if (mb > 10240) {
        violations.Add(std::to_string(mb), "ephemeralStorage.size",
                       "Member must have value less than or equal to 10240");
      } else {
        config->ephemeral_storage_mb = static_cast<int>(mb);
      }
    }
  }

  if (auto it = body.find("LoggingConfig"); it != body.end() && it->is_object()) {
    auto text = [&](const char* field) -> std::optional<std::string> {
      auto value = it->find(field);
      if (value == it->end() || !value->is_string()) return std::nullopt;
      return value->get<std::string>();
    };
    std::string format = text("LogFormat").value_or(config->log_format);
    auto application = text("ApplicationLogLevel");
    auto system = text("SystemLogLevel");
    auto group = text("LogGroup");
    if (!IsLogFormat(format)) {
      violations.Add(format, "loggingConfig.logFormat",
                     "Member must satisfy enum value set: [Text, JSON]");
    }
    if (application && !IsApplicationLogLevel(*application)) {
      violations.Add(*application, "loggingConfig.applicationLogLevel",
                     "Member must satisfy enum value set: [TRACE, DEBUG, INFO, WARN, ERROR, "
                     "FATAL]");
    }
    if (system && !IsSystemLogLevel(*system)) {
      violations.Add(*system, "loggingConfig.systemLogLevel",
                     "Member must satisfy enum value set: [DEBUG, INFO, WARN]");
    }
    if (group && !IsLogGroupName(*group)) {
      violations.Add(*group, "loggingConfig.logGroup",
                     "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+");
    }
    if (violations.empty()) {
      if (format == "Text" && (application || system)) {
        *error = AwsError::InvalidParameterValue(
            "ApplicationLogLevel and SystemLogLevel can only be set when LogFormat is JSON.");
        return false;
      }
      config->log_format = format;
      if (format == "Text") {
        config->application_log_level.clear();
        config->system_log_level.clear();
      }
      if (application) config->application_log_level = *application;
      if (system) config->system_log_level = *system;
      if (group) config->log_group = *group == "/aws/lambda/" + config->name ? "" : *group;
    }
  }

  if (auto it = body.find("Architectures"); it != body.end() && it->is_array()) {
    if (it->size() != 1 || !(*it)[0].is_string() ||
        ((*it)[0] != "x86_64" && (*it)[0] != "arm64")) {
      violations.Add(it->dump(), "architectures",
                     "Member must satisfy constraint: [Member must satisfy enum value set: "
                     "[x86_64, arm64]]");
    } else if ((*it)[0] == "arm64") {
      *error = AwsError::InvalidParameterValue(
          "Architecture arm64 is not supported on this x86_64 host.");
      return false;
    }
  }

  if (auto it = body.find("SnapStart"); it != body.end() && it->is_object()) {
    auto apply_on = it->find("ApplyOn");
    if (apply_on != it->end() && !apply_on->is_null()) {
      std::string value = apply_on->is_string() ? apply_on->get<std::string>() : apply_on->dump();
      if (value != "PublishedVersions" && value != "None") {
        violations.Add(value, "snapStart.applyOn",
                       "Member must satisfy enum value set: [PublishedVersions, None]");
      } else {
        config->snap_start_apply_on = value;
      }
    }
  }

  if (!violations.empty()) {
    *error = violations.ToError();
    return false;
  }

  if (config->snap_start_apply_on == "PublishedVersions") {
    // Lambda's SnapStart runtimes are java11+, python3.12+ and dotnet8; here python (fork-server
    // backend) and, as haneul's extension, nodejs18.x and later (criu backend).
    bool supported = false;
    if (!config->is_image() && config->runtime.starts_with("python3.")) {
      supported = std::atoi(config->runtime.c_str() + 8) >= 12;
    }
    if (!config->is_image() && config->runtime.starts_with("nodejs")) {
      supported = std::atoi(config->runtime.c_str() + 6) >= 18;
    }
    if (!supported) {
      *error = AwsError::InvalidParameterValue(
          (config->is_image() ? std::string("PackageType Image") : config->runtime) +
          " is not supported for SnapStart enabled functions.");
      return false;
    }
  }

  if (auto it = body.find("Environment"); it != body.end() && it->is_object()) {
    std::map<std::string, std::string> variables;
    auto vars = it->find("Variables");
    if (vars != it->end() && !vars->is_null()) {
      if (!vars->is_object()) {
        *error = AwsError::InvalidRequestContent(
            "Could not parse request body into json: Environment.Variables must be an object");
        return false;
      }
      for (const auto& [key, value] : vars->items()) {
        if (!value.is_string()) {
          *error = AwsError::InvalidRequestContent(
              "Could not parse request body into json: environment variable values must be "
              "strings");
          return false;
        }
        if (!std::regex_match(key, EnvNameRegex())) {
          Violations bad;
          bad.Add(key, "environment.variables", "Member must satisfy regular expression pattern: "
                                                "[a-zA-Z]([a-zA-Z0-9_])+");
          *error = bad.ToError();
          return false;
        }
        variables[key] = value.get<std::string>();
      }
      std::string reserved;
      for (const char* name : kReservedVariables) {
        if (variables.count(name)) reserved += (reserved.empty() ? "" : ", ") + std::string(name);
      }
      if (!reserved.empty()) {
        *error = AwsError::InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not "
            "supported for modification. Reserved keys used in this request: " +
            reserved);
        return false;
      }
      // Lambda measures the JSON of the variables map against 4 KB.
      std::string measured = nlohmann::json(variables).dump();
      if (measured.size() > 4096) {
        *error = AwsError::InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided exceeded the 4KB limit. String measured: " +
            measured);
        return false;
      }
    }
    config->environment = std::move(variables);
  }
  return true;
}

}  // namespace haneul::invoker
