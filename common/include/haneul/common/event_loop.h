// EventLoop: the one Asio io_context that serves every socket, timer and pipe of the server.
// haneul runs its request paths on a single loop thread, so the state machines of the invoker and
// the Runtime API need no locks. Post() is the only member safe to call from other threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace haneul {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs the loop on the calling thread until Stop().
  void Run();
  // Makes Run() return; safe from any thread and from signal-handling code paths via Post.
  void Stop();
  // Queues fn to run on the loop thread. Thread-safe.
  void Post(std::function<void()> fn);

  boost::asio::io_context& context();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A one-shot timer on the loop. Destroying or cancelling it guarantees fn never runs.
class Timer {
 public:
  explicit Timer(EventLoop& loop);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  void Start(std::chrono::milliseconds after, std::function<void()> fn);
  void Cancel();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace haneul
