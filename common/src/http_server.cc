// HttpServer over Boost.Beast: one acceptor per Listen(), one Session per connection, all on the
// EventLoop's single thread. A request is read (header first, so `Expect: 100-continue` can be
// answered and oversized bodies refused before they are read), handed to the handler with a
// Responder, and the session waits, reading nothing more, until the Responder answers; then it
// writes and reads the next request if the connection is keep-alive.
//
// The hot path is kept short because every API call and every Runtime API call of a function
// crosses it: a body that arrived with its header (the usual case) is parsed from the buffer
// without another asynchronous read; answers are serialised by hand into one head buffer and
// written with the body in one gather write (Beast's serializer cost about as much as the rest
// of a GetItem); and idle or slow connections are cut by one sweep a second over the registry
// instead of a timer re-armed four times per request.
#include <optional>
#include <utility>  // before Asio: Boost 1.74 uses std::exchange without it
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <limits>
#include <list>
#include <string_view>

#include "haneul/common/http.h"

namespace haneul {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

class Session;

struct Listener {
  Listener(asio::io_context& context, HttpListenOptions options, HttpHandler handler)
      : acceptor(context), options(std::move(options)), handler(std::move(handler)) {}
  tcp::acceptor acceptor;
  HttpListenOptions options;
  HttpHandler handler;
};

using Clock = std::chrono::steady_clock;

// Tracks live sessions so Close() can end them and the sweep can cut the ones past their
// deadline.
struct Registry {
  explicit Registry(asio::io_context& context) : sweeper(context) {}
  std::list<std::weak_ptr<Session>> sessions;
  asio::steady_timer sweeper;
  bool sweeping = false;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Listener> listener,
          std::shared_ptr<Registry> registry)
      : socket_(std::move(socket)),
        listener_(std::move(listener)),
        options_(listener_->options),
        registry_(std::move(registry)) {
    boost::system::error_code ec;
    auto endpoint = socket_.remote_endpoint(ec);
    if (!ec) remote_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    socket_.set_option(tcp::no_delay(true), ec);
  }

  // Closes the connection when it has been idle, or a request or answer has been in transfer,
  // for longer than its deadline allows. Called by the sweep, once a second.
  void CutIfExpired(Clock::time_point now) {
    if (now > deadline_) Shutdown();
  }

  void Start() { ReadHeader(); }

  void Shutdown() {
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  void Answer(uint64_t generation, HttpResponse response) {
    if (generation != generation_ || !socket_.is_open()) return;
    Write(std::move(response), keep_alive_);
  }

 private:
  // Holds its session alive while the request is outstanding: between reading a request and
  // answering it no I/O is pending on the socket, so nothing else keeps the session.
  class SessionResponder : public Responder {
   public:
    SessionResponder(std::shared_ptr<Session> session, uint64_t generation)
        : session_(std::move(session)), generation_(generation) {}
    ~SessionResponder() override {
      // A handler that drops its Responder without answering would hang the client forever.
      if (session_) {
        session_->Answer(generation_,
                         HttpResponse::Json(
                             500, R"({"Type":"Service","message":"request was dropped by the server"})"));
      }
    }
    void Respond(HttpResponse response) override {
      if (!session_) return;
      auto session = std::move(session_);
      session->Answer(generation_, std::move(response));
    }
    bool responded() const override { return !session_; }

   private:
    std::shared_ptr<Session> session_;
    uint64_t generation_;
  };

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(options_.header_limit));
    // Checked by hand after the header (OnHeader), so the answer can be shaped by the service.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    // Idle keep-alive connections and slow headers are cut after a while.
    deadline_ = Clock::now() + std::chrono::minutes(10);
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return Close();
    auto& header = parser_->get();
    auto length = parser_->content_length();
    // The body is not read: answer and close, as servers do for oversized uploads.
    if (length && *length > options_.body_limit) return RefuseTooLarge();
    parser_->body_limit(options_.body_limit);
    if (beast::iequals(header[http::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void RefuseTooLarge() {
    HttpResponse response;
    if (options_.too_large) {
      response = options_.too_large(ToRequest(parser_->get(), ""));
    } else {
      response.status = 413;
    }
    Write(std::move(response), false);
  }

  void ReadBody() {
    deadline_ = Clock::now() + std::chrono::minutes(5);
    // The body usually arrived with the header: parse what is buffered before reading more.
    parser_->eager(true);
    while (!parser_->is_done() && buffer_.size() > 0) {
      beast::error_code ec;
      size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) break;
      if (ec) return OnBody(ec);
      if (used == 0) break;
    }
    if (parser_->is_done()) return OnBody({});
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->OnBody(ec);
                     });
  }

  void OnBody(beast::error_code ec) {
    // A chunked body grew past the limit while being read.
    if (ec == http::error::body_limit) return RefuseTooLarge();
    if (ec) {
      spdlog::debug("http read: {}", ec.message());
      return Close();
    }
    auto message = parser_->release();
    keep_alive_ = message.keep_alive();
    head_request_ = message.method() == http::verb::head;
    HttpRequest request = ToRequest(message, std::move(message.body()));
    // No deadline while the handler works: long polls and long invocations are normal.
    deadline_ = Clock::time_point::max();
    ++generation_;
    auto responder = std::make_shared<SessionResponder>(shared_from_this(), generation_);
    listener_->handler(std::move(request), std::move(responder));
  }

  template <typename Header>
  HttpRequest ToRequest(const Header& header, std::string body) {
    HttpRequest request;
    request.method = std::string(header.method_string());
    request.target = std::string(header.target());
    auto question = request.target.find('?');
    request.path = request.target.substr(0, question);
    if (question != std::string::npos) request.query = request.target.substr(question + 1);
    for (const auto& field : header) {
      request.headers.Add(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(body);
    request.remote_address = remote_;
    return request;
  }

  void Write(HttpResponse response, bool keep_alive) {
    int status = response.status;
    // 1xx, 204 and 304 answers carry neither a body nor a length (RFC 9110 8.6).
    bool bodyless = status / 100 == 1 || status == 204 || status == 304;
    // A HEAD answer has no body but says how long the GET's would be (S3's HeadObject): keep the
    // handler's Content-Length there.
    bool keep_length = head_request_ && response.body.empty() && response.headers.Has("Content-Length");
    std::string& head = head_;
    head.clear();
    head += "HTTP/1.1 ";
    head += std::to_string(status);
    head += ' ';
    auto reason = http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status)));
    head.append(reason.data(), reason.size());
    head += "\r\n";
    for (const auto& [name, value] : response.headers.all()) {
      if (beast::iequals(name, "Connection") || beast::iequals(name, "Transfer-Encoding")) continue;
      if (beast::iequals(name, "Content-Length") && !keep_length) continue;
      AppendField(head, name, value);
    }
    if (!bodyless && !keep_length) {
      head += "Content-Length: ";
      head += std::to_string(response.body.size());
      head += "\r\n";
    }
    if (!keep_alive) head += "Connection: close\r\n";
    head += "\r\n";
    body_ = bodyless || head_request_ ? std::string() : std::move(response.body);
    deadline_ = Clock::now() + std::chrono::minutes(5);
    std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::buffer(body_)};
    asio::async_write(socket_, buffers,
                      [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive) return self->Close();
                        self->ReadHeader();
                      });
  }

  // "Name: value\r\n", with any CR or LF a handler let into the name or value (from a function's
  // answer, say) turned into a space: a header never ends early or starts another.
  static void AppendField(std::string& out, std::string_view name, std::string_view value) {
    size_t start = out.size();
    out.append(name.data(), name.size());
    out += ": ";
    out.append(value.data(), value.size());
    for (size_t i = start; i < out.size(); ++i) {
      if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
    }
    out += "\r\n";
  }

  void Close() {
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.close(ec);
  }

  tcp::socket socket_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Listener> listener_;
  const HttpListenOptions& options_;  // listener_'s, which this session keeps alive
  std::shared_ptr<Registry> registry_;
  std::string remote_;
  bool keep_alive_ = true;
  bool head_request_ = false;  // the request being answered is a HEAD
  uint64_t generation_ = 0;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::string head_;  // the answer being written: status line and fields
  std::string body_;  // and its body
};

// Once a second while sessions live: cuts the ones past their deadline.
void Sweep(const std::shared_ptr<Registry>& registry) {
  if (registry->sweeping || registry->sessions.empty()) return;
  registry->sweeping = true;
  registry->sweeper.expires_after(std::chrono::seconds(1));
  registry->sweeper.async_wait([weak = std::weak_ptr<Registry>(registry)](beast::error_code ec) {
    auto registry = weak.lock();
    if (!registry) return;
    registry->sweeping = false;
    if (ec) return;
    auto now = Clock::now();
    registry->sessions.remove_if([now](const std::weak_ptr<Session>& weak) {
      auto session = weak.lock();
      if (!session) return true;
      session->CutIfExpired(now);
      return false;
    });
    Sweep(registry);
  });
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  explicit Impl(EventLoop& loop) : context(loop.context()) {}

  void Accept(std::shared_ptr<Listener> listener) {
    listener->acceptor.async_accept(
        [self = shared_from_this(), listener](beast::error_code ec, tcp::socket socket) {
          if (ec) {
            if (ec == asio::error::operation_aborted || !listener->acceptor.is_open()) return;
            spdlog::warn("accept failed: {}", ec.message());
          } else {
            auto session = std::make_shared<Session>(std::move(socket), listener, self->registry);
            auto& sessions = self->registry->sessions;
            // Forget sessions that have ended, so the list stays as long as the live set.
            sessions.remove_if([](const std::weak_ptr<Session>& weak) { return weak.expired(); });
            sessions.push_back(session);
            Sweep(self->registry);
            session->Start();
          }
          self->Accept(listener);
        });
  }

  asio::io_context& context;
  std::vector<std::shared_ptr<Listener>> listeners;
  std::shared_ptr<Registry> registry = std::make_shared<Registry>(context);
};

HttpServer::HttpServer(EventLoop& loop) : impl_(std::make_shared<Impl>(loop)) {}

HttpServer::~HttpServer() { Close(); }

Result<uint16_t> HttpServer::Listen(const HttpListenOptions& options, HttpHandler handler) {
  auto listener = std::make_shared<Listener>(impl_->context, options, std::move(handler));
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options.host, ec);
  if (ec) return Status::InvalidArgument("bad listen address " + options.host);
  tcp::endpoint endpoint(address, options.port);
  listener->acceptor.open(endpoint.protocol(), ec);
  if (!ec) listener->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) listener->acceptor.bind(endpoint, ec);
  if (!ec) listener->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IoError("listen on " + options.host + ":" + std::to_string(options.port) +
                           ": " + ec.message());
  }
  uint16_t port = listener->acceptor.local_endpoint().port();
  impl_->listeners.push_back(listener);
  impl_->Accept(listener);
  return port;
}

Result<uint16_t> HttpServer::Adopt(int listening_fd, const HttpListenOptions& options,
                                   HttpHandler handler) {
  auto listener = std::make_shared<Listener>(impl_->context, options, std::move(handler));
  int copy = fcntl(listening_fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return Status::FromErrno("dup listening socket");
  boost::system::error_code ec;
  listener->acceptor.assign(tcp::v4(), copy, ec);
  if (ec) {
    close(copy);
    return Status::IoError("adopt listening socket: " + ec.message());
  }
  uint16_t port = listener->acceptor.local_endpoint(ec).port();
  impl_->listeners.push_back(listener);
  impl_->Accept(listener);
  return port;
}

void HttpServer::Close() {
  for (auto& listener : impl_->listeners) {
    boost::system::error_code ec;
    listener->acceptor.close(ec);
  }
  impl_->listeners.clear();
  for (auto& weak : impl_->registry->sessions) {
    if (auto session = weak.lock()) session->Shutdown();
  }
  impl_->registry->sessions.clear();
  impl_->registry->sweeper.cancel();
}

// --- plain values ---

void Headers::Add(std::string name, std::string value) {
  items_.emplace_back(std::move(name), std::move(value));
}

void Headers::Set(std::string name, std::string value) {
  for (auto& item : items_) {
    if (beast::iequals(item.first, beast::string_view(name.data(), name.size()))) {
      item.second = std::move(value);
      return;
    }
  }
  Add(std::move(name), std::move(value));
}

std::string_view Headers::Get(std::string_view name) const {
  for (const auto& item : items_) {
    if (beast::iequals(item.first, beast::string_view(name.data(), name.size()))) return item.second;
  }
  return {};
}

bool Headers::Has(std::string_view name) const {
  for (const auto& item : items_) {
    if (beast::iequals(item.first, beast::string_view(name.data(), name.size()))) return true;
  }
  return false;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.headers.Set("Content-Type", "application/json");
  response.body = std::move(body);
  return response;
}

std::optional<std::string> HttpRequest::QueryParam(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    auto eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq), true);
    if (key == name) {
      return eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1), true);
    }
  }
  return std::nullopt;
}

}  // namespace haneul
