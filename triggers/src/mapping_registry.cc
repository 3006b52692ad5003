// Lambda's event source mapping API (see mapping_registry.h). Validation follows Lambda: values
// outside the model's ranges are ValidationException ("1 validation error detected: ..."),
// values the model allows but the event source does not are InvalidParameterValueException, a
// missing function or stream is ResourceNotFoundException, a second mapping of the same
// function and stream is ResourceConflictException.
#include "mapping_registry.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

#include <spdlog/spdlog.h>

#include "api_util.h"
#include "event_pattern.h"
#include "haneul/common/ids.h"

namespace haneul::triggers {

namespace {

using Json = nlohmann::json;

constexpr std::string_view kMappingPrefix = "triggers/esm/";
constexpr std::string_view kBasePath = "/2015-03-31/event-source-mappings";

struct FunctionRef {
  std::string name;
  std::string qualifier;
};

// A function name, full ARN or partial ARN ("ACCOUNT:function:NAME"), with optional qualifier.
std::optional<FunctionRef> ParseFunction(const std::string& text) {
  std::string rest = text;
  if (rest.starts_with("arn:")) {
    auto at = rest.find(":function:");
    if (at == std::string::npos) return std::nullopt;
    rest = rest.substr(at + 10);
  } else if (auto at = rest.find(":function:"); at != std::string::npos) {
    rest = rest.substr(at + 10);
  }
  FunctionRef ref;
  auto colon = rest.find(':');
  ref.name = rest.substr(0, colon);
  if (colon != std::string::npos) ref.qualifier = rest.substr(colon + 1);
  if (ref.name.empty() || ref.name.size() > 64) return std::nullopt;
  for (char c : ref.name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return std::nullopt;
  }
  if (colon != std::string::npos && ref.qualifier.empty()) return std::nullopt;
  return ref;
}

AwsError RangeError(const std::string& field, const Json& value, int64_t low, int64_t high) {
  bool under = value.is_number_integer() && value.get<int64_t>() < low;
  return AwsError::Validation(
      "1 validation error detected: Value '" + value.dump() + "' at '" + field +
      "' failed to satisfy constraint: Member must have value " +
      (under ? "greater than or equal to " + std::to_string(low)
             : "less than or equal to " + std::to_string(high)));
}

// Reads an integer field within [low, high]; false with the error when present and invalid.
bool IntField(const Json& body, const char* name, const char* wire, int64_t low, int64_t high,
              int* out, AwsError* error) {
  if (!body.contains(name) || body[name].is_null()) return true;
  const Json& value = body[name];
  if (!value.is_number_integer()) {
    *error = AwsError::InvalidRequestContent(std::string("Could not parse request body into json: ") +
                                             name + " must be an integer");
    return false;
  }
  int64_t number = value.get<int64_t>();
  if (number < low || number > high) {
    *error = RangeError(wire, value, low, high);
    return false;
  }
  *out = static_cast<int>(number);
  return true;
}

bool BoolField(const Json& body, const char* name, bool* out, AwsError* error) {
  if (!body.contains(name) || body[name].is_null()) return true;
  if (!body[name].is_boolean()) {
    *error = AwsError::InvalidRequestContent(std::string("Could not parse request body into json: ") +
                                             name + " must be a boolean");
    return false;
  }
  *out = body[name].get<bool>();
  return true;
}

// The fields Create and Update share. Stream-specific rules are checked after the source is
// known (ValidateForStreams).
bool ApplyFields(const Json& body, MappingConfig* config, AwsError* error) {
  if (!IntField(body, "BatchSize", "batchSize", 1, 10000, &config->batch_size, error) ||
      !IntField(body, "MaximumBatchingWindowInSeconds", "maximumBatchingWindowInSeconds", 0, 300,
                &config->maximum_batching_window_seconds, error) ||
      !IntField(body, "ParallelizationFactor", "parallelizationFactor", 1, 10,
                &config->parallelization_factor, error) ||
      !IntField(body, "MaximumRetryAttempts", "maximumRetryAttempts", -1, 10000,
                &config->maximum_retry_attempts, error) ||
      !IntField(body, "MaximumRecordAgeInSeconds", "maximumRecordAgeInSeconds", -1, 604800,
                &config->maximum_record_age_seconds, error) ||
      !IntField(body, "TumblingWindowInSeconds", "tumblingWindowInSeconds", 0, 900,
                &config->tumbling_window_seconds, error) ||
      !BoolField(body, "BisectBatchOnFunctionError", &config->bisect_batch_on_function_error,
                 error) ||
      !BoolField(body, "Enabled", &config->enabled, error)) {
    return false;
  }
  if (config->maximum_record_age_seconds != -1 && config->maximum_record_age_seconds < 60) {
    *error = AwsError::InvalidParameterValue(
        "MaximumRecordAgeInSeconds must be -1 (infinite) or between 60 and 604800 seconds");
    return false;
  }
  if (body.contains("FilterCriteria") && !body["FilterCriteria"].is_null()) {
    const Json& criteria = body["FilterCriteria"];
    std::vector<std::string> patterns;
    if (!criteria.is_object()) {
      *error = AwsError::InvalidRequestContent("Could not parse request body into json: FilterCriteria");
      return false;
    }
    if (criteria.contains("Filters") && criteria["Filters"].is_array()) {
      if (criteria["Filters"].size() > 5) {
        *error = AwsError::InvalidParameterValue(
            "Number of filters in FilterCriteria exceeds the limit of 5");
        return false;
      }
      for (const Json& filter : criteria["Filters"]) {
        if (!filter.is_object() || !filter.contains("Pattern") || !filter["Pattern"].is_string()) {
          *error = AwsError::InvalidParameterValue("Invalid filter pattern definition.");
          return false;
        }
        std::string text = filter["Pattern"].get<std::string>();
        if (!EventPattern::Parse(text).ok()) {
          *error = AwsError::InvalidParameterValue("Invalid filter pattern definition.");
          return false;
        }
        patterns.push_back(std::move(text));
      }
    }
    config->filter_patterns = std::move(patterns);
  }
  if (body.contains("FunctionResponseTypes") && !body["FunctionResponseTypes"].is_null()) {
    const Json& types = body["FunctionResponseTypes"];
    bool report = false;
    if (!types.is_array()) {
      *error = AwsError::InvalidRequestContent("Could not parse request body into json: FunctionResponseTypes");
      return false;
    }
    for (const Json& type : types) {
      if (!type.is_string() || type.get<std::string>() != "ReportBatchItemFailures") {
        *error = AwsError::Validation(
            "1 validation error detected: Value '" + types.dump() +
            "' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy "
            "constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]");
        return false;
      }
      report = true;
    }
    config->report_batch_item_failures = report;
  }
  if (body.contains("DestinationConfig") && !body["DestinationConfig"].is_null()) {
    const Json& destination = body["DestinationConfig"];
    if (!destination.is_object()) {
      *error = AwsError::InvalidRequestContent("Could not parse request body into json: DestinationConfig");
      return false;
    }
    if (destination.contains("OnSuccess") && destination["OnSuccess"].is_object() &&
        destination["OnSuccess"].contains("Destination")) {
      *error = AwsError::InvalidParameterValue(
          "Unsupported DestinationConfig parameter for given event source mapping type.");
      return false;
    }
    std::string arn;
    if (destination.contains("OnFailure") && destination["OnFailure"].is_object() &&
        destination["OnFailure"].contains("Destination") &&
        destination["OnFailure"]["Destination"].is_string()) {
      arn = destination["OnFailure"]["Destination"].get<std::string>();
    }
    config->on_failure_destination = arn;
  }
  return true;
}

}  // namespace

MappingRegistry::MappingRegistry(EventLoop& loop, KvStore& store, std::string region,
                                 std::string account,
                                 std::function<bool(const std::string&)> function_exists,
                                 std::vector<MappingSource*> sources)
    : loop_(loop), store_(store), region_(std::move(region)), account_(std::move(account)),
      function_exists_(std::move(function_exists)), sources_(std::move(sources)) {}

MappingRegistry::~MappingRegistry() { *alive_ = false; }

Status MappingRegistry::Start() {
  std::vector<std::string> dropped;
  HANEUL_RETURN_IF_ERROR(store_.Scan(kMappingPrefix, kMappingPrefix,
                                     [&](std::string_view key, std::string_view value) {
    Json json = Json::parse(value, nullptr, false);
    if (!json.is_object()) return true;
    Entry entry;
    MappingConfig& config = entry.config;
    config.uuid = json.value("UUID", "");
    config.function_arn = json.value("FunctionArn", "");
    config.event_source_arn = json.value("EventSourceArn", "");
    config.starting_position = json.value("StartingPosition", "");
    config.enabled = json.value("Enabled", true);
    AwsError error;
    if (!ApplyFields(json, &config, &error) || config.uuid.empty()) {
      spdlog::warn("event source mapping {} not loaded: {}", std::string(key), error.message);
      return true;
    }
    std::string state = json.value("State", "Enabled");
    if (state == "Deleting") {
      dropped.emplace_back(key);
      return true;
    }
    entry.state = config.enabled ? "Enabled" : "Disabled";
    entry.state_reason = json.value("StateTransitionReason", "USER_INITIATED");
    entry.last_modified = json.value("LastModified", 0.0);
    for (MappingSource* source : sources_) {
      if (source->Accepts(config.event_source_arn)) entry.source = source;
    }
    entries_[config.uuid] = std::move(entry);
    return true;
  }));
  for (const std::string& key : dropped) (void)store_.Delete(key, true);
  for (auto& [uuid, entry] : entries_) {
    if (entry.source && entry.config.enabled) entry.source->Attach(entry.config, false);
  }
  return Status::Ok();
}

bool MappingRegistry::Handle(HttpRequest& request, const std::shared_ptr<Responder>& responder) {
  if (!request.path.starts_with(kBasePath)) return false;
  std::string rest = request.path.substr(kBasePath.size());
  if (rest.empty() || rest == "/") {
    if (request.method == "POST") {
      Create(request, responder);
    } else if (request.method == "GET") {
      List(request, responder);
    } else {
      responder->Respond(RestJsonError({405, "UnknownOperationException",
                                        "Unknown operation " + request.method}));
    }
    return true;
  }
  std::string uuid = PercentDecode(rest.substr(1));
  if (request.method == "GET") {
    Get(uuid, responder);
  } else if (request.method == "PUT") {
    Update(request, uuid, responder);
  } else if (request.method == "DELETE") {
    Delete(uuid, responder);
  } else {
    responder->Respond(RestJsonError({405, "UnknownOperationException",
                                      "Unknown operation " + request.method}));
  }
  return true;
}

Json MappingRegistry::Describe(const Entry& entry) const {
  const MappingConfig& config = entry.config;
  Json json = {
      {"UUID", config.uuid},
      {"BatchSize", config.batch_size},
      {"MaximumBatchingWindowInSeconds", config.maximum_batching_window_seconds},
      {"ParallelizationFactor", config.parallelization_factor},
      {"EventSourceArn", config.event_source_arn},
      {"FunctionArn", config.function_arn},
      {"LastModified", entry.last_modified},
      {"LastProcessingResult",
       entry.source ? entry.source->LastProcessingResult(config.uuid) : "No records processed"},
      {"State", entry.state},
      {"StateTransitionReason", entry.state_reason},
      {"MaximumRecordAgeInSeconds", config.maximum_record_age_seconds},
      {"BisectBatchOnFunctionError", config.bisect_batch_on_function_error},
      {"MaximumRetryAttempts", config.maximum_retry_attempts},
      {"TumblingWindowInSeconds", config.tumbling_window_seconds},
      {"FunctionResponseTypes", Json::array()},
      {"DestinationConfig", {{"OnFailure", Json::object()}}},
  };
  if (!config.starting_position.empty()) json["StartingPosition"] = config.starting_position;
  if (!config.filter_patterns.empty()) {
    Json filters = Json::array();
    for (const std::string& pattern : config.filter_patterns) {
      filters.push_back({{"Pattern", pattern}});
    }
    json["FilterCriteria"] = {{"Filters", filters}};
  }
  if (config.report_batch_item_failures) {
    json["FunctionResponseTypes"].push_back("ReportBatchItemFailures");
  }
  if (!config.on_failure_destination.empty()) {
    json["DestinationConfig"]["OnFailure"]["Destination"] = config.on_failure_destination;
  }
  return json;
}

Status MappingRegistry::Save(const Entry& entry) {
  Json json = Describe(entry);
  json["Enabled"] = entry.config.enabled;
  json.erase("LastProcessingResult");
  return store_.Put(std::string(kMappingPrefix) + entry.config.uuid, json.dump(), true);
}

void MappingRegistry::Settle(const std::string& uuid) {
  std::weak_ptr<bool> alive = alive_;
  loop_.Post([this, alive, uuid] {
    if (!alive.lock() || !*alive.lock()) return;
    auto found = entries_.find(uuid);
    if (found == entries_.end()) return;
    Entry& entry = found->second;
    entry.state = entry.config.enabled ? "Enabled" : "Disabled";
    Status saved = Save(entry);
    if (!saved.ok()) spdlog::warn("event source mapping {}: {}", uuid, saved.message());
  });
}

void MappingRegistry::Create(HttpRequest& request, const std::shared_ptr<Responder>& responder) {
  Json body = Json::parse(request.body, nullptr, false);
  if (!body.is_object()) {
    return responder->Respond(RestJsonError(
        AwsError::InvalidRequestContent("Could not parse request body into json")));
  }
  Entry entry;
  MappingConfig& config = entry.config;
  std::string function = body.value("FunctionName", "");
  config.event_source_arn = body.value("EventSourceArn", "");
  if (function.empty()) {
    return responder->Respond(RestJsonError(AwsError::Validation(
        "1 validation error detected: Value null at 'functionName' failed to satisfy "
        "constraint: Member must not be null")));
  }
  AwsError error;
  if (!ApplyFields(body, &config, &error)) return responder->Respond(RestJsonError(error));
  for (MappingSource* source : sources_) {
    if (source->Accepts(config.event_source_arn)) entry.source = source;
  }
  if (!entry.source) {
    return responder->Respond(RestJsonError(AwsError::InvalidParameterValue(
        "Unrecognized event source, must be kinesis, dynamodb stream or sqs. haneul supports "
        "DynamoDB streams of its table service.")));
  }
  // DynamoDB streams: StartingPosition is required; AT_TIMESTAMP is Kinesis-only.
  if (!body.contains("StartingPosition") || !body["StartingPosition"].is_string()) {
    return responder->Respond(RestJsonError(AwsError::InvalidParameterValue(
        "StartingPosition is required for DynamoDB stream event sources")));
  }
  config.starting_position = body["StartingPosition"].get<std::string>();
  if (config.starting_position != "TRIM_HORIZON" && config.starting_position != "LATEST") {
    if (config.starting_position == "AT_TIMESTAMP") {
      return responder->Respond(RestJsonError(AwsError::InvalidParameterValue(
          "Unsupported starting position for DynamoDB stream event source: AT_TIMESTAMP")));
    }
    return responder->Respond(RestJsonError(AwsError::Validation(
        "1 validation error detected: Value '" + config.starting_position +
        "' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value "
        "set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]")));
  }
  auto ref = ParseFunction(function);
  if (!ref) {
    return responder->Respond(RestJsonError(AwsError::Validation(
        "1 validation error detected: Value '" + function +
        "' at 'functionName' failed to satisfy constraint: Member must satisfy regular "
        "expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?"
        "(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")));
  }
  config.function_arn = "arn:aws:lambda:" + region_ + ":" + account_ + ":function:" + ref->name +
                        (ref->qualifier.empty() ? "" : ":" + ref->qualifier);
  if (!function_exists_(ref->name)) {
    return responder->Respond(RestJsonError(
        AwsError::ResourceNotFound("Function not found: " + config.function_arn)));
  }
  if (auto invalid = entry.source->Validate(config)) {
    return responder->Respond(RestJsonError(*invalid));
  }
  for (const auto& [uuid, other] : entries_) {
    if (other.config.event_source_arn == config.event_source_arn &&
        other.config.function_arn == config.function_arn) {
      return responder->Respond(RestJsonError(AwsError::ResourceConflict(
          "The event source arn (\" " + config.event_source_arn + " \") and function (\" " +
          ref->name + " \") provided mapping already exists. Please update or delete the "
          "existing mapping with UUID " + uuid)));
    }
  }
  config.uuid = NewUuid();
  entry.state = "Creating";
  entry.last_modified = static_cast<double>(NowUnixMillis()) / 1000.0;
  Status saved = Save(entry);
  if (!saved.ok()) return responder->Respond(RestJsonError(AwsError::Service(saved.message())));
  Json answer = Describe(entry);
  std::string uuid = config.uuid;
  entries_[uuid] = entry;
  if (entry.config.enabled) entry.source->Attach(entry.config, true);
  Settle(uuid);
  responder->Respond(RestJson(202, answer));
}

void MappingRegistry::Get(const std::string& uuid, const std::shared_ptr<Responder>& responder) {
  auto found = entries_.find(uuid);
  if (found == entries_.end()) {
    return responder->Respond(RestJsonError(
        AwsError::ResourceNotFound("The resource you requested does not exist.")));
  }
  responder->Respond(RestJson(200, Describe(found->second)));
}

void MappingRegistry::Update(HttpRequest& request, const std::string& uuid,
                             const std::shared_ptr<Responder>& responder) {
  auto found = entries_.find(uuid);
  if (found == entries_.end()) {
    return responder->Respond(RestJsonError(
        AwsError::ResourceNotFound("The resource you requested does not exist.")));
  }
  Json body = Json::parse(request.body.empty() ? "{}" : request.body, nullptr, false);
  if (!body.is_object()) {
    return responder->Respond(RestJsonError(
        AwsError::InvalidRequestContent("Could not parse request body into json")));
  }
  Entry updated = found->second;
  MappingConfig& config = updated.config;
  bool was_enabled = config.enabled;
  AwsError error;
  if (!ApplyFields(body, &config, &error)) return responder->Respond(RestJsonError(error));
  if (body.contains("FunctionName") && body["FunctionName"].is_string()) {
    std::string function = body["FunctionName"].get<std::string>();
    auto ref = ParseFunction(function);
    if (!ref) {
      return responder->Respond(RestJsonError(AwsError::InvalidParameterValue(
          "Invalid function name: " + function)));
    }
    config.function_arn = "arn:aws:lambda:" + region_ + ":" + account_ + ":function:" +
                          ref->name + (ref->qualifier.empty() ? "" : ":" + ref->qualifier);
    if (!function_exists_(ref->name)) {
      return responder->Respond(RestJsonError(
          AwsError::ResourceNotFound("Function not found: " + config.function_arn)));
    }
  }
  if (updated.source) {
    if (auto invalid = updated.source->Validate(config)) {
      return responder->Respond(RestJsonError(*invalid));
    }
  }
  updated.state = config.enabled == was_enabled ? "Updating"
                  : config.enabled            ? "Enabling"
                                              : "Disabling";
  updated.state_reason = "USER_INITIATED";
  updated.last_modified = static_cast<double>(NowUnixMillis()) / 1000.0;
  Status saved = Save(updated);
  if (!saved.ok()) return responder->Respond(RestJsonError(AwsError::Service(saved.message())));
  found->second = updated;
  if (updated.source) {
    if (config.enabled) {
      updated.source->Attach(config, false);
    } else {
      updated.source->Detach(uuid, false);
    }
  }
  Json answer = Describe(updated);
  Settle(uuid);
  responder->Respond(RestJson(202, answer));
}

void MappingRegistry::Delete(const std::string& uuid,
                             const std::shared_ptr<Responder>& responder) {
  auto found = entries_.find(uuid);
  if (found == entries_.end()) {
    return responder->Respond(RestJsonError(
        AwsError::ResourceNotFound("The resource you requested does not exist.")));
  }
  Entry entry = std::move(found->second);
  entries_.erase(found);
  if (entry.source) entry.source->Detach(uuid, true);
  Status deleted = store_.Delete(std::string(kMappingPrefix) + uuid, true);
  if (!deleted.ok()) spdlog::warn("event source mapping {}: {}", uuid, deleted.message());
  entry.state = "Deleting";
  responder->Respond(RestJson(202, Describe(entry)));
}

void MappingRegistry::List(HttpRequest& request, const std::shared_ptr<Responder>& responder) {
  size_t max_items = 100;
  if (auto value = request.QueryParam("MaxItems")) {
    char* end = nullptr;
    long parsed = std::strtol(value->c_str(), &end, 10);
    if (value->empty() || *end != '\0' || parsed < 1 || parsed > 10000) {
      return responder->Respond(RestJsonError(AwsError::Validation(
          "1 validation error detected: Value '" + *value +
          "' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and "
          "10000")));
    }
    max_items = std::min<size_t>(100, static_cast<size_t>(parsed));
  }
  std::string marker = request.QueryParam("Marker").value_or("");
  std::string source_arn = request.QueryParam("EventSourceArn").value_or("");
  std::optional<FunctionRef> function;
  if (auto name = request.QueryParam("FunctionName")) {
    function = ParseFunction(*name);
    if (!function) {
      return responder->Respond(RestJsonError(
          AwsError::InvalidParameterValue("Invalid function name: " + *name)));
    }
  }
  Json list = Json::array();
  bool more = false;
  // Marker: the UUID of the last mapping of the previous page (UUIDs are the map's order).
  for (auto it = marker.empty() ? entries_.begin() : entries_.upper_bound(marker);
       it != entries_.end(); ++it) {
    const MappingConfig& config = it->second.config;
    if (!source_arn.empty() && config.event_source_arn != source_arn) continue;
    if (function) {
      auto ref = ParseFunction(config.function_arn);
      if (!ref || ref->name != function->name ||
          (!function->qualifier.empty() && ref->qualifier != function->qualifier)) {
        continue;
      }
    }
    if (list.size() == max_items) {
      more = true;
      break;
    }
    list.push_back(Describe(it->second));
  }
  Json answer = {{"EventSourceMappings", list}};
  if (more) {
    // The marker is the last UUID returned: the next page starts after it.
    answer["NextMarker"] = list.back()["UUID"];
  }
  responder->Respond(RestJson(200, answer));
}

}  // namespace haneul::triggers
