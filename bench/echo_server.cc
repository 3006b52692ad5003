// bench_echo_server: the floor for any HTTP hop. A bare Boost.Beast HTTP/1.1 server, async on
// one thread, keeping connections alive, answering every request with 200 and the request's
// body. Benchmarks put the project beside it: whatever haneul adds on top of one loopback
// round trip through Beast is haneul's own cost.
//
//   bench_echo_server [--port 0] [--host 127.0.0.1]
// prints "bench_echo_server: listening on http://HOST:PORT" on stderr once it accepts, and runs
// until SIGINT or SIGTERM. Single-threaded: everything runs on the io_context's one thread.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : socket_(std::move(socket)) {}

  void Start() { Read(); }

 private:
  void Read() {
    request_ = {};
    http::async_read(
        socket_, buffer_, request_,
        [self = shared_from_this()](beast::error_code error, size_t) { self->OnRead(error); });
  }

  void OnRead(beast::error_code error) {
    if (error) return;  // end of stream or a broken request: drop the connection
    response_ = {};
    response_.version(request_.version());
    response_.result(http::status::ok);
    response_.keep_alive(request_.keep_alive());
    response_.set(http::field::content_type, "application/json");
    response_.body() = std::move(request_.body());
    response_.prepare_payload();
    http::async_write(socket_, response_,
                      [self = shared_from_this()](beast::error_code write_error, size_t) {
                        self->OnWrite(write_error);
                      });
  }

  void OnWrite(beast::error_code error) {
    if (error) return;
    if (!response_.keep_alive()) {
      beast::error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    Read();
  }

  tcp::socket socket_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

class Listener {
 public:
  Listener(asio::io_context& context, tcp::endpoint endpoint) : acceptor_(context, endpoint) {}

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void Accept() {
    acceptor_.async_accept([this](beast::error_code error, tcp::socket socket) {
      if (!error) {
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<Session>(std::move(socket))->Start();
      }
      Accept();
    });
  }

 private:
  tcp::acceptor acceptor_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  unsigned long port = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = std::strtoul(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
      host = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--port 0] [--host 127.0.0.1]\n", argv[0]);
      return 2;
    }
  }
  if (port > 65535) {
    std::fprintf(stderr, "bench_echo_server: invalid port %lu\n", port);
    return 2;
  }
  try {
    asio::io_context context(1);
    Listener listener(context,
                      tcp::endpoint(asio::ip::make_address(host), static_cast<uint16_t>(port)));
    listener.Accept();
    asio::signal_set signals(context, SIGINT, SIGTERM);
    signals.async_wait([&](beast::error_code, int) { context.stop(); });
    std::fprintf(stderr, "bench_echo_server: listening on http://%s:%u\n", host.c_str(),
                 listener.port());
    std::fflush(stderr);
    context.run();
  } catch (const std::exception& exception) {  // start-up failures only: bind, bad address
    std::fprintf(stderr, "bench_echo_server: %s\n", exception.what());
    return 1;
  }
  return 0;
}
