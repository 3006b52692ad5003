// See http_connection.h.
#include "http_connection.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace haneul::runtime {
namespace {

constexpr size_t kReadBufferBytes = 64 * 1024;

std::string ErrnoText(std::string_view context, int error_number) {
  std::string text(context);
  text += ": ";
  text += std::strerror(error_number);
  return text;
}

}  // namespace

bool ParseEndpoint(std::string_view text, Endpoint* endpoint, std::string* error) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    *error = "runtime API endpoint is not HOST:PORT: '" + std::string(text) + "'";
    return false;
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    *error = "runtime API endpoint has an invalid port: '" + std::string(text) + "'";
    return false;
  }
  Endpoint parsed;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    std::string literal(host.substr(1, host.size() - 2));
    auto* address = reinterpret_cast<sockaddr_in6*>(&parsed.address);
    if (inet_pton(AF_INET6, literal.c_str(), &address->sin6_addr) != 1) {
      *error = "runtime API endpoint has an invalid IPv6 address: '" + std::string(text) + "'";
      return false;
    }
    address->sin6_family = AF_INET6;
    address->sin6_port = htons(static_cast<uint16_t>(port));
    parsed.address_length = sizeof(sockaddr_in6);
  } else {
    // No resolver on purpose: Lambda always hands out an address literal, and getaddrinfo would
    // pull NSS into statically linked bootstraps.
    std::string literal = host == "localhost" ? "127.0.0.1" : std::string(host);
    auto* address = reinterpret_cast<sockaddr_in*>(&parsed.address);
    if (inet_pton(AF_INET, literal.c_str(), &address->sin_addr) != 1) {
      *error = "runtime API endpoint host must be an IP address or localhost: '" +
               std::string(text) + "'";
      return false;
    }
    address->sin_family = AF_INET;
    address->sin_port = htons(static_cast<uint16_t>(port));
    parsed.address_length = sizeof(sockaddr_in);
  }
  parsed.host_header = std::string(text);
  *endpoint = std::move(parsed);
  return true;
}

HttpConnection::HttpConnection(Endpoint endpoint)
    : endpoint_(std::move(endpoint)), buffer_(kReadBufferBytes) {}

HttpConnection::~HttpConnection() { Close(); }

void HttpConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  begin_ = end_ = 0;
}

bool HttpConnection::Connect(std::string* error) {
  int fd = ::socket(endpoint_.address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = ErrnoText("socket", errno);
    return false;
  }
  // Requests are written whole in one sendmsg; Nagle would only hold back the last segment of a
  // large one while waiting for an ACK that delayed-ACK holds back in turn.
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&endpoint_.address),
                endpoint_.address_length) != 0) {
    int connect_errno = errno;
    if (connect_errno == EINTR) {
      // The connection goes on in the background: wait for it and read its outcome.
      pollfd waiter{fd, POLLOUT, 0};
      while (::poll(&waiter, 1, -1) < 0 && errno == EINTR) {
      }
      socklen_t length = sizeof(connect_errno);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &connect_errno, &length);
    }
    if (connect_errno != 0) {
      ::close(fd);
      *error = ErrnoText("connect to " + endpoint_.host_header, connect_errno);
      return false;
    }
  }
  fd_ = fd;
  begin_ = end_ = 0;
  return true;
}

bool HttpConnection::SendAll(std::string_view head, std::string_view body, int* error_number) {
  iovec parts[2] = {{const_cast<char*>(head.data()), head.size()},
                    {const_cast<char*>(body.data()), body.size()}};
  iovec* next = parts;
  int count = body.empty() ? 1 : 2;
  while (count > 0) {
    msghdr message{};
    message.msg_iov = next;
    message.msg_iovlen = static_cast<size_t>(count);
    // MSG_NOSIGNAL: a peer that went away is an EPIPE to handle, not a SIGPIPE that kills us.
    ssize_t sent = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      *error_number = errno;
      return false;
    }
    auto left = static_cast<size_t>(sent);
    while (count > 0 && left >= next->iov_len) {
      left -= next->iov_len;
      ++next;
      --count;
    }
    if (count > 0) {
      next->iov_base = static_cast<char*>(next->iov_base) + left;
      next->iov_len -= left;
    }
  }
  return true;
}

HttpConnection::Outcome HttpConnection::Attempt(bool fresh, HttpResponse* response,
                                                std::string* error) {
  int send_errno = 0;
  if (!SendAll(head_, body_, &send_errno)) {
    Close();
    if (!fresh && (send_errno == EPIPE || send_errno == ECONNRESET)) return Outcome::kRetry;
    *error = ErrnoText("send to " + endpoint_.host_header, send_errno);
    return Outcome::kFailed;
  }
  parser_.Reset();
  while (true) {
    if (begin_ < end_) {
      size_t consumed = 0;
      ResponseParser::State state =
          parser_.Feed(std::string_view(buffer_.data() + begin_, end_ - begin_), &consumed);
      begin_ += consumed;
      if (state == ResponseParser::State::kComplete) {
        *response = parser_.TakeResponse();
        // Bytes after the response stay buffered for the next one (the Runtime API never sends
        // any, but pipelined bytes are not ours to drop).
        if (!response->keep_alive) Close();
        return Outcome::kOk;
      }
      if (state == ResponseParser::State::kError) {
        Close();
        *error = "invalid HTTP response from " + endpoint_.host_header + ": " + parser_.error();
        return Outcome::kFailed;
      }
    }
    begin_ = end_ = 0;
    // Acknowledge at once what arrives next. A server that writes a response's head and body
    // separately without TCP_NODELAY (Python's http.server does) holds the body back until the
    // head is acknowledged, and delayed ACK would make that wait 40 ms. The kernel clears the
    // flag by itself, hence once per read.
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
    ssize_t received = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
    if (received < 0) {
      if (errno == EINTR) continue;
      int recv_errno = errno;
      bool started = parser_.started();
      Close();
      if (!fresh && !started && recv_errno == ECONNRESET) return Outcome::kRetry;
      *error = ErrnoText("receive from " + endpoint_.host_header, recv_errno);
      return Outcome::kFailed;
    }
    if (received == 0) {
      bool started = parser_.started();
      ResponseParser::State state = parser_.FinishOnEof();
      Close();
      if (state == ResponseParser::State::kComplete) {
        *response = parser_.TakeResponse();
        return Outcome::kOk;
      }
      if (!fresh && !started) return Outcome::kRetry;
      *error = "from " + endpoint_.host_header + ": " + parser_.error();
      return Outcome::kFailed;
    }
    end_ = static_cast<size_t>(received);
  }
}

bool HttpConnection::RoundTrip(const Request& request, HttpResponse* response, std::string* error) {
  head_.clear();
  head_.append(request.method).append(" ").append(request.target).append(" HTTP/1.1\r\nHost: ");
  head_.append(endpoint_.host_header).append("\r\n");
  head_.append(request.extra_headers);
  if (request.method != "GET") {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), request.body.size());
    (void)ec;
    head_.append("Content-Length: ").append(digits, end).append("\r\n");
  }
  head_.append("\r\n");
  body_ = request.body;

  for (int attempt = 0; attempt < 2; ++attempt) {
    bool fresh = fd_ < 0;
    if (fresh && !Connect(error)) return false;
    switch (Attempt(fresh, response, error)) {
      case Outcome::kOk:
        return true;
      case Outcome::kFailed:
        return false;
      case Outcome::kRetry:
        break;
    }
  }
  *error = "connection to " + endpoint_.host_header + " closed twice before an answer";
  return false;
}

}  // namespace haneul::runtime
