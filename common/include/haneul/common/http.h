// The HTTP server layer: plain request/response values, a router, and a Beast-backed server
// (hidden behind pimpl). A handler receives the request and a Responder; it may answer at once
// or keep the Responder and answer later (long polls park this way without a thread).
// Thread-safety: the server and every Responder live on one EventLoop; call Respond() on the loop
// thread (use EventLoop::Post from elsewhere).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "haneul/common/event_loop.h"
#include "haneul/common/status.h"

namespace haneul {

// Case-insensitive header names, kept in arrival order.
class Headers {
 public:
  void Add(std::string name, std::string value);
  void Set(std::string name, std::string value);
  // Empty string when absent.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& all() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target, "/path?query"
  std::string path;    // target before '?', still percent-encoded
  std::string query;   // after '?', raw
  Headers headers;
  std::string body;
  std::string remote_address;

  // Query parameter, percent-decoded; nullopt when absent.
  std::optional<std::string> QueryParam(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  Headers headers;
  std::string body;

  static HttpResponse Json(int status, std::string body);
};

// Answers one request, once. Later calls are ignored. If the client has gone away the answer is
// dropped. Call on the loop thread.
class Responder {
 public:
  virtual ~Responder() = default;
  virtual void Respond(HttpResponse response) = 0;
  virtual bool responded() const = 0;
};

using HttpHandler = std::function<void(HttpRequest request, std::shared_ptr<Responder> responder)>;

struct HttpListenOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port
  size_t body_limit = 8 * 1024 * 1024;
  size_t header_limit = 64 * 1024;
  // Builds the answer to a request whose body is over body_limit (headers are filled in, body
  // empty). Default: 413 with an empty body.
  std::function<HttpResponse(const HttpRequest&)> too_large;
};

class HttpServer {
 public:
  explicit HttpServer(EventLoop& loop);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Starts accepting on host:port; returns the bound port. Call on the loop thread or before
  // Run(). The listener lives until Close() or the server's destruction.
  Result<uint16_t> Listen(const HttpListenOptions& options, HttpHandler handler);
  // Serves an already listening IPv4 TCP socket (for example one made inside another network
  // namespace). The server works on a duplicate; the caller keeps listening_fd. options.host and
  // options.port are ignored.
  Result<uint16_t> Adopt(int listening_fd, const HttpListenOptions& options, HttpHandler handler);
  // Stops accepting and closes every open connection of this server.
  void Close();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Percent-decoding of one path segment or query value ('+' stays '+' in paths).
std::string PercentDecode(std::string_view text, bool plus_is_space = false);
std::string PercentEncode(std::string_view text);

// Matches "/2015-03-31/functions/{FunctionName}/invocations" style patterns against a path and
// extracts the decoded {params}. A trailing "{Name+}" takes the rest of the path.
class Router {
 public:
  using Params = std::map<std::string, std::string>;
  using Route = std::function<void(HttpRequest&, const Params&, std::shared_ptr<Responder>)>;

  void Add(std::string method, std::string pattern, Route route);
  // Dispatches; false when no route matched the path (the caller answers 404 or 405).
  bool Dispatch(HttpRequest& request, const std::shared_ptr<Responder>& responder) const;
  static std::optional<Params> Match(std::string_view pattern, std::string_view path);

 private:
  struct Entry {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // the pattern split at '/', once
    Route route;
  };
  std::vector<Entry> entries_;
};

}  // namespace haneul
