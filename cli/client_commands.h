// The pure pieces of the client sub-commands (invoke, deploy, logs): flag parsing, request paths
// and bodies, zipping a function folder, awscli-style error messages and log handling. The
// commands themselves (commands.h) are these pieces plus an HttpClient and stdout/stderr.
// Thread-compatible: free functions over values; a LogDeduplicator is used by one thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "haneul/common/http.h"
#include "haneul/common/status.h"

namespace haneul::cli {

inline constexpr std::string_view kDefaultEndpoint = "http://127.0.0.1:4747";
inline constexpr std::string_view kDeployRole = "arn:aws:iam::000000000000:role/haneul";
inline constexpr int64_t kDefaultLogsSinceMinutes = 10;  // as `aws logs tail`

// argv-style flags: "--name VALUE" or "--name=VALUE" for value flags, "--name" for switches; a
// lone "--" ends the flags. "-h"/"--help" is always accepted and sets the "help" switch. Unknown
// flags, a missing value and a repeated flag are InvalidArgument (a usage error).
struct FlagSpec {
  std::set<std::string> value_flags;  // names without the leading "--"
  std::set<std::string> switches;
};

struct ParsedFlags {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;
  std::set<std::string> switches;
};

Result<ParsedFlags> ParseFlags(const std::vector<std::string>& args, const FlagSpec& spec);

// The server to talk to: the --endpoint flag, else $HANEUL_ENDPOINT (env_endpoint, may be null or
// empty), else kDefaultEndpoint; without trailing slashes.
std::string ResolveEndpoint(const std::optional<std::string>& flag, const char* env_endpoint);

struct InvokeOptions {
  bool help = false;
  std::string endpoint;
  std::string name;
  std::string payload = "{}";
  std::string qualifier;  // empty: unqualified
};

// args are the words after "invoke". "--payload file://PATH" reads the payload from PATH, as
// awscli does (an unreadable file is InvalidArgument).
Result<InvokeOptions> ParseInvokeOptions(const std::vector<std::string>& args,
                                         const char* env_endpoint);

struct DeployOptions {
  bool help = false;
  std::string endpoint;
  std::filesystem::path directory;
  std::string name;  // defaults to the directory's basename
  std::string runtime;
  std::string handler;
  std::optional<int> memory_mb;
  std::optional<int> timeout_seconds;
};

Result<DeployOptions> ParseDeployOptions(const std::vector<std::string>& args,
                                         const char* env_endpoint);

struct LogsOptions {
  bool help = false;
  std::string endpoint;
  std::string name;
  bool follow = false;
  int64_t since_minutes = kDefaultLogsSinceMinutes;
};

Result<LogsOptions> ParseLogsOptions(const std::vector<std::string>& args,
                                     const char* env_endpoint);

// "/2015-03-31/functions/{name}/invocations[?Qualifier=q]", name and qualifier percent-encoded.
std::string InvokePath(std::string_view name, std::string_view qualifier);
// "/2015-03-31/functions/{name}{suffix}", name percent-encoded; suffix like "/code".
std::string FunctionPath(std::string_view name, std::string_view suffix = "");

// awscli's wording for a service error: "An error occurred (Type): message". Type is the
// x-amzn-ErrorType header up to ':' (rest-json), else the body's "__type" after any '#'
// (json 1.0/1.1), else the HTTP status. message is the body's "message" or "Message", else the
// raw body.
std::string FormatAwsError(int status, const Headers& headers, std::string_view body);
// The AWS error type of a failed response, as used by FormatAwsError ("" when none is given).
std::string AwsErrorType(const Headers& headers, std::string_view body);

// What to say when the server cannot be reached at all (refused, timed out, bad URL).
std::string FormatUnreachable(std::string_view endpoint, const Status& status);

// The REPORT lines of an invocation's log tail (X-Amz-Log-Result, already base64-decoded),
// without their line endings.
std::vector<std::string> ReportLines(std::string_view log_tail);

// Zips the regular files under dir (recursively, symlinks to files followed, entries sorted by
// their relative '/'-separated path) into an in-memory archive. Each entry carries its Unix mode
// in the external attributes, so executable bits (a `provided` bootstrap) survive. A folder
// without files is InvalidArgument.
Result<std::string> ZipDirectory(const std::filesystem::path& dir);

// The function name a folder deploys as when --name is not given: its basename ("fn/" and
// "fn/." give "fn").
std::string DefaultFunctionName(const std::filesystem::path& dir);

// Request bodies of deploy: CreateFunction, UpdateFunctionCode, UpdateFunctionConfiguration.
std::string CreateFunctionBody(const DeployOptions& options, std::string_view zip_base64);
std::string UpdateCodeBody(std::string_view zip_base64);
std::string UpdateConfigurationBody(const DeployOptions& options);

// CloudWatch Logs FilterLogEvents, the json 1.1 protocol.
std::string FilterLogEventsBody(std::string_view log_group, int64_t start_time_millis,
                                const std::optional<std::string>& next_token);

struct LogEvent {
  std::string event_id;
  std::string log_stream_name;
  int64_t timestamp = 0;
  std::string message;
};

struct LogPage {
  std::vector<LogEvent> events;
  std::optional<std::string> next_token;
};

// InvalidArgument when the body is not a FilterLogEvents answer.
Result<LogPage> ParseFilterLogEventsResponse(std::string_view body);

// The message as printed: as-is, plus a newline unless it already ends with one.
std::string FormatLogLine(std::string_view message);

// Follow mode polls from the newest timestamp seen, inclusive, so the events at that
// timestamp come back on every poll; this remembers ids to print each event once. Ids older than
// the newest timestamp can never come back from such a poll and are forgotten by Prune().
class LogDeduplicator {
 public:
  // True the first time an event id is offered.
  bool FirstSeen(const LogEvent& event);
  // The startTime of the next poll: the newest timestamp seen, or fallback when none.
  int64_t NextStartTime(int64_t fallback) const;
  void Prune();
  size_t remembered() const { return seen_.size(); }

 private:
  std::map<std::string, int64_t> seen_;  // event id -> timestamp
  std::optional<int64_t> newest_;
};

// `haneul dlq list | read NAME`: the dead-letter queues of async invocations (GET /_haneul/dlq).
// argv[0] is "dlq"; returns the process exit code.
int Dlq(int argc, char** argv);

}  // namespace haneul::cli
