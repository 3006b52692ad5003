// HttpClient against a real HttpServer on 127.0.0.1 (port 0), served from a background thread.
// Each test owns its loop, server and thread; the handler records requests under a mutex.
#include "haneul/common/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "haneul/common/event_loop.h"
#include "haneul/common/http.h"

namespace haneul {
namespace {

struct SeenRequest {
  std::string method;
  std::string target;
  Headers headers;
  std::string body;
  std::string remote_address;
};

// A server that records every request and answers through a test-supplied function.
class TestServer {
 public:
  explicit TestServer(std::function<HttpResponse(const HttpRequest&)> answer)
      : server_(loop_), answer_(std::move(answer)) {
    auto port = server_.Listen({}, [this](HttpRequest request, std::shared_ptr<Responder> out) {
      {
        std::lock_guard lock(mutex_);
        seen_.push_back({request.method, request.target, request.headers, request.body,
                         request.remote_address});
      }
      out->Respond(answer_(request));
    });
    EXPECT_TRUE(port.ok()) << port.status().ToString();
    port_ = port.ok() ? *port : 0;
    thread_ = std::thread([this] { loop_.Run(); });
  }

  ~TestServer() {
    loop_.Stop();
    thread_.join();
  }

  std::string Url(const std::string& target) const {
    return "http://127.0.0.1:" + std::to_string(port_) + target;
  }

  std::vector<SeenRequest> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  EventLoop loop_;
  HttpServer server_;
  std::function<HttpResponse(const HttpRequest&)> answer_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<SeenRequest> seen_;
};

// A raw socket bound to a loopback port, held for the test so no other process takes the port.
// Not listening, connections to it are refused; listening, the kernel completes connections
// (backlog) and takes the request bytes, but nothing ever answers.
class LoopbackSocket {
 public:
  explicit LoopbackSocket(bool listen) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd_, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    socklen_t length = sizeof(address);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
    if (listen) {
      EXPECT_EQ(::listen(fd_, 8), 0);
    }
  }
  ~LoopbackSocket() { ::close(fd_); }
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/x"; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

HttpResponse Echo(const HttpRequest& request) {
  HttpResponse response;
  response.status = 201;
  response.headers.Add("Content-Type", "text/plain");
  response.headers.Add("X-Echo-Method", request.method);
  response.headers.Add("X-Amz-Function-Error", "Unhandled");
  response.body = request.body;
  return response;
}

TEST(HttpClient, RoundTripsStatusHeadersAndBody) {
  TestServer server(&Echo);
  HttpClient client;
  Headers headers;
  headers.Add("Content-Type", "application/json");
  headers.Add("X-Amz-Log-Type", "Tail");
  auto response = client.Send("POST", server.Url("/2015-03-31/functions/f/invocations?a=b"),
                              headers, R"({"hello":"world"})");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, R"({"hello":"world"})");
  // Header names are case-insensitive and values come without surrounding blanks or CRLF.
  EXPECT_EQ(response->headers.Get("x-echo-method"), "POST");
  EXPECT_EQ(response->headers.Get("X-AMZ-FUNCTION-ERROR"), "Unhandled");
  EXPECT_EQ(response->headers.Get("Content-Type"), "text/plain");

  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/2015-03-31/functions/f/invocations?a=b");
  EXPECT_EQ(seen[0].headers.Get("X-Amz-Log-Type"), "Tail");
  EXPECT_EQ(seen[0].headers.Get("Content-Type"), "application/json");
  EXPECT_EQ(seen[0].body, R"({"hello":"world"})");
}

TEST(HttpClient, SendsEachMethodWithItsBody) {
  TestServer server(&Echo);
  HttpClient client;
  for (const std::string method : {"GET", "PUT", "DELETE", "PATCH", "POST"}) {
    std::string body = method == "GET" ? "" : "body of " + method;
    auto response = client.Send(method, server.Url("/m"), Headers(), body);
    ASSERT_TRUE(response.ok()) << method << ": " << response.status().ToString();
    EXPECT_EQ(response->headers.Get("X-Echo-Method"), method);
    EXPECT_EQ(response->body, body);
  }
  auto head = client.Send("HEAD", server.Url("/m"), Headers(), "");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->status, 201);
  EXPECT_EQ(head->body, "");

  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[5].method, "HEAD");
  // Without a caller's Content-Type, curl's invented form-encoding type must not be sent.
  for (const auto& request : seen) EXPECT_FALSE(request.headers.Has("Content-Type"));
}

TEST(HttpClient, LargeBodyIsSentWithoutExpectContinue) {
  TestServer server(&Echo);
  HttpClient client;
  std::string body(2 * 1024 * 1024, 'x');
  for (size_t i = 0; i < body.size(); i += 997) body[i] = static_cast<char>('a' + i % 26);
  auto response = client.Send("PUT", server.Url("/big"), Headers(), body);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, body);
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_FALSE(seen[0].headers.Has("Expect"));
}

TEST(HttpClient, ReusesOneConnectionAcrossRequests) {
  TestServer server(&Echo);
  HttpClient client;
  for (int i = 0; i < 3; ++i) {
    auto response = client.Send("POST", server.Url("/again"), Headers(), "n");
    ASSERT_TRUE(response.ok()) << response.status().ToString();
  }
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 3u);
  ASSERT_FALSE(seen[0].remote_address.empty());
  // Same client address and port: the keep-alive connection was reused.
  EXPECT_EQ(seen[1].remote_address, seen[0].remote_address);
  EXPECT_EQ(seen[2].remote_address, seen[0].remote_address);
}

TEST(HttpClient, ErrorStatusIsAResponseNotAnError) {
  TestServer server([](const HttpRequest&) {
    HttpResponse response = HttpResponse::Json(404, R"({"message":"Function not found"})");
    response.headers.Add("x-amzn-ErrorType", "ResourceNotFoundException:http://internal/");
    return response;
  });
  HttpClient client;
  auto response = client.Send("GET", server.Url("/2015-03-31/functions/nope"), Headers(), "");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->headers.Get("x-amzn-errortype"),
            "ResourceNotFoundException:http://internal/");
  EXPECT_EQ(response->body, R"({"message":"Function not found"})");
}

TEST(HttpClient, ConnectionRefusedIsUnavailable) {
  LoopbackSocket refusing(/*listen=*/false);
  std::string url = refusing.Url();
  HttpClient client;
  auto response = client.Send("POST", url, Headers(), "{}");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(response.status().message().find(url), std::string::npos)
      << response.status().message();
  // curl's text, then the OS's reason.
  EXPECT_NE(response.status().message().find("Connection refused"), std::string::npos)
      << response.status().message();
}

TEST(HttpClient, TimesOutWhenTheServerNeverAnswers) {
  LoopbackSocket silent(/*listen=*/true);
  HttpClient client;
  auto started = std::chrono::steady_clock::now();
  auto response =
      client.Send("POST", silent.Url(), Headers(), "{}", std::chrono::milliseconds(200));
  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(response.status().message().find("imed out"), std::string::npos)
      << response.status().message();
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

TEST(HttpClient, WorksAgainAfterATransportError) {
  TestServer server(&Echo);
  HttpClient client;
  LoopbackSocket refusing(/*listen=*/false);
  auto refused = client.Send("GET", refusing.Url(), Headers(), "");
  ASSERT_FALSE(refused.ok());
  auto response = client.Send("POST", server.Url("/after"), Headers(), "fine");
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->body, "fine");
}

}  // namespace
}  // namespace haneul
