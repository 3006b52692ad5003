// Lambda's JSON system log lines: the text line the environment writes is parsed back into the
// fields the platform event carries (one place builds the text, so the two forms cannot drift).
#include "log_format.h"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdlib>
#include <vector>

#include "haneul/common/ids.h"

namespace haneul::invoker {
namespace {

using Json = nlohmann::json;

int SystemLevelRank(std::string_view level) {
  if (level == "DEBUG") return 0;
  if (level == "WARN") return 2;
  return 1;  // INFO, the default
}

// "Name: value" fields of a tab-separated line, after its first word(s).
std::vector<std::pair<std::string, std::string>> Fields(std::string_view line) {
  std::vector<std::pair<std::string, std::string>> fields;
  size_t start = 0;
  while (start <= line.size()) {
    size_t tab = line.find('\t', start);
    std::string_view part =
        line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start);
    auto colon = part.find(": ");
    if (colon != std::string_view::npos) {
      fields.emplace_back(std::string(part.substr(0, colon)), std::string(part.substr(colon + 2)));
    }
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  return fields;
}

std::string Field(const std::vector<std::pair<std::string, std::string>>& fields,
                  std::string_view name) {
  for (const auto& [key, value] : fields) {
    if (key.ends_with(name)) return value;
  }
  return "";
}

// "1.23 ms" or "128 MB" → 1.23 / 128.
Json Number(const std::string& value) {
  if (value.empty()) return nullptr;
  char* end = nullptr;
  double number = std::strtod(value.c_str(), &end);
  if (end == value.c_str()) return nullptr;
  if (number == static_cast<double>(static_cast<int64_t>(number)) &&
      value.find('.') == std::string::npos) {
    return static_cast<int64_t>(number);
  }
  return number;
}

std::string Event(int64_t time_ms, const char* type, Json record) {
  Json event = {{"time", IsoTimestamp(time_ms)}, {"type", type}, {"record", std::move(record)}};
  return event.dump();
}

}  // namespace

bool IsLogFormat(std::string_view value) { return value == "Text" || value == "JSON"; }

bool IsApplicationLogLevel(std::string_view value) {
  static constexpr std::array<std::string_view, 6> kLevels = {"TRACE", "DEBUG", "INFO",
                                                              "WARN",  "ERROR", "FATAL"};
  for (auto level : kLevels) {
    if (value == level) return true;
  }
  return false;
}

bool IsSystemLogLevel(std::string_view value) {
  return value == "DEBUG" || value == "INFO" || value == "WARN";
}

bool IsLogGroupName(std::string_view value) {
  if (value.empty() || value.size() > 512) return false;
  for (char c : value) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == '/' || c == '#';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> SystemLineAsJson(std::string_view line, int64_t time_ms,
                                            const PlatformContext& context) {
  const int level = SystemLevelRank(context.system_log_level);
  auto at = [&](int event_level) { return event_level >= level; };
  auto fields = Fields(line);
  if (line.starts_with("START RequestId: ")) {
    if (!at(1)) return std::nullopt;
    std::string_view rest = line.substr(17);
    auto space = rest.find(" Version: ");
    Json record = {{"requestId", std::string(rest.substr(0, space))}};
    if (space != std::string_view::npos) record["version"] = std::string(rest.substr(space + 10));
    return Event(time_ms, "platform.start", std::move(record));
  }
  if (line.starts_with("END RequestId: ")) {
    if (!at(0)) return std::nullopt;
    return Event(time_ms, "platform.runtimeDone",
                 {{"requestId", std::string(line.substr(15))}, {"status", "success"}});
  }
  if (line.starts_with("REPORT RequestId: ")) {
    if (!at(1)) return std::nullopt;
    Json metrics = {{"durationMs", Number(Field(fields, "Duration"))}};
    // Field() matches by suffix: look the specific ones up first.
    for (const auto& [key, value] : fields) {
      std::string number = value.substr(0, value.find(' '));
      if (key == "Duration") metrics["durationMs"] = Number(number);
      if (key == "Billed Duration") metrics["billedDurationMs"] = Number(number);
      if (key == "Memory Size") metrics["memorySizeMB"] = Number(number);
      if (key == "Max Memory Used") metrics["maxMemoryUsedMB"] = Number(number);
      if (key == "Init Duration") metrics["initDurationMs"] = Number(number);
      if (key == "Restore Duration") metrics["restoreDurationMs"] = Number(number);
      if (key == "Billed Restore Duration") metrics["billedRestoreDurationMs"] = Number(number);
    }
    std::string request_id(line.substr(18, line.find('\t') - 18));
    std::string status = Field(fields, "Status");
    Json record = {{"requestId", request_id},
                   {"metrics", std::move(metrics)},
                   {"status", status.empty() ? "success" : status}};
    if (std::string type = Field(fields, "Error Type"); !type.empty()) record["errorType"] = type;
    return Event(time_ms, "platform.report", std::move(record));
  }
  if (line.starts_with("INIT_START ") || line.starts_with("RESTORE_START ")) {
    if (!at(1)) return std::nullopt;
    bool restore = line.starts_with("RESTORE_START ");
    Json record = {{"runtimeVersion", Field(fields, "Runtime Version")},
                   {"runtimeVersionArn", Field(fields, "Runtime Version ARN")},
                   {"functionName", context.function_name},
                   {"functionVersion", context.function_version}};
    for (const auto& [key, value] : fields) {
      if (key.ends_with("Runtime Version")) record["runtimeVersion"] = value;
    }
    if (!restore) {
      record["initializationType"] = context.initialization_type;
      record["phase"] = "init";
    }
    return Event(time_ms, restore ? "platform.restoreStart" : "platform.initStart",
                 std::move(record));
  }
  if (line.starts_with("LOGS_DROPPED ")) {
    if (!at(2)) return std::nullopt;  // a warning: shown at every level
    Json record = {{"reason", Field(fields, "Reason")},
                   {"droppedRecords", Number(Field(fields, "Dropped Records"))},
                   {"droppedBytes", Number(Field(fields, "Dropped Bytes"))}};
    return Event(time_ms, "platform.logsDropped", std::move(record));
  }
  if (line.starts_with("INIT_REPORT ") || line.starts_with("RESTORE_REPORT ")) {
    bool restore = line.starts_with("RESTORE_REPORT ");
    std::string status = Field(fields, "Status");
    // A failed init is a warning; a successful one's report is INFO.
    if (!at(status.empty() || status == "success" ? 1 : 2)) return std::nullopt;
    std::string duration = Field(fields, restore ? "Restore Duration" : "Init Duration");
    Json record = {{"status", status.empty() ? "success" : status},
                   {"metrics", {{"durationMs", Number(duration.substr(0, duration.find(' ')))}}}};
    if (!restore) {
      record["initializationType"] = context.initialization_type;
      record["phase"] = Field(fields, "Phase").empty() ? "init" : Field(fields, "Phase");
    }
    if (std::string type = Field(fields, "Error Type"); !type.empty()) record["errorType"] = type;
    return Event(time_ms, restore ? "platform.restoreReport" : "platform.initReport",
                 std::move(record));
  }
  return std::string(line);
}

}  // namespace haneul::invoker
