// Lambda's JSON system log lines: each text line the environment writes becomes its platform
// event with the right record, and SystemLogLevel filters them.
#include "log_format.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace haneul::invoker {
namespace {

using Json = nlohmann::json;
constexpr int64_t kTime = 1795555800123;  // 2026-11-24T21:30:00.123Z

Json Event(std::string_view line, std::string level = "INFO") {
  PlatformContext context;
  context.function_name = "fn";
  context.function_version = "$LATEST";
  context.system_log_level = std::move(level);
  auto out = SystemLineAsJson(line, kTime, context);
  return out ? Json::parse(*out) : Json();
}

TEST(LogFormat, StartAndReportBecomePlatformEvents) {
  Json start = Event("START RequestId: abc-1 Version: $LATEST");
  EXPECT_EQ(start["time"], "2026-11-24T21:30:00.123Z");
  EXPECT_EQ(start["type"], "platform.start");
  EXPECT_EQ(start["record"], (Json{{"requestId", "abc-1"}, {"version", "$LATEST"}}));

  Json report = Event(
      "REPORT RequestId: abc-1\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t"
      "Max Memory Used: 40 MB\tInit Duration: 55.50 ms");
  EXPECT_EQ(report["type"], "platform.report");
  EXPECT_EQ(report["record"]["requestId"], "abc-1");
  EXPECT_EQ(report["record"]["status"], "success");
  EXPECT_EQ(report["record"]["metrics"],
            (Json{{"durationMs", 1.23}, {"billedDurationMs", 2}, {"memorySizeMB", 128},
                  {"maxMemoryUsedMB", 40}, {"initDurationMs", 55.5}}));

  Json failed = Event(
      "REPORT RequestId: abc-2\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 "
      "MB\tMax Memory Used: 40 MB\tStatus: timeout");
  EXPECT_EQ(failed["record"]["status"], "timeout");
  Json oom = Event(
      "REPORT RequestId: abc-3\tDuration: 10.00 ms\tBilled Duration: 10 ms\tMemory Size: 128 MB\t"
      "Max Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory");
  EXPECT_EQ(oom["record"]["errorType"], "Runtime.OutOfMemory");
}

TEST(LogFormat, InitLinesCarryTheFunctionAndRuntime) {
  Json init = Event(
      "INIT_START Runtime Version: python:3.12.v40\tRuntime Version ARN: "
      "arn:aws:lambda:us-east-1::runtime:abc");
  EXPECT_EQ(init["type"], "platform.initStart");
  EXPECT_EQ(init["record"]["runtimeVersion"], "python:3.12.v40");
  EXPECT_EQ(init["record"]["runtimeVersionArn"], "arn:aws:lambda:us-east-1::runtime:abc");
  EXPECT_EQ(init["record"]["functionName"], "fn");
  EXPECT_EQ(init["record"]["initializationType"], "on-demand");
  EXPECT_EQ(init["record"]["phase"], "init");
  Json report = Event(
      "INIT_REPORT Init Duration: 10003.21 ms\tPhase: init\tStatus: timeout");
  EXPECT_EQ(report["type"], "platform.initReport");
  EXPECT_EQ(report["record"]["status"], "timeout");
  EXPECT_EQ(report["record"]["metrics"]["durationMs"], 10003.21);
}

TEST(LogFormat, SystemLogLevelFilters) {
  EXPECT_TRUE(Event("END RequestId: abc-1").is_null()) << "END has no event at INFO";
  EXPECT_EQ(Event("END RequestId: abc-1", "DEBUG")["type"], "platform.runtimeDone");
  EXPECT_TRUE(Event("START RequestId: a Version: 1", "WARN").is_null());
  EXPECT_EQ(Event("INIT_REPORT Init Duration: 1 ms\tPhase: init\tStatus: error\t"
                  "Error Type: Runtime.ExitError", "WARN")["record"]["errorType"],
            "Runtime.ExitError");
}

TEST(LogFormat, DroppedLogsAreAWarningEvent) {
  Json dropped = Event("LOGS_DROPPED Dropped Records: 12\tDropped Bytes: 3456\tReason: too fast",
                       "WARN");
  EXPECT_EQ(dropped["type"], "platform.logsDropped");
  EXPECT_EQ(dropped["record"],
            (Json{{"reason", "too fast"}, {"droppedRecords", 12}, {"droppedBytes", 3456}}));
}

TEST(LogFormat, OtherLinesPassThrough) {
  PlatformContext context;
  EXPECT_EQ(SystemLineAsJson("2026-11-24T21:30:00.123Z abc Task timed out after 3.00 seconds",
                             kTime, context),
            "2026-11-24T21:30:00.123Z abc Task timed out after 3.00 seconds");
}

TEST(LogFormat, ValidatesLoggingConfigValues) {
  EXPECT_TRUE(IsLogFormat("JSON") && IsLogFormat("Text"));
  EXPECT_FALSE(IsLogFormat("json"));
  EXPECT_TRUE(IsApplicationLogLevel("TRACE") && IsApplicationLogLevel("FATAL"));
  EXPECT_FALSE(IsApplicationLogLevel("WARNING"));
  EXPECT_TRUE(IsSystemLogLevel("WARN"));
  EXPECT_FALSE(IsSystemLogLevel("ERROR"));
  EXPECT_TRUE(IsLogGroupName("/aws/lambda/custom#1"));
  EXPECT_FALSE(IsLogGroupName(""));
  EXPECT_FALSE(IsLogGroupName("bad group"));
  EXPECT_FALSE(IsLogGroupName(std::string(513, 'a')));
}

}  // namespace
}  // namespace haneul::invoker
