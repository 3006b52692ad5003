// Lambda's JSON log format (LoggingConfig.LogFormat = JSON) for the lines the invoker writes
// itself: each system line (INIT_START, START, REPORT, ...) becomes the platform event CloudWatch
// shows for it, `{"time": ..., "type": "platform.start", "record": {...}}`, filtered by
// SystemLogLevel. Application output is the runtime's business (AWS_LAMBDA_LOG_FORMAT).
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace haneul::invoker {

// Valid values, as Lambda's API checks them.
bool IsLogFormat(std::string_view value);            // "Text" | "JSON"
bool IsApplicationLogLevel(std::string_view value);  // TRACE DEBUG INFO WARN ERROR FATAL
bool IsSystemLogLevel(std::string_view value);       // DEBUG INFO WARN
// A CloudWatch log group name Lambda accepts: 1-512 of [.-_/#A-Za-z0-9].
bool IsLogGroupName(std::string_view value);

struct PlatformContext {
  std::string function_name;
  std::string function_version;
  std::string initialization_type = "on-demand";  // or "provisioned-concurrency", "snap-start"
  std::string system_log_level = "INFO";
};

// The JSON form of one system line written at time_ms: nullopt when SystemLogLevel filters it out
// (END has no event at INFO and WARN; at DEBUG it is platform.runtimeDone). A line that is not a
// system line comes back unchanged.
std::optional<std::string> SystemLineAsJson(std::string_view line, int64_t time_ms,
                                            const PlatformContext& context);

}  // namespace haneul::invoker
