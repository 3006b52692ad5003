// The Lambda Runtime API (2018-06-01) of one execution environment: the invocation state machine
// that the runtime inside the sandbox drives with /next, /response, /error and /init/error.
//
// The invoker owns one RuntimeApi per environment and feeds it HTTP requests from that
// environment's own listener. Not thread-safe: everything runs on the server's EventLoop thread.
//
// States and what each call does (anything else is refused as Lambda's Runtime API refuses it):
//   kInitializing  --/next-->            kIdle (on_ready fires), or kInvoking if one is queued
//   kInitializing  --/init/error-->      kFailed (on_init_error fires)
//   kInitializing  --/restore/next-->    kInitializing, answered at once (a SnapStart copy, once)
//   kInitializing  --/restore/error-->   kFailed (on_init_error fires; after restore/next only)
//   kIdle          --Invoke()-->         kInvoking (the parked /next is answered)
//   kInvoking      --/{id}/response-->   kAwaitingNext (done fires with the response)
//   kInvoking      --/{id}/error-->      kAwaitingNext (done fires with the error)
//   kAwaitingNext  --/next-->            kIdle, or kInvoking if one is queued
// Errors: an unknown request id → 400 InvalidRequestID; a second post for the same invocation or a
// post in the wrong state → 403 InvalidStateTransition; a body over the 6 MB limit → 413
// RequestEntityTooLarge (and the invocation ends with Function.ResponseSizeTooLarge).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "haneul/common/http.h"

namespace haneul::runtime_api {

// Lambda's limit on a synchronous response payload, as the Runtime API enforces it.
inline constexpr size_t kMaxResponseBytes = 6291556;

struct Invocation {
  std::string request_id;
  std::string payload;
  int64_t deadline_unix_ms = 0;
  std::string invoked_function_arn;
  std::string trace_id;
  std::string client_context;    // JSON text, empty when none
  std::string cognito_identity;  // JSON text, empty when none
};

struct InvocationResult {
  bool is_error = false;
  std::string body;        // the response payload, or the error document
  std::string error_type;  // Lambda-Runtime-Function-Error-Type of an /error post
};

class RuntimeApi {
 public:
  enum class State { kInitializing, kIdle, kInvoking, kAwaitingNext, kFailed };

  struct Callbacks {
    // The runtime called /next for the first time: init is over.
    std::function<void()> on_ready;
    // The runtime reported an init failure (error type header, body).
    std::function<void(std::string error_type, std::string body)> on_init_error;
  };

  explicit RuntimeApi(Callbacks callbacks);
  ~RuntimeApi();
  RuntimeApi(const RuntimeApi&) = delete;
  RuntimeApi& operator=(const RuntimeApi&) = delete;

  // Serves one HTTP request from the runtime.
  void Handle(HttpRequest request, std::shared_ptr<Responder> responder);
  // The answer to a /response or /error whose body is over the limit (used as the listener's
  // too_large hook, so the body is never read); fails the current invocation.
  HttpResponse HandleTooLarge(const HttpRequest& request);

  // Hands an invocation to the runtime: at once if a /next is parked, else at the next /next.
  // done fires exactly once, unless Abandon() is called first. Only one invocation at a time.
  void Invoke(Invocation invocation, std::function<void(InvocationResult)> done);
  // Forgets the current invocation (timeout, crash): done will not fire; later posts for it are
  // refused with 400 InvalidRequestID.
  void Abandon();

  State state() const { return state_; }
  // HTTP options for the environment's listener: body limit and the too-large hook.
  HttpListenOptions ListenOptions(std::string host, uint16_t port);

 private:
  void Deliver();
  void Complete(InvocationResult result);

  Callbacks callbacks_;
  State state_ = State::kInitializing;
  std::shared_ptr<Responder> parked_next_;
  std::optional<Invocation> current_;  // queued or being run; reset once answered
  std::string completed_id_;           // the last answered invocation
  std::function<void(InvocationResult)> done_;
  bool restored_ = false;  // restore/next was answered
};

}  // namespace haneul::runtime_api
