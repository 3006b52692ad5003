// The client sub-commands: their pure pieces (flags, paths, bodies, zipping, error wording, log
// handling), then invoke/deploy/logs end to end against a fake server on 127.0.0.1 (port 0)
// served from a background thread.
#include "client_commands.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "haneul/common/event_loop.h"
#include "haneul/common/http.h"
#include "haneul/common/ids.h"

namespace haneul::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A fresh temporary folder, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::path(testing::TempDir()) / "haneul-cli-XXXXXX").string();
    EXPECT_NE(::mkdtemp(pattern.data()), nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code error;
    fs::remove_all(path_, error);
  }
  const fs::path& path() const { return path_; }

  void Write(const std::string& relative, const std::string& content, mode_t mode = 0644) {
    fs::path file = path_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    EXPECT_EQ(::chmod(file.c_str(), mode), 0);
  }

 private:
  fs::path path_;
};

struct ZipEntry {
  std::string name;
  std::string content;
  uint8_t opsys = 0;
  uint32_t attributes = 0;
};

// Reads an in-memory archive back with libzip.
std::vector<ZipEntry> ReadZip(const std::string& bytes) {
  std::vector<ZipEntry> entries;
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  EXPECT_NE(source, nullptr);
  zip_t* archive = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  EXPECT_NE(archive, nullptr) << zip_error_strerror(&error);
  zip_error_fini(&error);
  if (archive == nullptr) {
    zip_source_free(source);
    return entries;
  }
  zip_int64_t count = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    ZipEntry entry;
    zip_stat_t stat;
    EXPECT_EQ(zip_stat_index(archive, i, 0, &stat), 0);
    entry.name = stat.name;
    EXPECT_EQ(zip_file_get_external_attributes(archive, i, 0, &entry.opsys, &entry.attributes), 0);
    zip_file_t* file = zip_fopen_index(archive, i, 0);
    EXPECT_NE(file, nullptr);
    entry.content.resize(stat.size);
    EXPECT_EQ(zip_fread(file, entry.content.data(), stat.size),
              static_cast<zip_int64_t>(stat.size));
    zip_fclose(file);
    entries.push_back(std::move(entry));
  }
  zip_close(archive);  // read-only: frees archive and source
  return entries;
}

Result<ParsedFlags> Parse(std::vector<std::string> args) {
  return ParseFlags(args, {.value_flags = {"payload", "name"}, .switches = {"follow"}});
}

// --- flags ---

TEST(CliFlags, AcceptsBothValueSpellingsSwitchesAndPositionals) {
  auto flags = Parse({"fn", "--payload", "{}", "--name=x=y", "--follow", "more"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->positional, (std::vector<std::string>{"fn", "more"}));
  EXPECT_EQ(flags->values.at("payload"), "{}");
  EXPECT_EQ(flags->values.at("name"), "x=y");
  EXPECT_TRUE(flags->switches.contains("follow"));
}

TEST(CliFlags, ValueMayLookLikeAFlagAndDoubleDashEndsFlags) {
  auto flags = Parse({"--payload", "--follow", "--", "--name"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->values.at("payload"), "--follow");
  EXPECT_FALSE(flags->switches.contains("follow"));
  EXPECT_EQ(flags->positional, (std::vector<std::string>{"--name"}));
}

TEST(CliFlags, RejectsUnknownMissingRepeatedAndValuedSwitches) {
  EXPECT_EQ(Parse({"fn", "--paylod", "{}"}).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Parse({"fn", "-p"}).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Parse({"fn", "--payload"}).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Parse({"--name", "a", "--name", "b"}).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Parse({"--follow=yes"}).status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(Parse({"fn", "--paylod"}).status().message().find("--paylod"), std::string::npos);
}

TEST(CliFlags, HelpIsAlwaysASwitch) {
  auto flags = Parse({"-h"});
  ASSERT_TRUE(flags.ok());
  EXPECT_TRUE(flags->switches.contains("help"));
  auto invoke = ParseInvokeOptions({"--help"}, nullptr);
  ASSERT_TRUE(invoke.ok());
  EXPECT_TRUE(invoke->help);
}

TEST(CliFlags, EndpointComesFromFlagThenEnvironmentThenDefault) {
  EXPECT_EQ(ResolveEndpoint("http://flag:1/", "http://env:2"), "http://flag:1");
  EXPECT_EQ(ResolveEndpoint(std::nullopt, "http://env:2//"), "http://env:2");
  EXPECT_EQ(ResolveEndpoint(std::nullopt, ""), "http://127.0.0.1:4747");
  EXPECT_EQ(ResolveEndpoint(std::nullopt, nullptr), "http://127.0.0.1:4747");
}

TEST(CliInvoke, ParsesNamePayloadQualifierAndEndpoint) {
  auto options = ParseInvokeOptions({"fn"}, nullptr);
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->name, "fn");
  EXPECT_EQ(options->payload, "{}");
  EXPECT_EQ(options->qualifier, "");
  EXPECT_EQ(options->endpoint, "http://127.0.0.1:4747");

  options = ParseInvokeOptions(
      {"--payload", R"({"a":1})", "fn", "--qualifier", "live", "--endpoint", "http://h:9"},
      "http://env:1");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->name, "fn");
  EXPECT_EQ(options->payload, R"({"a":1})");
  EXPECT_EQ(options->qualifier, "live");
  EXPECT_EQ(options->endpoint, "http://h:9");

  options = ParseInvokeOptions({"fn"}, "http://env:1");
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->endpoint, "http://env:1");
}

TEST(CliInvoke, ReadsPayloadFromFileUrl) {
  TempDir dir;
  dir.Write("event.json", R"({"from":"file"})");
  auto options = ParseInvokeOptions(
      {"fn", "--payload", "file://" + (dir.path() / "event.json").string()}, nullptr);
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->payload, R"({"from":"file"})");
  EXPECT_FALSE(
      ParseInvokeOptions({"fn", "--payload", "file://" + (dir.path() / "none").string()}, nullptr)
          .ok());
}

TEST(CliInvoke, RejectsMissingOrExtraNameAndUnknownFlags) {
  EXPECT_EQ(ParseInvokeOptions({}, nullptr).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ParseInvokeOptions({"a", "b"}, nullptr).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(ParseInvokeOptions({"a", "--follow"}, nullptr).status().code(),
            Status::Code::kInvalidArgument);
}

TEST(CliInvoke, PathPercentEncodesNameAndQualifier) {
  EXPECT_EQ(InvokePath("fn", ""), "/2015-03-31/functions/fn/invocations");
  EXPECT_EQ(InvokePath("arn:aws:lambda:us-east-1:000000000000:function:fn", "$LATEST"),
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afn"
            "/invocations?Qualifier=%24LATEST");
  EXPECT_EQ(FunctionPath("my fn", "/code"), "/2015-03-31/functions/my%20fn/code");
}

TEST(CliInvoke, ExtractsReportLinesFromLogTail) {
  std::string tail =
      "id: 1234 Version: $LATEST\n"  // the 4 KB tail can start mid-line
      "START RequestId: 1234 Version: $LATEST\n"
      "hello REPORT not at the start\n"
      "END RequestId: 1234\r\n"
      "REPORT RequestId: 1234\tDuration: 1.23 ms\tBilled Duration: 2 ms\t\r\n"
      "REPORT RequestId: 5678\tDuration: 3.00 ms";
  EXPECT_EQ(ReportLines(tail),
            (std::vector<std::string>{"REPORT RequestId: 1234\tDuration: 1.23 ms\tBilled "
                                      "Duration: 2 ms\t",
                                      "REPORT RequestId: 5678\tDuration: 3.00 ms"}));
  EXPECT_TRUE(ReportLines("START RequestId: 1\nEND RequestId: 1\n").empty());
  EXPECT_TRUE(ReportLines("").empty());
}

// --- error wording ---

TEST(CliErrors, RestJsonErrorUsesHeaderTypeAndMessage) {
  Headers headers;
  headers.Add("x-amzn-ErrorType", "ResourceNotFoundException:http://internal.amazon.com/");
  EXPECT_EQ(
      FormatAwsError(404, headers, R"({"Type":"User","message":"Function not found: arn:x"})"),
      "An error occurred (ResourceNotFoundException): Function not found: arn:x");
  Headers plain;
  plain.Add("X-Amzn-Errortype", "TooManyRequestsException");
  EXPECT_EQ(FormatAwsError(429, plain, R"({"Message":"Rate exceeded"})"),
            "An error occurred (TooManyRequestsException): Rate exceeded");
}

TEST(CliErrors, JsonProtocolErrorUsesTypeFromBody) {
  EXPECT_EQ(FormatAwsError(400, Headers(),
                           R"({"__type":"com.amazonaws.logs#ResourceNotFoundException",)"
                           R"("message":"The specified log group does not exist."})"),
            "An error occurred (ResourceNotFoundException): The specified log group does not "
            "exist.");
  EXPECT_EQ(AwsErrorType(Headers(), R"({"__type":"ResourceConflictException"})"),
            "ResourceConflictException");
}

TEST(CliErrors, NonJsonOrEmptyBodyFallsBackToStatus) {
  EXPECT_EQ(FormatAwsError(502, Headers(), "Bad Gateway\n"),
            "An error occurred (502): Bad Gateway");
  EXPECT_EQ(FormatAwsError(500, Headers(), ""), "An error occurred (500): HTTP status 500");
}

TEST(CliErrors, UnreachableNamesTheEndpoint) {
  std::string text =
      FormatUnreachable("http://127.0.0.1:4747",
                        Status::Unavailable("POST http://127.0.0.1:4747/x: Connection refused"));
  EXPECT_NE(text.find("http://127.0.0.1:4747"), std::string::npos);
  EXPECT_NE(text.find("Connection refused"), std::string::npos);
}

// --- deploy ---

TEST(CliDeploy, ParsesRequiredAndOptionalFlags) {
  auto options = ParseDeployOptions({"./fn/", "--runtime", "python3.12", "--handler", "app.handler",
                                     "--memory", "256", "--timeout=30"},
                                    nullptr);
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->directory, fs::path("./fn/"));
  EXPECT_EQ(options->name, "fn");
  EXPECT_EQ(options->runtime, "python3.12");
  EXPECT_EQ(options->handler, "app.handler");
  EXPECT_EQ(options->memory_mb, 256);
  EXPECT_EQ(options->timeout_seconds, 30);

  options = ParseDeployOptions(
      {"fn", "--runtime", "provided.al2", "--handler", "x", "--name", "other"}, nullptr);
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->name, "other");
  EXPECT_FALSE(options->memory_mb.has_value());
  EXPECT_FALSE(options->timeout_seconds.has_value());
}

TEST(CliDeploy, RejectsMissingRuntimeHandlerAndBadNumbers) {
  EXPECT_FALSE(ParseDeployOptions({"fn", "--handler", "h"}, nullptr).ok());
  EXPECT_FALSE(ParseDeployOptions({"fn", "--runtime", "r"}, nullptr).ok());
  EXPECT_FALSE(ParseDeployOptions({"--runtime", "r", "--handler", "h"}, nullptr).ok());
  for (const char* bad : {"0", "-5", "12x", "", "99999999999"}) {
    EXPECT_FALSE(
        ParseDeployOptions({"fn", "--runtime", "r", "--handler", "h", "--memory", bad}, nullptr)
            .ok())
        << bad;
  }
}

TEST(CliDeploy, DefaultNameIsTheFolderBasename) {
  EXPECT_EQ(DefaultFunctionName("/tmp/project/my-fn"), "my-fn");
  EXPECT_EQ(DefaultFunctionName("/tmp/project/my-fn/"), "my-fn");
  EXPECT_EQ(DefaultFunctionName("/tmp/project/my-fn/."), "my-fn");
  EXPECT_EQ(DefaultFunctionName("."), fs::current_path().filename().string());
}

TEST(CliDeploy, ZipsFolderRecursivelyKeepingTheExecutableBit) {
  TempDir dir;
  dir.Write("bootstrap", "#!/bin/sh\necho hi\n", 0755);
  dir.Write("app.py", "def handler(event, context):\n    return event\n", 0644);
  dir.Write("lib/pkg/util.py", std::string(100000, 'u'), 0600);
  fs::create_directories(dir.path() / "empty");

  auto zip = ZipDirectory(dir.path());
  ASSERT_TRUE(zip.ok()) << zip.status().ToString();
  auto entries = ReadZip(*zip);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].name, "app.py");
  EXPECT_EQ(entries[1].name, "bootstrap");
  EXPECT_EQ(entries[2].name, "lib/pkg/util.py");
  EXPECT_EQ(entries[0].content, "def handler(event, context):\n    return event\n");
  EXPECT_EQ(entries[1].content, "#!/bin/sh\necho hi\n");
  EXPECT_EQ(entries[2].content, std::string(100000, 'u'));
  for (const auto& entry : entries) EXPECT_EQ(entry.opsys, ZIP_OPSYS_UNIX) << entry.name;
  EXPECT_EQ(entries[0].attributes >> 16, static_cast<uint32_t>(S_IFREG | 0644));
  EXPECT_EQ(entries[1].attributes >> 16, static_cast<uint32_t>(S_IFREG | 0755));
  EXPECT_EQ(entries[2].attributes >> 16, static_cast<uint32_t>(S_IFREG | 0600));
}

TEST(CliDeploy, ZipRejectsEmptyAndMissingFolders) {
  TempDir dir;
  fs::create_directories(dir.path() / "only" / "dirs");
  EXPECT_EQ(ZipDirectory(dir.path()).status().code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(ZipDirectory(dir.path() / "missing").ok());
}

TEST(CliDeploy, BodiesCarryTheFunctionFields) {
  DeployOptions options;
  options.name = "fn";
  options.runtime = "python3.12";
  options.handler = "app.handler";
  json create = json::parse(CreateFunctionBody(options, "UEsDBA=="));
  EXPECT_EQ(create, json::parse(R"({"FunctionName":"fn","Runtime":"python3.12",
      "Handler":"app.handler","Role":"arn:aws:iam::000000000000:role/haneul",
      "Code":{"ZipFile":"UEsDBA=="}})"));
  options.memory_mb = 512;
  options.timeout_seconds = 9;
  create = json::parse(CreateFunctionBody(options, "UEsDBA=="));
  EXPECT_EQ(create["MemorySize"], 512);
  EXPECT_EQ(create["Timeout"], 9);
  EXPECT_EQ(json::parse(UpdateCodeBody("QUJD")), json::parse(R"({"ZipFile":"QUJD"})"));
  EXPECT_EQ(json::parse(UpdateConfigurationBody(options)),
            json::parse(R"({"Runtime":"python3.12","Handler":"app.handler","MemorySize":512,
                "Timeout":9})"));
}

// --- logs ---

TEST(CliLogs, ParsesFollowAndSince) {
  auto options = ParseLogsOptions({"fn"}, nullptr);
  ASSERT_TRUE(options.ok());
  EXPECT_FALSE(options->follow);
  EXPECT_EQ(options->since_minutes, kDefaultLogsSinceMinutes);
  options = ParseLogsOptions({"--follow", "fn", "--since", "60"}, nullptr);
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_TRUE(options->follow);
  EXPECT_EQ(options->since_minutes, 60);
  EXPECT_FALSE(ParseLogsOptions({"fn", "--since", "soon"}, nullptr).ok());
  EXPECT_FALSE(ParseLogsOptions({"fn", "--tail"}, nullptr).ok());
}

TEST(CliLogs, RequestBodyCarriesGroupStartAndToken) {
  EXPECT_EQ(json::parse(FilterLogEventsBody("/aws/lambda/fn", 1700000000000, std::nullopt)),
            json::parse(R"({"logGroupName":"/aws/lambda/fn","startTime":1700000000000})"));
  EXPECT_EQ(json::parse(FilterLogEventsBody("/aws/lambda/fn", 5, "tok")),
            json::parse(R"({"logGroupName":"/aws/lambda/fn","startTime":5,"nextToken":"tok"})"));
}

TEST(CliLogs, ParsesEventsAndNextToken) {
  auto page = ParseFilterLogEventsResponse(R"({"events":[
      {"logStreamName":"s","timestamp":17,"message":"START RequestId: 1","ingestionTime":18,
       "eventId":"e1"},
      {"logStreamName":"s","timestamp":19,"message":"hello","eventId":"e2"}],
      "nextToken":"n1","searchedLogStreams":[]})");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->events.size(), 2u);
  EXPECT_EQ(page->events[0].event_id, "e1");
  EXPECT_EQ(page->events[0].timestamp, 17);
  EXPECT_EQ(page->events[0].message, "START RequestId: 1");
  EXPECT_EQ(page->events[1].log_stream_name, "s");
  EXPECT_EQ(page->next_token, "n1");

  page = ParseFilterLogEventsResponse(R"({"events":[]})");
  ASSERT_TRUE(page.ok());
  EXPECT_FALSE(page->next_token.has_value());
  EXPECT_FALSE(ParseFilterLogEventsResponse("not json").ok());
  EXPECT_FALSE(ParseFilterLogEventsResponse(R"({"events":{}})").ok());
}

TEST(CliLogs, LinesGetExactlyOneNewline) {
  EXPECT_EQ(FormatLogLine("hello"), "hello\n");
  EXPECT_EQ(FormatLogLine("already\n"), "already\n");
  EXPECT_EQ(FormatLogLine(""), "\n");
}

TEST(CliLogs, DeduplicatorPrintsEachEventOnceAndForgetsOldIds) {
  LogDeduplicator dedup;
  EXPECT_EQ(dedup.NextStartTime(42), 42);
  EXPECT_TRUE(dedup.FirstSeen({"a", "s", 100, "x"}));
  EXPECT_TRUE(dedup.FirstSeen({"b", "s", 200, "y"}));
  EXPECT_TRUE(dedup.FirstSeen({"c", "s", 200, "z"}));
  EXPECT_EQ(dedup.NextStartTime(42), 200);
  dedup.Prune();
  EXPECT_EQ(dedup.remembered(), 2u);  // only the ids at the newest timestamp can come back
  // The next poll starts at 200 and returns b and c again, plus a new event.
  EXPECT_FALSE(dedup.FirstSeen({"b", "s", 200, "y"}));
  EXPECT_FALSE(dedup.FirstSeen({"c", "s", 200, "z"}));
  EXPECT_TRUE(dedup.FirstSeen({"d", "s", 200, "w"}));
  EXPECT_TRUE(dedup.FirstSeen({"e", "s", 250, "v"}));
  dedup.Prune();
  EXPECT_EQ(dedup.remembered(), 1u);
  EXPECT_EQ(dedup.NextStartTime(42), 250);
}

// --- the commands against a fake server ---

struct Seen {
  std::string method;
  std::string target;
  Headers headers;
  std::string body;
};

class FakeServer {
 public:
  using Answer = std::function<HttpResponse(const HttpRequest&)>;

  explicit FakeServer(Answer answer) : server_(loop_), answer_(std::move(answer)) {
    auto port = server_.Listen({}, [this](HttpRequest request, std::shared_ptr<Responder> out) {
      HttpResponse response;
      {
        std::lock_guard lock(mutex_);
        seen_.push_back({request.method, request.target, request.headers, request.body});
        response = answer_(request);
      }
      out->Respond(std::move(response));
    });
    EXPECT_TRUE(port.ok());
    endpoint_ = "http://127.0.0.1:" + std::to_string(port.ok() ? *port : 0);
    thread_ = std::thread([this] { loop_.Run(); });
  }
  ~FakeServer() {
    loop_.Stop();
    thread_.join();
  }
  const std::string& endpoint() const { return endpoint_; }
  std::vector<Seen> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  EventLoop loop_;
  HttpServer server_;
  Answer answer_;
  std::string endpoint_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<Seen> seen_;
};

struct CommandOutput {
  int exit_code = 0;
  std::string out;
  std::string err;
};

CommandOutput RunCommand(int (*command)(int, char**), std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  CommandOutput output;
  output.exit_code = command(static_cast<int>(args.size()), argv.data());
  std::fflush(stdout);
  std::fflush(stderr);
  output.out = testing::internal::GetCapturedStdout();
  output.err = testing::internal::GetCapturedStderr();
  return output;
}

HttpResponse AwsErrorResponse(int status, const std::string& type, const std::string& message) {
  HttpResponse response =
      HttpResponse::Json(status, json{{"Type", "User"}, {"message", message}}.dump());
  response.headers.Add("x-amzn-ErrorType", type);
  return response;
}

TEST(CliCommands, InvokePrintsBodyAndReportAndSendsLambdaHeaders) {
  FakeServer server([](const HttpRequest&) {
    HttpResponse response = HttpResponse::Json(200, R"({"ok":true})");
    response.headers.Add("X-Amz-Log-Result",
                         Base64Encode("START RequestId: r1\nhi\nEND RequestId: r1\n"
                                      "REPORT RequestId: r1\tDuration: 1.00 ms\t\n"));
    return response;
  });
  auto output = RunCommand(&Invoke, {"invoke", "my fn", "--payload", R"({"n":1})", "--qualifier",
                                     "1", "--endpoint", server.endpoint()});
  EXPECT_EQ(output.exit_code, 0) << output.err;
  EXPECT_EQ(output.out, "{\"ok\":true}\n");
  EXPECT_NE(output.err.find("REPORT RequestId: r1\tDuration: 1.00 ms"), std::string::npos);
  EXPECT_EQ(output.err.find("START"), std::string::npos);
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/2015-03-31/functions/my%20fn/invocations?Qualifier=1");
  EXPECT_EQ(seen[0].headers.Get("X-Amz-Log-Type"), "Tail");
  EXPECT_EQ(seen[0].headers.Get("Content-Type"), "application/json");
  EXPECT_EQ(seen[0].body, R"({"n":1})");
}

TEST(CliCommands, InvokeExitsOneOnFunctionErrorAndOnServiceError) {
  FakeServer server([](const HttpRequest& request) {
    if (request.path.find("missing") != std::string::npos) {
      return AwsErrorResponse(404, "ResourceNotFoundException",
                              "Function not found: arn:aws:lambda:x:function:missing");
    }
    HttpResponse response = HttpResponse::Json(200, R"({"errorMessage":"boom"})");
    response.headers.Add("X-Amz-Function-Error", "Unhandled");
    return response;
  });
  auto failed = RunCommand(&Invoke, {"invoke", "broken", "--endpoint", server.endpoint()});
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_EQ(failed.out, "{\"errorMessage\":\"boom\"}\n");

  auto missing = RunCommand(&Invoke, {"invoke", "missing", "--endpoint", server.endpoint()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.out, "");
  EXPECT_EQ(missing.err,
            "An error occurred (ResourceNotFoundException): Function not found: "
            "arn:aws:lambda:x:function:missing\n");
}

TEST(CliCommands, UnreachableServerAndUsageErrors) {
  // A bound socket that does not listen: connections to its port are refused.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  std::string endpoint = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  auto output = RunCommand(&Invoke, {"invoke", "fn", "--endpoint", endpoint});
  ::close(fd);
  EXPECT_EQ(output.exit_code, 1);
  EXPECT_NE(output.err.find("cannot reach the haneul server at " + endpoint), std::string::npos)
      << output.err;
  EXPECT_EQ(RunCommand(&Invoke, {"invoke", "fn", "--bogus"}).exit_code, 2);
  EXPECT_EQ(RunCommand(&Deploy, {"deploy", "dir"}).exit_code, 2);
  EXPECT_EQ(RunCommand(&Logs, {"logs"}).exit_code, 2);
  EXPECT_EQ(RunCommand(&Logs, {"logs", "--help"}).exit_code, 0);
}

TEST(CliCommands, DeployCreatesThenUpdatesOnConflict) {
  TempDir dir;
  dir.Write("fn/bootstrap", "#!/bin/sh\n", 0755);
  std::mutex exists_mutex;
  bool exists = false;
  FakeServer server([&](const HttpRequest& request) {
    std::lock_guard lock(exists_mutex);
    json answer = {{"FunctionName", "fn"},
                   {"FunctionArn", "arn:aws:lambda:us-east-1:000000000000:function:fn"},
                   {"CodeSha256", Sha256Base64("zip")}};
    if (request.method == "POST") {
      if (exists) {
        return AwsErrorResponse(409, "ResourceConflictException", "Function already exist: fn");
      }
      exists = true;
      return HttpResponse::Json(201, answer.dump());
    }
    return HttpResponse::Json(200, answer.dump());
  });
  std::vector<std::string> args = {"deploy",     (dir.path() / "fn").string(),
                                   "--runtime",  "provided.al2023",
                                   "--handler",  "unused",
                                   "--memory",   "256",
                                   "--endpoint", server.endpoint()};
  auto created = RunCommand(&Deploy, args);
  EXPECT_EQ(created.exit_code, 0) << created.err;
  EXPECT_EQ(created.out,
            "FunctionArn: arn:aws:lambda:us-east-1:000000000000:function:fn\n"
            "CodeSha256: " +
                Sha256Base64("zip") + "\n");
  auto updated = RunCommand(&Deploy, args);
  EXPECT_EQ(updated.exit_code, 0) << updated.err;
  EXPECT_EQ(updated.out, created.out);

  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/2015-03-31/functions");
  json create = json::parse(seen[0].body);
  EXPECT_EQ(create["FunctionName"], "fn");
  EXPECT_EQ(create["Runtime"], "provided.al2023");
  EXPECT_EQ(create["MemorySize"], 256);
  EXPECT_EQ(create["Role"], "arn:aws:iam::000000000000:role/haneul");
  std::string zip;
  ASSERT_TRUE(Base64Decode(create["Code"]["ZipFile"].get<std::string>(), &zip));
  auto entries = ReadZip(zip);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].name, "bootstrap");
  EXPECT_EQ(entries[0].attributes >> 16, static_cast<uint32_t>(S_IFREG | 0755));

  EXPECT_EQ(seen[1].method, "POST");
  EXPECT_EQ(seen[2].method, "PUT");
  EXPECT_EQ(seen[2].target, "/2015-03-31/functions/fn/code");
  EXPECT_EQ(json::parse(seen[2].body)["ZipFile"], create["Code"]["ZipFile"]);
  EXPECT_EQ(seen[3].method, "PUT");
  EXPECT_EQ(seen[3].target, "/2015-03-31/functions/fn/configuration");
  EXPECT_EQ(json::parse(seen[3].body),
            json::parse(R"({"Runtime":"provided.al2023","Handler":"unused","MemorySize":256})"));
}

TEST(CliCommands, DeployReportsOtherErrorsInAwsWording) {
  TempDir dir;
  dir.Write("app.py", "x = 1\n");
  FakeServer server([](const HttpRequest&) {
    return AwsErrorResponse(400, "InvalidParameterValueException:extra",
                            "The runtime parameter of cobol is not supported.");
  });
  auto output = RunCommand(&Deploy, {"deploy", dir.path().string(), "--runtime", "cobol",
                                     "--handler", "a.b", "--endpoint", server.endpoint()});
  EXPECT_EQ(output.exit_code, 1);
  EXPECT_EQ(output.err,
            "An error occurred (InvalidParameterValueException): The runtime parameter of cobol "
            "is not supported.\n");
  EXPECT_EQ(server.seen().size(), 1u);  // 400 is not a conflict: no update attempted
}

TEST(CliCommands, LogsFollowsNextTokenAcrossPages) {
  FakeServer server([](const HttpRequest& request) {
    json body = json::parse(request.body);
    json answer = json::parse(
        body.contains("nextToken")
            ? R"({"events":[{"eventId":"3","timestamp":12,"message":"END RequestId: r",
                 "logStreamName":"s","ingestionTime":13}]})"
            : R"({"events":[{"eventId":"1","timestamp":10,"message":"START RequestId: r",
                 "logStreamName":"s","ingestionTime":11},
                {"eventId":"2","timestamp":11,"message":"hello","logStreamName":"s",
                 "ingestionTime":12}],"nextToken":"page2"})");
    HttpResponse response;
    response.headers.Add("Content-Type", "application/x-amz-json-1.1");
    response.body = answer.dump();
    return response;
  });
  auto output = RunCommand(&Logs, {"logs", "fn", "--since", "5", "--endpoint", server.endpoint()});
  EXPECT_EQ(output.exit_code, 0) << output.err;
  EXPECT_EQ(output.out, "START RequestId: r\nhello\nEND RequestId: r\n");
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].target, "/");
  EXPECT_EQ(seen[0].headers.Get("X-Amz-Target"), "Logs_20140328.FilterLogEvents");
  EXPECT_EQ(seen[0].headers.Get("Content-Type"), "application/x-amz-json-1.1");
  json first = json::parse(seen[0].body);
  EXPECT_EQ(first["logGroupName"], "/aws/lambda/fn");
  int64_t start = first["startTime"].get<int64_t>();
  EXPECT_LE(start, NowUnixMillis() - 5 * 60 * 1000);
  EXPECT_GT(start, NowUnixMillis() - 6 * 60 * 1000);
  EXPECT_FALSE(first.contains("nextToken"));
  EXPECT_EQ(json::parse(seen[1].body)["nextToken"], "page2");
}

TEST(CliCommands, LogsReportsAMissingLogGroup) {
  FakeServer server([](const HttpRequest&) {
    return HttpResponse::Json(400, R"({"__type":"ResourceNotFoundException",)"
                                   R"("message":"The specified log group does not exist."})");
  });
  auto output = RunCommand(&Logs, {"logs", "nobody", "--endpoint", server.endpoint()});
  EXPECT_EQ(output.exit_code, 1);
  EXPECT_EQ(output.err,
            "An error occurred (ResourceNotFoundException): The specified log group does not "
            "exist.\n");
}

}  // namespace
}  // namespace haneul::cli
