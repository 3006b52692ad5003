// The client sub-commands `haneul invoke`, `deploy`, `logs` and `dlq`: they talk to a running
// server over the same wire protocols as the AWS clients (Lambda rest-json, CloudWatch Logs
// json 1.1) and word errors the way awscli does. Each command is single-threaded; `logs --follow`
// installs a SIGINT handler for its own duration.
#include "client_commands.h"

#include <signal.h>
#include <sys/stat.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>

#include "commands.h"
#include "haneul/common/sigv4.h"
#include "haneul/common/http_client.h"
#include "haneul/common/ids.h"

namespace haneul::cli {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::chrono::milliseconds kFollowInterval(500);
constexpr std::chrono::milliseconds kControlTimeout = std::chrono::minutes(5);

std::vector<std::string> ArgsAfterCommand(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return args;
}

Result<int> ParsePositiveInt(std::string_view flag, std::string_view text) {
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value <= 0) {
    return Status::InvalidArgument("--" + std::string(flag) + " wants a positive integer, got '" +
                                   std::string(text) + "'");
  }
  return value;
}

std::optional<std::string> FlagValue(const ParsedFlags& flags, const std::string& name) {
  auto it = flags.values.find(name);
  if (it == flags.values.end()) return std::nullopt;
  return it->second;
}

// The one positional argument of a command, or a usage error naming what was expected.
Status TakeOnePositional(const ParsedFlags& flags, std::string_view what, std::string* out) {
  if (flags.positional.empty()) return Status::InvalidArgument("missing " + std::string(what));
  if (flags.positional.size() > 1) {
    return Status::InvalidArgument("unexpected argument '" + flags.positional[1] + "'");
  }
  *out = flags.positional[0];
  if (out->empty()) return Status::InvalidArgument(std::string(what) + " is empty");
  return Status::Ok();
}

std::optional<json> ParseJson(std::string_view text) {
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

std::string JsonString(const json& object, std::string_view key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

const char kInvokeUsage[] =
    "usage: haneul invoke NAME [--payload JSON|file://PATH] [--qualifier Q] [--endpoint URL]\n";
const char kDeployUsage[] =
    "usage: haneul deploy DIR --runtime RUNTIME --handler HANDLER [--name NAME] [--memory MB]\n"
    "                     [--timeout SECONDS] [--endpoint URL]\n";
const char kLogsUsage[] = "usage: haneul logs NAME [--follow] [--since MINUTES] [--endpoint URL]\n";

int UsageError(const char* usage, const Status& status) {
  std::fprintf(stderr, "haneul: %s\n%s", status.message().c_str(), usage);
  return 2;
}

void PrintLine(FILE* stream, std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stream);
  std::fputc('\n', stream);
}

// A response whose status says the request failed: print awscli's wording.
bool IsHttpError(const HttpClientResponse& response) {
  return response.status < 200 || response.status >= 300;
}

// --- deploy ---

struct DeployOutcome {
  std::string function_arn;
  std::string code_sha256;
};

Result<DeployOutcome> DeployOutcomeFrom(const HttpClientResponse& response) {
  auto body = ParseJson(response.body);
  if (!body || !body->is_object()) {
    return Status::Internal("the server's answer is not a function configuration: " +
                            response.body);
  }
  return DeployOutcome{JsonString(*body, "FunctionArn"), JsonString(*body, "CodeSha256")};
}

// --- logs ---

volatile sig_atomic_t interrupted = 0;

void OnInterrupt(int) { interrupted = 1; }

// Sleeps for the interval or until SIGINT, whichever is first (nanosleep returns early with
// EINTR when the handler runs; std::this_thread::sleep_for would resume sleeping).
void InterruptibleSleep(std::chrono::milliseconds interval) {
  timespec remaining{static_cast<time_t>(interval.count() / 1000),
                     static_cast<long>((interval.count() % 1000) * 1000000)};
  while (!interrupted && nanosleep(&remaining, &remaining) == -1 && errno == EINTR) {
  }
}

// The key pair requests are signed with, found as awscli finds it (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY), else HANEUL_CREDENTIALS (KEY:SECRET[,KEY:SECRET...], what `haneul
// serve` reads: the first pair). A server without credentials ignores the signature.
struct Signer {
  std::string key;
  std::string secret;
  std::string region = "us-east-1";
};

std::optional<Signer> SignerFromEnvironment() {
  Signer signer;
  const char* key = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (key && *key && secret && *secret) {
    signer.key = key;
    signer.secret = secret;
  } else if (const char* pairs = std::getenv("HANEUL_CREDENTIALS"); pairs && *pairs) {
    std::string first(pairs);
    first = first.substr(0, first.find(','));
    auto colon = first.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == first.size()) return std::nullopt;
    signer.key = first.substr(0, colon);
    signer.secret = first.substr(colon + 1);
  } else {
    return std::nullopt;
  }
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (const char* region = std::getenv(name); region && *region) {
      signer.region = region;
      break;
    }
  }
  return signer;
}

// Sends one request to the endpoint, SigV4-signed for `service` when a key pair is known.
Result<HttpClientResponse> SendAws(HttpClient& client, const std::string& method,
                                   const std::string& endpoint, const std::string& target,
                                   Headers headers, const std::string& body,
                                   const std::string& service,
                                   std::chrono::milliseconds timeout = kControlTimeout) {
  if (auto signer = SignerFromEnvironment()) {
    auto scheme = endpoint.find("//");
    std::string host = endpoint.substr(scheme == std::string::npos ? 0 : scheme + 2);
    host = host.substr(0, host.find('/'));
    headers.Set("Host", host);
    auto question = target.find('?');
    SignSigV4(method, target.substr(0, question),
              question == std::string::npos ? "" : target.substr(question + 1), body, service,
              signer->region, signer->key, signer->secret, NowUnixMillis() / 1000, &headers);
  }
  return client.Send(method, endpoint + target, headers, body, timeout);
}

// Fetches every page from start_time on and prints the events not printed before. Returns the
// exit code to stop with, or nullopt to go on.
std::optional<int> PrintLogEventsSince(HttpClient& client, const LogsOptions& options,
                                       int64_t start_time, LogDeduplicator& dedup) {
  Headers headers;
  headers.Add("X-Amz-Target", "Logs_20140328.FilterLogEvents");
  headers.Add("Content-Type", "application/x-amz-json-1.1");
  std::string group = "/aws/lambda/" + options.name;
  std::optional<std::string> next_token;
  do {
    auto response = SendAws(client, "POST", options.endpoint, "/", headers,
                            FilterLogEventsBody(group, start_time, next_token), "logs");
    if (!response.ok()) {
      PrintLine(stderr, FormatUnreachable(options.endpoint, response.status()));
      return 1;
    }
    if (IsHttpError(*response)) {
      PrintLine(stderr, FormatAwsError(response->status, response->headers, response->body));
      return 1;
    }
    auto page = ParseFilterLogEventsResponse(response->body);
    if (!page.ok()) {
      PrintLine(stderr, "haneul: " + page.status().message());
      return 1;
    }
    for (const LogEvent& event : page->events) {
      if (!dedup.FirstSeen(event)) continue;
      std::string line = FormatLogLine(event.message);
      std::fwrite(line.data(), 1, line.size(), stdout);
    }
    std::fflush(stdout);
    next_token = std::move(page->next_token);
  } while (next_token.has_value() && !interrupted);
  dedup.Prune();
  return std::nullopt;
}

}  // namespace

// --- pure pieces ---

Result<ParsedFlags> ParseFlags(const std::vector<std::string>& args, const FlagSpec& spec) {
  ParsedFlags parsed;
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_ended || arg == "-" || !arg.starts_with("-")) {
      parsed.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      parsed.switches.insert("help");
      continue;
    }
    if (!arg.starts_with("--")) return Status::InvalidArgument("unknown flag '" + arg + "'");
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (size_t equals = name.find('='); equals != std::string::npos) {
      inline_value = name.substr(equals + 1);
      name.resize(equals);
    }
    if (spec.switches.contains(name)) {
      if (inline_value) return Status::InvalidArgument("--" + name + " takes no value");
      parsed.switches.insert(name);
      continue;
    }
    if (!spec.value_flags.contains(name)) {
      return Status::InvalidArgument("unknown flag '--" + name + "'");
    }
    if (parsed.values.contains(name)) {
      return Status::InvalidArgument("--" + name + " given more than once");
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) return Status::InvalidArgument("--" + name + " wants a value");
      inline_value = args[++i];
    }
    parsed.values[name] = std::move(*inline_value);
  }
  return parsed;
}

std::string ResolveEndpoint(const std::optional<std::string>& flag, const char* env_endpoint) {
  std::string endpoint;
  if (flag && !flag->empty()) {
    endpoint = *flag;
  } else if (env_endpoint != nullptr && env_endpoint[0] != '\0') {
    endpoint = env_endpoint;
  } else {
    endpoint = kDefaultEndpoint;
  }
  while (endpoint.size() > 1 && endpoint.back() == '/') endpoint.pop_back();
  return endpoint;
}

Result<InvokeOptions> ParseInvokeOptions(const std::vector<std::string>& args,
                                         const char* env_endpoint) {
  auto flags = ParseFlags(args, {.value_flags = {"payload", "qualifier", "endpoint"}});
  if (!flags.ok()) return flags.status();
  InvokeOptions options;
  if (flags->switches.contains("help")) {
    options.help = true;
    return options;
  }
  HANEUL_RETURN_IF_ERROR(TakeOnePositional(*flags, "function name", &options.name));
  options.endpoint = ResolveEndpoint(FlagValue(*flags, "endpoint"), env_endpoint);
  if (auto payload = FlagValue(*flags, "payload")) {
    if (payload->starts_with("file://")) {
      std::string path = payload->substr(7);
      std::ifstream file(path, std::ios::binary);
      if (!file) return Status::InvalidArgument("cannot read the payload file '" + path + "'");
      options.payload.assign(std::istreambuf_iterator<char>(file),
                             std::istreambuf_iterator<char>());
    } else {
      options.payload = std::move(*payload);
    }
  }
  if (auto qualifier = FlagValue(*flags, "qualifier")) options.qualifier = std::move(*qualifier);
  return options;
}

Result<DeployOptions> ParseDeployOptions(const std::vector<std::string>& args,
                                         const char* env_endpoint) {
  auto flags = ParseFlags(
      args, {.value_flags = {"runtime", "handler", "name", "memory", "timeout", "endpoint"}});
  if (!flags.ok()) return flags.status();
  DeployOptions options;
  if (flags->switches.contains("help")) {
    options.help = true;
    return options;
  }
  std::string directory;
  HANEUL_RETURN_IF_ERROR(TakeOnePositional(*flags, "function folder", &directory));
  options.directory = directory;
  options.endpoint = ResolveEndpoint(FlagValue(*flags, "endpoint"), env_endpoint);
  auto runtime = FlagValue(*flags, "runtime");
  if (!runtime || runtime->empty()) return Status::InvalidArgument("--runtime is required");
  options.runtime = std::move(*runtime);
  auto handler = FlagValue(*flags, "handler");
  if (!handler || handler->empty()) return Status::InvalidArgument("--handler is required");
  options.handler = std::move(*handler);
  auto name = FlagValue(*flags, "name");
  options.name = name && !name->empty() ? std::move(*name) : DefaultFunctionName(directory);
  if (options.name.empty()) {
    return Status::InvalidArgument("cannot name a function after '" + directory + "'; pass --name");
  }
  if (auto memory = FlagValue(*flags, "memory")) {
    auto value = ParsePositiveInt("memory", *memory);
    if (!value.ok()) return value.status();
    options.memory_mb = *value;
  }
  if (auto timeout = FlagValue(*flags, "timeout")) {
    auto value = ParsePositiveInt("timeout", *timeout);
    if (!value.ok()) return value.status();
    options.timeout_seconds = *value;
  }
  return options;
}

Result<LogsOptions> ParseLogsOptions(const std::vector<std::string>& args,
                                     const char* env_endpoint) {
  auto flags = ParseFlags(args, {.value_flags = {"since", "endpoint"}, .switches = {"follow"}});
  if (!flags.ok()) return flags.status();
  LogsOptions options;
  if (flags->switches.contains("help")) {
    options.help = true;
    return options;
  }
  HANEUL_RETURN_IF_ERROR(TakeOnePositional(*flags, "function name", &options.name));
  options.endpoint = ResolveEndpoint(FlagValue(*flags, "endpoint"), env_endpoint);
  options.follow = flags->switches.contains("follow");
  if (auto since = FlagValue(*flags, "since")) {
    auto value = ParsePositiveInt("since", *since);
    if (!value.ok()) return value.status();
    options.since_minutes = *value;
  }
  return options;
}

std::string FunctionPath(std::string_view name, std::string_view suffix) {
  return "/2015-03-31/functions/" + PercentEncode(name) + std::string(suffix);
}

std::string InvokePath(std::string_view name, std::string_view qualifier) {
  std::string path = FunctionPath(name, "/invocations");
  if (!qualifier.empty()) path += "?Qualifier=" + PercentEncode(qualifier);
  return path;
}

std::string AwsErrorType(const Headers& headers, std::string_view body) {
  std::string_view header = headers.Get("x-amzn-ErrorType");
  if (!header.empty()) return std::string(header.substr(0, header.find(':')));
  if (auto parsed = ParseJson(body)) {
    std::string type = JsonString(*parsed, "__type");
    if (size_t hash = type.rfind('#'); hash != std::string::npos) type.erase(0, hash + 1);
    return type;
  }
  return "";
}

std::string FormatAwsError(int status, const Headers& headers, std::string_view body) {
  std::string type = AwsErrorType(headers, body);
  if (type.empty()) type = std::to_string(status);
  std::string message;
  if (auto parsed = ParseJson(body)) {
    message = JsonString(*parsed, "message");
    if (message.empty()) message = JsonString(*parsed, "Message");
  }
  if (message.empty()) {
    message = std::string(body);
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
      message.pop_back();
    }
  }
  if (message.empty()) message = "HTTP status " + std::to_string(status);
  return "An error occurred (" + type + "): " + message;
}

std::string FormatUnreachable(std::string_view endpoint, const Status& status) {
  return "haneul: cannot reach the haneul server at " + std::string(endpoint) + " (" +
         status.message() +
         "). Is `haneul serve` running? Set --endpoint or HANEUL_ENDPOINT to use another.";
}

std::vector<std::string> ReportLines(std::string_view log_tail) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < log_tail.size()) {
    size_t end = log_tail.find('\n', start);
    if (end == std::string_view::npos) end = log_tail.size();
    std::string_view line = log_tail.substr(start, end - start);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.starts_with("REPORT ")) lines.emplace_back(line);
    start = end + 1;
  }
  return lines;
}

std::string DefaultFunctionName(const fs::path& dir) {
  std::error_code error;
  fs::path absolute = fs::absolute(dir, error);
  if (error) absolute = dir;
  absolute = absolute.lexically_normal();
  if (absolute.filename().empty()) absolute = absolute.parent_path();
  return absolute.filename().string();
}

Result<std::string> ZipDirectory(const fs::path& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return Status::InvalidArgument("'" + dir.string() + "' is not a folder");
  }
  // Collect first, so entries come out in a stable order whatever the directory order is.
  std::vector<std::pair<std::string, fs::path>> files;
  fs::recursive_directory_iterator it(dir, error), end;
  if (error) return Status::IoError("cannot list '" + dir.string() + "': " + error.message());
  for (; it != end; it.increment(error)) {
    if (error) break;
    if (!it->is_regular_file(error)) continue;
    files.emplace_back(it->path().lexically_relative(dir).generic_string(), it->path());
  }
  if (error) return Status::IoError("cannot list '" + dir.string() + "': " + error.message());
  if (files.empty()) {
    return Status::InvalidArgument("'" + dir.string() + "' contains no files to deploy");
  }
  std::sort(files.begin(), files.end());

  zip_error_t zip_error;
  zip_error_init(&zip_error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &zip_error);
  if (buffer == nullptr) {
    std::string message = zip_error_strerror(&zip_error);
    zip_error_fini(&zip_error);
    return Status::Internal("zip: " + message);
  }
  zip_t* archive = zip_open_from_source(buffer, ZIP_TRUNCATE, &zip_error);
  if (archive == nullptr) {
    std::string message = zip_error_strerror(&zip_error);
    zip_error_fini(&zip_error);
    zip_source_free(buffer);
    return Status::Internal("zip: " + message);
  }
  zip_error_fini(&zip_error);
  // Keep the buffer alive past zip_close, which would otherwise free it with the archive.
  zip_source_keep(buffer);

  auto fail = [&](std::string message) -> Status {
    zip_discard(archive);
    zip_source_free(buffer);
    return Status::IoError("zip: " + message);
  };
  for (const auto& [name, path] : files) {
    struct stat info;
    if (::stat(path.c_str(), &info) != 0) return fail(Status::FromErrno(path.string()).message());
    zip_source_t* source = zip_source_file(archive, path.c_str(), 0, -1);
    if (source == nullptr) return fail(path.string() + ": " + zip_strerror(archive));
    zip_int64_t index = zip_file_add(archive, name.c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      return fail(name + ": " + zip_strerror(archive));
    }
    // Unix mode in the high 16 bits, as Info-ZIP writes it; unzip and Lambda restore it.
    zip_uint32_t attributes = static_cast<zip_uint32_t>(S_IFREG | (info.st_mode & 07777)) << 16;
    if (zip_file_set_external_attributes(archive, static_cast<zip_uint64_t>(index), 0,
                                         ZIP_OPSYS_UNIX, attributes) != 0) {
      return fail(name + ": " + zip_strerror(archive));
    }
  }
  // zip_close reads the files and writes the archive into the buffer.
  if (zip_close(archive) != 0) return fail(zip_strerror(archive));

  std::string bytes;
  if (zip_source_open(buffer) != 0 || zip_source_seek(buffer, 0, SEEK_END) != 0) {
    zip_source_free(buffer);
    return Status::Internal("zip: cannot read back the archive");
  }
  zip_int64_t size = zip_source_tell(buffer);
  if (size < 0 || zip_source_seek(buffer, 0, SEEK_SET) != 0) {
    zip_source_close(buffer);
    zip_source_free(buffer);
    return Status::Internal("zip: cannot read back the archive");
  }
  bytes.resize(static_cast<size_t>(size));
  zip_int64_t read = zip_source_read(buffer, bytes.data(), static_cast<zip_uint64_t>(size));
  zip_source_close(buffer);
  zip_source_free(buffer);
  if (read != size) return Status::Internal("zip: short read of the archive");
  return bytes;
}

std::string CreateFunctionBody(const DeployOptions& options, std::string_view zip_base64) {
  json body = json::object();
  body["FunctionName"] = options.name;
  body["Runtime"] = options.runtime;
  body["Handler"] = options.handler;
  body["Role"] = kDeployRole;
  body["Code"] = {{"ZipFile", zip_base64}};
  if (options.memory_mb) body["MemorySize"] = *options.memory_mb;
  if (options.timeout_seconds) body["Timeout"] = *options.timeout_seconds;
  return body.dump();
}

std::string UpdateCodeBody(std::string_view zip_base64) {
  return json{{"ZipFile", zip_base64}}.dump();
}

std::string UpdateConfigurationBody(const DeployOptions& options) {
  json body = {{"Runtime", options.runtime}, {"Handler", options.handler}};
  if (options.memory_mb) body["MemorySize"] = *options.memory_mb;
  if (options.timeout_seconds) body["Timeout"] = *options.timeout_seconds;
  return body.dump();
}

std::string FilterLogEventsBody(std::string_view log_group, int64_t start_time_millis,
                                const std::optional<std::string>& next_token) {
  json body = {{"logGroupName", log_group}, {"startTime", start_time_millis}};
  if (next_token) body["nextToken"] = *next_token;
  return body.dump();
}

Result<LogPage> ParseFilterLogEventsResponse(std::string_view body) {
  auto parsed = ParseJson(body);
  if (!parsed || !parsed->is_object()) {
    return Status::InvalidArgument("the FilterLogEvents answer is not a JSON object");
  }
  LogPage page;
  if (auto events = parsed->find("events"); events != parsed->end()) {
    if (!events->is_array()) return Status::InvalidArgument("FilterLogEvents: events is no list");
    for (const json& item : *events) {
      if (!item.is_object()) return Status::InvalidArgument("FilterLogEvents: bad event");
      LogEvent event;
      event.event_id = JsonString(item, "eventId");
      event.log_stream_name = JsonString(item, "logStreamName");
      event.message = JsonString(item, "message");
      if (auto timestamp = item.find("timestamp");
          timestamp != item.end() && timestamp->is_number_integer()) {
        event.timestamp = timestamp->get<int64_t>();
      }
      page.events.push_back(std::move(event));
    }
  }
  std::string token = JsonString(*parsed, "nextToken");
  if (!token.empty()) page.next_token = std::move(token);
  return page;
}

std::string FormatLogLine(std::string_view message) {
  std::string line(message);
  if (!line.ends_with('\n')) line.push_back('\n');
  return line;
}

bool LogDeduplicator::FirstSeen(const LogEvent& event) {
  if (!newest_ || event.timestamp > *newest_) newest_ = event.timestamp;
  // An event without an id cannot be recognised again; print it.
  if (event.event_id.empty()) return true;
  return seen_.emplace(event.event_id, event.timestamp).second;
}

int64_t LogDeduplicator::NextStartTime(int64_t fallback) const {
  return newest_.value_or(fallback);
}

void LogDeduplicator::Prune() {
  if (!newest_) return;
  std::erase_if(seen_, [&](const auto& entry) { return entry.second < *newest_; });
}

// --- the commands ---

int Invoke(int argc, char** argv) {
  auto options = ParseInvokeOptions(ArgsAfterCommand(argc, argv), std::getenv("HANEUL_ENDPOINT"));
  if (!options.ok()) return UsageError(kInvokeUsage, options.status());
  if (options->help) {
    std::fputs(kInvokeUsage, stdout);
    return 0;
  }
  HttpClient client;
  Headers headers;
  headers.Add("Content-Type", "application/json");
  headers.Add("X-Amz-Log-Type", "Tail");
  auto response = SendAws(client, "POST", options->endpoint,
                          InvokePath(options->name, options->qualifier), headers,
                          options->payload, "lambda", std::chrono::minutes(16));
  if (!response.ok()) {
    PrintLine(stderr, FormatUnreachable(options->endpoint, response.status()));
    return 1;
  }
  if (IsHttpError(*response)) {
    PrintLine(stderr, FormatAwsError(response->status, response->headers, response->body));
    return 1;
  }
  PrintLine(stdout, response->body);
  std::fflush(stdout);
  std::string log_tail;
  if (std::string_view encoded = response->headers.Get("X-Amz-Log-Result");
      !encoded.empty() && Base64Decode(encoded, &log_tail)) {
    for (const std::string& line : ReportLines(log_tail)) PrintLine(stderr, line);
  }
  return response->headers.Has("X-Amz-Function-Error") ? 1 : 0;
}

int Deploy(int argc, char** argv) {
  auto options = ParseDeployOptions(ArgsAfterCommand(argc, argv), std::getenv("HANEUL_ENDPOINT"));
  if (!options.ok()) return UsageError(kDeployUsage, options.status());
  if (options->help) {
    std::fputs(kDeployUsage, stdout);
    return 0;
  }
  auto zip = ZipDirectory(options->directory);
  if (!zip.ok()) {
    PrintLine(stderr, "haneul: " + zip.status().message());
    return 1;
  }
  std::string zip_base64 = Base64Encode(*zip);
  zip->clear();

  HttpClient client;
  Headers headers;
  headers.Add("Content-Type", "application/json");
  const std::string& endpoint = options->endpoint;
  auto send = [&](const char* method, const std::string& path,
                  const std::string& body) -> std::optional<HttpClientResponse> {
    auto response = SendAws(client, method, endpoint, path, headers, body, "lambda");
    if (!response.ok()) {
      PrintLine(stderr, FormatUnreachable(endpoint, response.status()));
      return std::nullopt;
    }
    return std::move(*response);
  };

  auto created = send("POST", "/2015-03-31/functions", CreateFunctionBody(*options, zip_base64));
  if (!created) return 1;
  HttpClientResponse final_answer = std::move(*created);
  bool updated = false;
  if (final_answer.status == 409 &&
      AwsErrorType(final_answer.headers, final_answer.body) == "ResourceConflictException") {
    auto code = send("PUT", FunctionPath(options->name, "/code"), UpdateCodeBody(zip_base64));
    if (!code) return 1;
    if (IsHttpError(*code)) {
      PrintLine(stderr, FormatAwsError(code->status, code->headers, code->body));
      return 1;
    }
    auto configuration = send("PUT", FunctionPath(options->name, "/configuration"),
                              UpdateConfigurationBody(*options));
    if (!configuration) return 1;
    final_answer = std::move(*configuration);
    updated = true;
  }
  if (IsHttpError(final_answer)) {
    PrintLine(stderr, FormatAwsError(final_answer.status, final_answer.headers, final_answer.body));
    return 1;
  }
  auto outcome = DeployOutcomeFrom(final_answer);
  if (!outcome.ok()) {
    PrintLine(stderr, "haneul: " + outcome.status().message());
    return 1;
  }
  std::fprintf(stderr, "%s function %s\n", updated ? "updated" : "created", options->name.c_str());
  std::printf("FunctionArn: %s\nCodeSha256: %s\n", outcome->function_arn.c_str(),
              outcome->code_sha256.c_str());
  return 0;
}

int Logs(int argc, char** argv) {
  auto options = ParseLogsOptions(ArgsAfterCommand(argc, argv), std::getenv("HANEUL_ENDPOINT"));
  if (!options.ok()) return UsageError(kLogsUsage, options.status());
  if (options->help) {
    std::fputs(kLogsUsage, stdout);
    return 0;
  }
  HttpClient client;
  LogDeduplicator dedup;
  const int64_t start_time = NowUnixMillis() - options->since_minutes * 60 * 1000;
  if (auto exit_code = PrintLogEventsSince(client, *options, start_time, dedup)) {
    return *exit_code;
  }
  if (!options->follow) return 0;

  // Until SIGINT: the handler only sets a flag, checked between polls and pages.
  interrupted = 0;
  struct sigaction action = {};
  struct sigaction previous = {};
  action.sa_handler = &OnInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &previous);
  int exit_code = 0;
  while (!interrupted) {
    InterruptibleSleep(kFollowInterval);
    if (interrupted) break;
    if (auto stop = PrintLogEventsSince(client, *options, dedup.NextStartTime(start_time), dedup)) {
      exit_code = *stop;
      break;
    }
  }
  sigaction(SIGINT, &previous, nullptr);
  return exit_code;
}

// `haneul dlq list` prints each dead-letter queue with its record count; `haneul dlq read NAME`
// prints the queue's records (Lambda destination records), one JSON document per line.
int Dlq(int argc, char** argv) {
  static const char kDlqUsage[] =
      "usage: haneul dlq list [--endpoint URL]\n"
      "       haneul dlq read NAME [--endpoint URL]\n";
  auto flags = ParseFlags(ArgsAfterCommand(argc, argv), {.value_flags = {"endpoint"}});
  if (!flags.ok()) return UsageError(kDlqUsage, flags.status());
  if (flags->switches.contains("help")) {
    std::fputs(kDlqUsage, stdout);
    return 0;
  }
  const auto& positional = flags->positional;
  bool list = positional.size() == 1 && positional[0] == "list";
  bool read = positional.size() == 2 && positional[0] == "read" && !positional[1].empty();
  if (!list && !read) {
    return UsageError(kDlqUsage, Status::InvalidArgument("expected `list` or `read NAME`"));
  }
  std::string endpoint =
      ResolveEndpoint(FlagValue(*flags, "endpoint"), std::getenv("HANEUL_ENDPOINT"));
  HttpClient client;
  std::string path = list ? "/_haneul/dlq" : "/_haneul/dlq/" + positional[1];
  auto response = SendAws(client, "GET", endpoint, path, Headers(), "", "lambda");
  if (!response.ok()) {
    PrintLine(stderr, FormatUnreachable(endpoint, response.status()));
    return 1;
  }
  auto body = ParseJson(response->body);
  if (IsHttpError(*response) || !body || !body->is_object()) {
    PrintLine(stderr, "haneul: " + std::to_string(response->status) + " " + response->body);
    return 1;
  }
  if (list) {
    for (const auto& queue : body->value("Queues", json::array())) {
      PrintLine(stdout, JsonString(queue, "Name") + "\t" +
                            std::to_string(queue.value("Count", 0)));
    }
  } else {
    for (const auto& message : body->value("Messages", json::array())) {
      PrintLine(stdout, message.dump());
    }
  }
  return 0;
}

}  // namespace haneul::cli
