// One persistent HTTP/1.1 connection to the Runtime API: a blocking TCP socket with TCP_NODELAY,
// requests written with one sendmsg, responses read by ResponseParser.
//
// The Runtime API is a loopback hop on the path of every invocation, so this is deliberately
// small: no DNS (the endpoint is an address literal, or "localhost"), no TLS, no timeouts (GET
// /next is a long poll that may wait for hours), no libcurl.
//
// Thread-compatible: one connection, used by one thread at a time.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <string_view>
#include <vector>

#include "response_parser.h"

namespace haneul::runtime {

struct Endpoint {
  sockaddr_storage address{};
  socklen_t address_length = 0;
  std::string host_header;  // "host:port" as given, sent as the Host header
};

// Parses "HOST:PORT" as AWS_LAMBDA_RUNTIME_API holds it. HOST is an IPv4 literal, an IPv6
// literal in brackets, or "localhost" (taken as 127.0.0.1). False with *error set otherwise.
bool ParseEndpoint(std::string_view text, Endpoint* endpoint, std::string* error);

class HttpConnection {
 public:
  struct Request {
    std::string_view method;
    std::string_view target;
    // Zero or more complete "Name: value\r\n" lines, already validated by the caller.
    std::string_view extra_headers;
    std::string_view body;  // sent with a Content-Length when the method is not GET
  };

  explicit HttpConnection(Endpoint endpoint);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends the request and reads the whole response, connecting first if needed. A kept-alive
  // connection that the peer closed before answering (EPIPE, ECONNRESET, or end of stream before
  // the first response byte) is reopened and the request sent once more: the peer cannot have
  // acted on a request it never read. Returns false with *error set on any other failure, after
  // which the next call reconnects.
  bool RoundTrip(const Request& request, HttpResponse* response, std::string* error);

 private:
  enum class Outcome { kOk, kRetry, kFailed };

  bool Connect(std::string* error);
  void Close();
  Outcome Attempt(bool fresh, HttpResponse* response, std::string* error);
  bool SendAll(std::string_view head, std::string_view body, int* error_number);

  Endpoint endpoint_;
  int fd_ = -1;
  std::string head_;          // the request head, reused across requests
  std::string_view body_;     // the body of the request in flight
  std::vector<char> buffer_;  // received bytes; [begin_, end_) not yet parsed
  size_t begin_ = 0;
  size_t end_ = 0;
  ResponseParser parser_;
};

}  // namespace haneul::runtime
