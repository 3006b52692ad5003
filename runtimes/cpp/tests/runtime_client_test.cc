// Tests of the C++ runtime client: the HTTP response parser on well-formed, split, hostile and
// truncated input; endpoint parsing; and Run() against a scripted fake Runtime API on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <deque>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "haneul/runtime/runtime.h"
#include "http_connection.h"
#include "response_parser.h"

namespace haneul::runtime {
namespace {

using namespace std::string_view_literals;

struct Parsed {
  ResponseParser::State state;
  HttpResponse response;
  size_t consumed = 0;
  std::string error;
};

Parsed ParseAll(std::string_view input, ResponseParser::Limits limits = {}, bool eof = true) {
  ResponseParser parser(limits);
  Parsed parsed;
  parsed.state = parser.Feed(input, &parsed.consumed);
  if (eof && parsed.state == ResponseParser::State::kNeedMore) parsed.state = parser.FinishOnEof();
  parsed.error = parser.error();
  if (parsed.state == ResponseParser::State::kComplete) parsed.response = parser.TakeResponse();
  return parsed;
}

Parsed ParseByteByByte(std::string_view input) {
  ResponseParser parser;
  Parsed parsed{ResponseParser::State::kNeedMore, {}, 0, {}};
  for (size_t i = 0; i < input.size() && parsed.state == ResponseParser::State::kNeedMore; ++i) {
    size_t consumed = 0;
    parsed.state = parser.Feed(input.substr(i, 1), &consumed);
    parsed.consumed += consumed;
  }
  if (parsed.state == ResponseParser::State::kNeedMore) parsed.state = parser.FinishOnEof();
  parsed.error = parser.error();
  if (parsed.state == ResponseParser::State::kComplete) parsed.response = parser.TakeResponse();
  return parsed;
}

constexpr auto kComplete = ResponseParser::State::kComplete;
constexpr auto kError = ResponseParser::State::kError;
constexpr auto kNeedMore = ResponseParser::State::kNeedMore;

TEST(ResponseParser, ReadsContentLengthBody) {
  std::string input =
      "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: abc\r\nContent-Length: 5\r\n\r\nhello";
  Parsed parsed = ParseAll(input, {}, /*eof=*/false);
  ASSERT_EQ(parsed.state, kComplete) << parsed.error;
  EXPECT_EQ(parsed.response.status, 200);
  EXPECT_EQ(parsed.response.body, "hello");
  EXPECT_EQ(parsed.response.Header("lambda-runtime-aws-request-id"), "abc");
  EXPECT_TRUE(parsed.response.keep_alive);
  EXPECT_EQ(parsed.consumed, input.size());
}

TEST(ResponseParser, GivesTheSameAnswerWhenFedOneByteAtATime) {
  std::string input =
      "HTTP/1.1 200 OK\r\nA: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer-Field: x\r\n\r\n";
  Parsed whole = ParseAll(input, {}, false);
  Parsed split = ParseByteByByte(input);
  ASSERT_EQ(whole.state, kComplete) << whole.error;
  ASSERT_EQ(split.state, kComplete) << split.error;
  EXPECT_EQ(whole.response.body, "abc0123456789abcdef");
  EXPECT_EQ(split.response.body, whole.response.body);
  EXPECT_EQ(split.response.headers, whole.response.headers);
  EXPECT_EQ(whole.response.Header("trailer-field"), "x");
  EXPECT_EQ(split.consumed, input.size());
}

TEST(ResponseParser, LeavesPipelinedBytesUnconsumed) {
  std::string first = "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok";
  std::string input = first + "HTTP/1.1 200 OK\r\n";
  Parsed parsed = ParseAll(input, {}, false);
  ASSERT_EQ(parsed.state, kComplete);
  EXPECT_EQ(parsed.consumed, first.size());
}

TEST(ResponseParser, NeedsMoreUntilTheBodyIsWhole) {
  ResponseParser parser;
  size_t consumed = 0;
  EXPECT_EQ(parser.Feed("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", &consumed), kNeedMore);
  EXPECT_EQ(parser.Feed("cd", &consumed), kComplete);
  EXPECT_EQ(parser.response().body, "abcd");
}

TEST(ResponseParser, ReusesTheParserAfterReset) {
  ResponseParser parser;
  size_t consumed = 0;
  ASSERT_EQ(parser.Feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", &consumed), kComplete);
  parser.Reset();
  EXPECT_FALSE(parser.started());
  ASSERT_EQ(parser.Feed("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", &consumed),
            kComplete);
  EXPECT_EQ(parser.response().status, 404);
  EXPECT_TRUE(parser.response().body.empty());
}

TEST(ResponseParser, AcceptsBareLineFeedsAndAnEmptyReason) {
  Parsed parsed = ParseAll("HTTP/1.1 200\nContent-Length: 1\n\nx", {}, false);
  ASSERT_EQ(parsed.state, kComplete) << parsed.error;
  EXPECT_EQ(parsed.response.body, "x");
}

TEST(ResponseParser, TrimsHeaderValueWhitespace) {
  Parsed parsed = ParseAll("HTTP/1.1 200 OK\r\nX-A: \t v a \t\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(parsed.state, kComplete);
  EXPECT_EQ(parsed.response.Header("x-a"), "v a");
  EXPECT_FALSE(parsed.response.HasHeader("x-b"));
}

TEST(ResponseParser, ConnectionHeaderDecidesKeepAlive) {
  EXPECT_FALSE(ParseAll("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                   .response.keep_alive);
  EXPECT_FALSE(ParseAll("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").response.keep_alive);
  EXPECT_TRUE(ParseAll("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")
                  .response.keep_alive);
}

TEST(ResponseParser, ReadsAnUnframedBodyToTheEndOfTheStream) {
  Parsed unfinished = ParseAll("HTTP/1.1 200 OK\r\n\r\npartial", {}, /*eof=*/false);
  EXPECT_EQ(unfinished.state, kNeedMore);
  Parsed parsed = ParseAll("HTTP/1.1 200 OK\r\n\r\nall of it");
  ASSERT_EQ(parsed.state, kComplete);
  EXPECT_EQ(parsed.response.body, "all of it");
  EXPECT_FALSE(parsed.response.keep_alive);
}

TEST(ResponseParser, TransferCodingOtherThanChunkedLastRunsToClose) {
  Parsed parsed = ParseAll("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nzz");
  ASSERT_EQ(parsed.state, kComplete);
  EXPECT_EQ(parsed.response.body, "zz");
  EXPECT_FALSE(parsed.response.keep_alive);
}

TEST(ResponseParser, NoBodyFor204And304WhateverTheHeadersSay) {
  std::string input = "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";
  Parsed parsed = ParseAll(input + "HTTP/1.1", {}, false);
  ASSERT_EQ(parsed.state, kComplete);
  EXPECT_TRUE(parsed.response.body.empty());
  EXPECT_EQ(parsed.consumed, input.size());
}

TEST(ResponseParser, SkipsInterimResponses) {
  Parsed parsed =
      ParseAll("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok",
               {}, false);
  ASSERT_EQ(parsed.state, kComplete) << parsed.error;
  EXPECT_EQ(parsed.response.status, 202);
  EXPECT_EQ(parsed.response.body, "ok");
}

TEST(ResponseParser, AcceptsRepeatedEqualContentLengths) {
  Parsed parsed = ParseAll("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx");
  ASSERT_EQ(parsed.state, kComplete);
}

struct Rejected {
  const char* name;
  std::string_view input;
};

// Names the case in test listings instead of dumping the struct's bytes.
void PrintTo(const Rejected& rejected, std::ostream* out) { *out << rejected.name; }

class ResponseParserRejects : public ::testing::TestWithParam<Rejected> {};

TEST_P(ResponseParserRejects, Input) {
  Parsed whole = ParseAll(GetParam().input);
  EXPECT_EQ(whole.state, kError);
  EXPECT_FALSE(whole.error.empty());
  EXPECT_EQ(ParseByteByByte(GetParam().input).state, kError);
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, ResponseParserRejects,
    ::testing::Values(
        Rejected{"NotHttp", "SSH-2.0-OpenSSH\r\n\r\n"}, Rejected{"Http2", "HTTP/2 200\r\n\r\n"},
        Rejected{"ShortStatus", "HTTP/1.1 20\r\n\r\n"},
        Rejected{"LetterInStatus", "HTTP/1.1 2x0 OK\r\n\r\n"},
        Rejected{"StatusBelow100", "HTTP/1.1 099 Low\r\n\r\n"},
        Rejected{"NoSpaceBeforeReason", "HTTP/1.1 200OK\r\n\r\n"},
        Rejected{"ControlInReason", "HTTP/1.1 200 O\x01K\r\n\r\n"},
        Rejected{"SwitchingProtocols", "HTTP/1.1 101 Switching\r\nUpgrade: x\r\n\r\n"},
        Rejected{"HeaderWithoutColon", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n"},
        Rejected{"EmptyHeaderName", "HTTP/1.1 200 OK\r\n: v\r\n\r\n"},
        Rejected{"SpaceBeforeColon", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx"},
        Rejected{"FoldedHeader", "HTTP/1.1 200 OK\r\nA: 1\r\n  continued\r\n\r\n"},
        Rejected{"BareCrInValue", "HTTP/1.1 200 OK\r\nA: 1\r2\r\nContent-Length: 0\r\n\r\n"},
        Rejected{"NulInValue", "HTTP/1.1 200 OK\r\nA: \x00\r\nContent-Length: 0\r\n\r\n"sv},
        Rejected{"NegativeLength", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"},
        Rejected{"EmptyLength", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n"},
        Rejected{"ListLength", "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx"},
        Rejected{"HugeLength",
                 "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n"},
        Rejected{"ConflictingLengths",
                 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx"},
        Rejected{"LengthAndChunked",
                 "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "0\r\n\r\n"},
        Rejected{"ChunkSizeNotHex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
        Rejected{"ChunkSizeMissing",
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\n"},
        Rejected{"ChunkSizeHuge",
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n"},
        Rejected{"ChunkSizeGarbage",
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1 x\r\na\r\n0\r\n\r\n"},
        Rejected{"ChunkLongerThanItsSize",
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n"},
        Rejected{"TruncatedBody", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"},
        Rejected{"TruncatedChunks", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"},
        Rejected{"TruncatedHead", "HTTP/1.1 200 OK\r\nContent-Le"}, Rejected{"NothingAtAll", ""}),
    [](const ::testing::TestParamInfo<Rejected>& info) { return std::string(info.param.name); });

TEST(ResponseParser, EnforcesTheHeaderLimit) {
  std::string input = "HTTP/1.1 200 OK\r\nBig: " + std::string(1000, 'a') + "\r\n\r\n";
  EXPECT_EQ(ParseAll(input, {.max_header_bytes = 512, .max_body_bytes = 1024}).state, kError);
  EXPECT_EQ(ParseAll(input, {.max_header_bytes = 2048, .max_body_bytes = 1024}, false).state,
            kNeedMore);  // no framing: the body runs to the end
}

TEST(ResponseParser, EnforcesTheHeaderLimitWithoutAnyNewline) {
  ResponseParser parser({.max_header_bytes = 64, .max_body_bytes = 64});
  size_t consumed = 0;
  EXPECT_EQ(parser.Feed(std::string(65, 'H'), &consumed), kError);
}

TEST(ResponseParser, EnforcesTheBodyLimitForEveryFraming) {
  ResponseParser::Limits limits{.max_header_bytes = 1024, .max_body_bytes = 8};
  EXPECT_EQ(ParseAll("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n123456789", limits).state,
            kError);
  EXPECT_EQ(ParseAll("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n12345678", limits).state,
            kComplete);
  EXPECT_EQ(ParseAll("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\n12345\r\n4\r\n1234\r\n0\r\n\r\n",
                     limits)
                .state,
            kError);
  EXPECT_EQ(ParseAll("HTTP/1.1 200 OK\r\n\r\n123456789", limits).state, kError);
}

TEST(ParseEndpoint, AcceptsAddressLiteralsAndLocalhost) {
  Endpoint endpoint;
  std::string error;
  ASSERT_TRUE(ParseEndpoint("127.0.0.1:9001", &endpoint, &error)) << error;
  EXPECT_EQ(endpoint.address.ss_family, AF_INET);
  EXPECT_EQ(endpoint.host_header, "127.0.0.1:9001");
  ASSERT_TRUE(ParseEndpoint("[::1]:9001", &endpoint, &error)) << error;
  EXPECT_EQ(endpoint.address.ss_family, AF_INET6);
  ASSERT_TRUE(ParseEndpoint("localhost:80", &endpoint, &error)) << error;
  EXPECT_EQ(endpoint.address.ss_family, AF_INET);
}

TEST(ParseEndpoint, RejectsWhatItCannotConnectTo) {
  Endpoint endpoint;
  std::string error;
  for (const char* text : {"", "127.0.0.1", "127.0.0.1:", ":9001", "127.0.0.1:0", "127.0.0.1:65536",
                           "127.0.0.1:90x", "example.com:9001", "[::1:9001"}) {
    EXPECT_FALSE(ParseEndpoint(text, &endpoint, &error)) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
}

// A scripted Runtime API: answers the n-th request it reads with the n-th canned response and
// records what it received. A response marked close_after ends the connection after it is sent,
// so the client has to reconnect. Runs on its own thread; read its records after Join().
class FakeRuntimeApi {
 public:
  struct Step {
    std::string response;  // raw bytes to send back
    bool close_after = false;
  };
  struct Received {
    std::string head;
    std::string body;
  };

  explicit FakeRuntimeApi(std::vector<Step> steps) : steps_(steps.begin(), steps.end()) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(listener_, 8), 0);
    socklen_t length = sizeof(address);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeRuntimeApi() { Join(); }

  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  void Join() {
    if (thread_.joinable()) thread_.join();
    if (listener_ >= 0) ::close(listener_);
    listener_ = -1;
  }
  const std::vector<Received>& received() const { return received_; }
  int connections() const { return connections_; }

 private:
  void Serve() {
    while (!steps_.empty()) {
      int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) return;
      ++connections_;
      std::string buffer;
      bool open = true;
      while (open && !steps_.empty()) {
        Received request;
        if (!ReadRequest(client, &buffer, &request)) break;
        received_.push_back(request);
        Step step = steps_.front();
        steps_.pop_front();
        ::send(client, step.response.data(), step.response.size(), MSG_NOSIGNAL);
        open = !step.close_after;
      }
      ::close(client);
    }
    // Script done: refuse further connections, as a Runtime API that went away would.
    ::close(listener_);
    listener_ = -1;
  }

  static bool ReadRequest(int client, std::string* buffer, Received* request) {
    size_t head_end;
    while ((head_end = buffer->find("\r\n\r\n")) == std::string::npos) {
      if (!ReadMore(client, buffer)) return false;
    }
    request->head = buffer->substr(0, head_end);
    size_t length = 0;
    size_t at = request->head.find("Content-Length: ");
    if (at != std::string::npos) length = std::stoul(request->head.substr(at + 16));
    while (buffer->size() < head_end + 4 + length) {
      if (!ReadMore(client, buffer)) return false;
    }
    request->body = buffer->substr(head_end + 4, length);
    buffer->erase(0, head_end + 4 + length);
    return true;
  }

  static bool ReadMore(int client, std::string* buffer) {
    char chunk[4096];
    ssize_t n = ::recv(client, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer->append(chunk, static_cast<size_t>(n));
    return true;
  }

  std::deque<Step> steps_;
  std::vector<Received> received_;
  int listener_ = -1;
  uint16_t port_ = 0;
  int connections_ = 0;
  std::thread thread_;
};

std::string NextResponse(std::string_view id, std::string_view payload,
                         std::string_view extra_headers = "") {
  return "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: " + std::string(id) +
         "\r\nLambda-Runtime-Deadline-Ms: 4102444800000\r\n"
         "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:f"
         "\r\n" +
         std::string(extra_headers) + "Content-Length: " + std::to_string(payload.size()) +
         "\r\n\r\n" + std::string(payload);
}

const std::string kAccepted =
    "HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n";

TEST(RunLoop, ServesInvocationsOverOneConnection) {
  FakeRuntimeApi api({{NextResponse("id-1", "{\"n\":1}", "Lambda-Runtime-Trace-Id: Root=1\r\n")},
                      {kAccepted},
                      {NextResponse("id-2", "{\"n\":2}")},
                      {kAccepted}});
  std::vector<InvocationRequest> seen;
  std::vector<std::string> trace_ids;
  int code = runtime::Run(
      [&](const InvocationRequest& request) {
        seen.push_back(request);
        const char* trace = std::getenv("_X_AMZN_TRACE_ID");
        trace_ids.push_back(trace ? trace : "");
        return InvocationResponse::Success("{\"echo\":" + request.payload + "}");
      },
      {.runtime_api = api.endpoint(), .max_invocations = 2});
  api.Join();
  EXPECT_EQ(code, 0);
  EXPECT_EQ(api.connections(), 1);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].request_id, "id-1");
  EXPECT_EQ(seen[0].payload, "{\"n\":1}");
  EXPECT_EQ(seen[0].deadline_ms, 4102444800000);
  EXPECT_EQ(seen[0].function_arn, "arn:aws:lambda:us-east-1:000000000000:function:f");
  EXPECT_EQ(seen[0].trace_id, "Root=1");
  EXPECT_GT(seen[0].GetTimeRemaining().count(), 0);
  EXPECT_EQ(trace_ids, (std::vector<std::string>{"Root=1", ""}));

  const auto& received = api.received();
  ASSERT_EQ(received.size(), 4u);
  EXPECT_EQ(received[0].head.substr(0, received[0].head.find("\r\n")),
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1");
  EXPECT_EQ(received[1].head.substr(0, received[1].head.find("\r\n")),
            "POST /2018-06-01/runtime/invocation/id-1/response HTTP/1.1");
  EXPECT_NE(received[1].head.find("Content-Type: application/json"), std::string::npos);
  EXPECT_EQ(received[1].body, "{\"echo\":{\"n\":1}}");
  EXPECT_EQ(received[3].body, "{\"echo\":{\"n\":2}}");
}

TEST(RunLoop, ReportsFailuresAndHandlerExceptionsToTheErrorEndpoint) {
  FakeRuntimeApi api(
      {{NextResponse("a", "{}")}, {kAccepted}, {NextResponse("b", "{}")}, {kAccepted}});
  int calls = 0;
  int code = runtime::Run(
      [&](const InvocationRequest&) -> InvocationResponse {
        if (calls++ == 0) return InvocationResponse::Failure("bad \"input\"\n", "Bad\r\nType");
        throw std::runtime_error("boom");
      },
      {.runtime_api = api.endpoint(), .max_invocations = 2});
  api.Join();
  EXPECT_EQ(code, 0);
  const auto& received = api.received();
  ASSERT_EQ(received.size(), 4u);
  EXPECT_EQ(received[1].head.substr(0, received[1].head.find("\r\n")),
            "POST /2018-06-01/runtime/invocation/a/error HTTP/1.1");
  // The CRLF in the type cannot end the header early.
  EXPECT_NE(received[1].head.find("Lambda-Runtime-Function-Error-Type: Bad  Type\r\n"),
            std::string::npos);
  EXPECT_EQ(received[1].body,
            "{\"errorMessage\":\"bad \\\"input\\\"\\n\",\"errorType\":\"Bad\\r\\nType\","
            "\"stackTrace\":[]}");
  EXPECT_NE(received[3].head.find("Lambda-Runtime-Function-Error-Type: "
                                  "Runtime.UnhandledException"),
            std::string::npos);
  EXPECT_EQ(received[3].body,
            "{\"errorMessage\":\"boom\",\"errorType\":\"Runtime.UnhandledException\","
            "\"stackTrace\":[]}");
}

TEST(RunLoop, ReconnectsWhenTheServerClosesAKeptAliveConnection) {
  // The server answers the first /response and then closes without saying so: the next /next
  // meets a closed socket and must be sent again on a new connection.
  FakeRuntimeApi api({{NextResponse("one", "1")},
                      {kAccepted, /*close_after=*/true},
                      {NextResponse("two", "2")},
                      {kAccepted}});
  int code =
      runtime::Run([](const InvocationRequest&) { return InvocationResponse::Success("{}"); },
                   {.runtime_api = api.endpoint(), .max_invocations = 2});
  api.Join();
  EXPECT_EQ(code, 0);
  EXPECT_EQ(api.connections(), 2);
  EXPECT_EQ(api.received().size(), 4u);
}

TEST(RunLoop, ReadsAChunkedEvent) {
  FakeRuntimeApi api({{"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: c\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n"},
                      {kAccepted}});
  std::string payload;
  int code = runtime::Run(
      [&](const InvocationRequest& request) {
        payload = request.payload;
        return InvocationResponse::Success("{}");
      },
      {.runtime_api = api.endpoint(), .max_invocations = 1});
  api.Join();
  EXPECT_EQ(code, 0);
  EXPECT_EQ(payload, "{\"a\":1}");
}

TEST(RunLoop, StopsWhenNextIsRefused) {
  FakeRuntimeApi api({{"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"}});
  bool called = false;
  int code = runtime::Run(
      [&](const InvocationRequest&) {
        called = true;
        return InvocationResponse::Success("{}");
      },
      {.runtime_api = api.endpoint()});
  api.Join();
  EXPECT_EQ(code, 1);
  EXPECT_FALSE(called);
}

TEST(RunLoop, StopsOnARequestIdThatCouldBreakTheRequestLine) {
  FakeRuntimeApi api({{NextResponse("a b", "{}")}});
  int code =
      runtime::Run([](const InvocationRequest&) { return InvocationResponse::Success("{}"); },
                   {.runtime_api = api.endpoint()});
  api.Join();
  EXPECT_EQ(code, 1);
}

TEST(RunLoop, FailsWithoutARuntimeApi) {
  ::unsetenv("AWS_LAMBDA_RUNTIME_API");
  EXPECT_EQ(
      runtime::Run([](const InvocationRequest&) { return InvocationResponse::Success("{}"); }), 1);
  EXPECT_EQ(runtime::Run([](const InvocationRequest&) { return InvocationResponse::Success("{}"); },
                         {.runtime_api = "not an endpoint"}),
            1);
}

TEST(RunLoop, FailsWhenTheRuntimeApiGoesAway) {
  FakeRuntimeApi api({{NextResponse("x", "{}")}, {kAccepted, /*close_after=*/true}});
  std::string endpoint = api.endpoint();
  int code =
      runtime::Run([](const InvocationRequest&) { return InvocationResponse::Success("{}"); },
                   {.runtime_api = endpoint});
  api.Join();
  EXPECT_EQ(code, 1);  // the retried /next finds nobody listening
}

}  // namespace
}  // namespace haneul::runtime
