// HttpServer's wire behaviour, checked byte for byte from a raw socket: answers are serialised by
// hand (not by Beast), so the framing rules live here: pipelined requests answered in order,
// bodies parsed from what arrived with the header, lengths, bodyless statuses, HEAD, 100-continue,
// keep-alive and close, and header values that try to smuggle CR/LF.
// Each test owns its loop, server and loop thread.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "haneul/common/event_loop.h"
#include "haneul/common/http.h"

namespace haneul {
namespace {

class WireServer {
 public:
  explicit WireServer(std::function<HttpResponse(const HttpRequest&)> answer)
      : server_(loop_), answer_(std::move(answer)) {
    auto port = server_.Listen({}, [this](HttpRequest request, std::shared_ptr<Responder> out) {
      out->Respond(answer_(request));
    });
    EXPECT_TRUE(port.ok()) << port.status().ToString();
    port_ = port.ok() ? *port : 0;
    thread_ = std::thread([this] { loop_.Run(); });
  }
  ~WireServer() {
    loop_.Stop();
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  EventLoop loop_;
  HttpServer server_;
  std::function<HttpResponse(const HttpRequest&)> answer_;
  uint16_t port_ = 0;
  std::thread thread_;
};

// A blocking client socket with a receive timeout, so a broken server fails the test, not hangs it.
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawClient() { close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& bytes) { ASSERT_EQ(write(fd_, bytes.data(), bytes.size()), ssize_t(bytes.size())); }
  // Reads until `count` occurrences of `marker` have arrived after the last answer head, or the
  // peer closes, or the timeout passes.
  std::string ReadUntil(const std::string& marker, int count = 1) {
    std::string got;
    char buffer[4096];
    while (Count(got, marker) < count) {
      ssize_t n = read(fd_, buffer, sizeof(buffer));
      if (n <= 0) break;
      got.append(buffer, size_t(n));
    }
    return got;
  }
  // Everything until the peer closes (or the timeout).
  std::string ReadAll() {
    std::string got;
    char buffer[4096];
    for (;;) {
      ssize_t n = read(fd_, buffer, sizeof(buffer));
      if (n <= 0) break;
      got.append(buffer, size_t(n));
    }
    return got;
  }

 private:
  static int Count(const std::string& text, const std::string& marker) {
    int found = 0;
    for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1)) ++found;
    return found;
  }
  int fd_ = -1;
  bool connected_ = false;
};

HttpResponse Echo(const HttpRequest& request) {
  HttpResponse response;
  response.headers.Set("X-Path", request.path);
  response.body = request.method + " " + request.body;
  return response;
}

TEST(HttpServerWire, PipelinedRequestsWithBodiesAreAnsweredInOrder) {
  WireServer server(Echo);
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  // Three requests in one write: each body arrives with its header and the next request.
  client.Send(
      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
      "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nbye");
  std::string got = client.ReadUntil("HTTP/1.1 200 OK", 3);
  // The third answer's body may still be on its way; read until it is there.
  if (got.find("POST bye") == std::string::npos) got += client.ReadUntil("POST bye");
  EXPECT_EQ(got,
            "HTTP/1.1 200 OK\r\nX-Path: /a\r\nContent-Length: 10\r\n\r\nPOST hello"
            "HTTP/1.1 200 OK\r\nX-Path: /b\r\nContent-Length: 4\r\n\r\nGET "
            "HTTP/1.1 200 OK\r\nX-Path: /c\r\nContent-Length: 8\r\n\r\nPOST bye");
}

TEST(HttpServerWire, BodyArrivingAfterTheHeaderIsRead) {
  WireServer server(Echo);
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  client.Send("POST /late HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nab");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the rest comes in a later segment
  client.Send("cdef");
  EXPECT_EQ(client.ReadUntil("POST abcdef"),
            "HTTP/1.1 200 OK\r\nX-Path: /late\r\nContent-Length: 11\r\n\r\nPOST abcdef");
}

TEST(HttpServerWire, ChunkedRequestBody) {
  WireServer server(Echo);
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  client.Send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(client.ReadUntil("POST abcde"),
            "HTTP/1.1 200 OK\r\nX-Path: /c\r\nContent-Length: 10\r\n\r\nPOST abcde");
}

TEST(HttpServerWire, BodylessStatusesCarryNeitherBodyNorLength) {
  WireServer server([](const HttpRequest& request) {
    HttpResponse response;
    response.status = request.path == "/204" ? 204 : 304;
    response.body = "must not be sent";
    response.headers.Set("Content-Length", "16");
    return response;
  });
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  client.Send("GET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /304 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(client.ReadAll(),
            "HTTP/1.1 204 No Content\r\n\r\n"
            "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n");
}

TEST(HttpServerWire, HeadKeepsTheHandlersLengthAndSendsNoBody) {
  WireServer server([](const HttpRequest& request) {
    HttpResponse response;
    if (request.path == "/sized") {
      response.headers.Set("Content-Length", "1234");  // the GET's length (S3 HeadObject)
    } else {
      response.body = "a body a HEAD must not carry";
    }
    return response;
  });
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  client.Send("HEAD /sized HTTP/1.1\r\nHost: x\r\n\r\nHEAD /body HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(client.ReadAll(),
            "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 28\r\nConnection: close\r\n\r\n");
}

TEST(HttpServerWire, HeaderValuesCannotSmuggleLines) {
  WireServer server([](const HttpRequest&) {
    HttpResponse response;
    response.headers.Set("X-Evil", "a\r\nSet-Cookie: stolen=1");
    response.headers.Set("Connection", "keep-alive, upgrade");  // the server decides framing
    response.body = "ok";
    return response;
  });
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  client.Send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(client.ReadAll(),
            "HTTP/1.1 200 OK\r\nX-Evil: a  Set-Cookie: stolen=1\r\nContent-Length: 2\r\n"
            "Connection: close\r\n\r\nok");
}

TEST(HttpServerWire, ExpectContinueIsAnsweredBeforeTheBody) {
  WireServer server(Echo);
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  client.Send("PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(client.ReadUntil("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  client.Send("data");
  EXPECT_EQ(client.ReadUntil("PUT data"),
            "HTTP/1.1 200 OK\r\nX-Path: /up\r\nContent-Length: 8\r\n\r\nPUT data");
}

TEST(HttpServerWire, Http10WithoutKeepAliveIsClosedAfterTheAnswer) {
  WireServer server(Echo);
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  client.Send("GET /old HTTP/1.0\r\n\r\n");
  EXPECT_EQ(client.ReadAll(),
            "HTTP/1.1 200 OK\r\nX-Path: /old\r\nContent-Length: 4\r\nConnection: close\r\n\r\nGET ");
}

TEST(HttpServerWire, MalformedRequestClosesTheConnection) {
  WireServer server(Echo);
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  client.Send("NOT A REQUEST\r\n\r\n");
  EXPECT_EQ(client.ReadAll(), "");
}

}  // namespace
}  // namespace haneul
