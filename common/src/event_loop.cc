// EventLoop and Timer over one boost::asio::io_context.
#include "haneul/common/event_loop.h"

#include <optional>
#include <utility>  // before Asio: Boost 1.74 uses std::exchange without it
#include <boost/asio.hpp>

namespace haneul {

struct EventLoop::Impl {
  boost::asio::io_context context{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard;
};

EventLoop::EventLoop() : impl_(std::make_unique<Impl>()) {
  impl_->guard.emplace(impl_->context.get_executor());
}

EventLoop::~EventLoop() = default;

void EventLoop::Run() { impl_->context.run(); }

void EventLoop::Stop() { impl_->context.stop(); }

void EventLoop::Post(std::function<void()> fn) { boost::asio::post(impl_->context, std::move(fn)); }

boost::asio::io_context& EventLoop::context() { return impl_->context; }

struct Timer::Impl {
  explicit Impl(boost::asio::io_context& context) : timer(context) {}
  boost::asio::steady_timer timer;
  uint64_t generation = 0;
};

Timer::Timer(EventLoop& loop) : impl_(std::make_shared<Impl>(loop.context())) {}

Timer::~Timer() { Cancel(); }

void Timer::Start(std::chrono::milliseconds after, std::function<void()> fn) {
  Cancel();
  uint64_t generation = impl_->generation;
  impl_->timer.expires_after(after);
  std::weak_ptr<Impl> weak = impl_;
  impl_->timer.async_wait([weak, generation, fn = std::move(fn)](boost::system::error_code ec) {
    auto impl = weak.lock();
    // A cancelled wait may still complete with success if it raced; the generation check makes
    // Cancel() final.
    if (ec || !impl || impl->generation != generation) return;
    fn();
  });
}

void Timer::Cancel() {
  ++impl_->generation;
  impl_->timer.cancel();
}

}  // namespace haneul
