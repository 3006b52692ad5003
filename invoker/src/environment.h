// Environment: one execution environment of one function revision: its worker (from the
// sandbox), its Runtime API listener and state machine, its log stream, and the invocation it is
// running. It writes Lambda's platform log lines (INIT_START, START, END, REPORT) and turns
// timeouts, crashes and init failures into the error documents Lambda returns.
// Not thread-safe: every member runs on the loop thread. Owned by the Invoker through shared_ptr;
// callbacks never destroy it synchronously.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "function_config.h"
#include "haneul/common/event_loop.h"
#include "haneul/common/http.h"
#include "haneul/invoker/log_store.h"
#include "haneul/runtime_api/runtime_api.h"
#include "haneul/sandbox/sandbox.h"

namespace haneul::invoker {

// What every environment shares.
struct EnvironmentContext {
  EventLoop* loop = nullptr;
  sandbox::Sandbox* sandbox = nullptr;
  LogStore* logs = nullptr;
  AccountInfo account;
  std::string runtimes_dir;  // holds python3/bootstrap.py and nodejs/bootstrap.mjs
  std::string python;        // interpreter for python3.x functions
  std::string node;          // interpreter for nodejs functions
  std::string scratch_root;  // per-environment writable folders are made here
  // What functions get as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (the server's credentials
  // when it requires signed requests, so a handler's SDK can call the bundled services).
  std::string access_key = "haneul";
  std::string secret_key = "haneul";
  std::chrono::milliseconds init_timeout{10000};
};

struct InvokeOutcome {
  bool function_error = false;  // X-Amz-Function-Error: Unhandled
  std::string payload;          // the response, or Lambda's error document
  std::string log_tail;         // this invocation's log text (START..REPORT)
  double duration_ms = 0;       // for metrics: the invocation's Duration
  double init_duration_ms = -1; // the Init Duration of a cold start, else -1
  std::string executed_version = "$LATEST";
};

class Environment : public std::enable_shared_from_this<Environment> {
 public:
  using Done = std::function<void(InvokeOutcome)>;

  Environment(const EnvironmentContext& context, std::shared_ptr<const FunctionConfig> function,
              std::string code_directory);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  // Starts the worker. On failure returns false with Lambda's error type and message
  // (Runtime.InvalidEntrypoint for a missing or non-executable bootstrap).
  bool Start(std::string* error_type, std::string* error_message);
  // Runs one invocation (queued until init is over on a cold environment). done fires once.
  // With want_tail the outcome carries the log tail (START..REPORT); without it, done fires before
  // END and REPORT are written, so their cost stays off the caller's wait.
  void Invoke(runtime_api::Invocation invocation, bool want_tail, Done done);

  // Stops / resumes the worker's processes (cgroup freezer) while it waits idle. False when the
  // backend has no freezer. Freeze may block up to ~2 s: call it only on an idle environment.
  bool Freeze();
  bool Thaw();

  // Provisioned (and prewarmed) environments initialise off the request path: their first
  // REPORT carries no Init Duration, as on Lambda.
  void MarkProvisioned() { init_reported_ = true; }
  // True once init finished (the runtime asked for its first invocation).
  bool ready_once() const { return init_duration_ms_ >= 0; }

  bool idle() const { return state_ == State::kIdle; }
  bool dead() const { return state_ == State::kDead; }
  const FunctionConfig& function() const { return *function_; }
  const std::string& log_stream() const { return log_stream_; }

  // Fired (from the loop, never re-entrantly from Invoke) when an invocation ends and the
  // environment can take another, and when it has died and must be dropped.
  std::function<void(Environment*)> on_idle;
  std::function<void(Environment*)> on_dead;

 private:
  enum class State { kStarting, kIdle, kBusy, kDead };

  void WatchPipe(int which);
  void ReadPipe(int which);
  void Emit(std::string_view line);
  void OnReady();
  void OnInitError(std::string error_type, std::string body);
  void OnInitTimeout();
  void OnWorkerExit();
  void Deliver();
  void OnResult(runtime_api::InvocationResult result);
  void OnTimeout();
  void Finish(bool function_error, std::string payload, const std::string& report_suffix);
  void Die();
  std::string ReportLine(double duration_ms, const std::string& suffix);

  EnvironmentContext context_;
  std::shared_ptr<const FunctionConfig> function_;
  std::string code_directory_;
  std::string id_;
  std::string log_group_;
  std::string log_stream_;
  std::string scratch_directory_;
  State state_ = State::kStarting;

  runtime_api::RuntimeApi runtime_api_;
  HttpServer server_;  // after runtime_api_: its hooks point into runtime_api_
  std::unique_ptr<sandbox::Worker> worker_;
  struct Pipes;
  std::unique_ptr<Pipes> pipes_;
  Timer init_timer_;
  Timer invoke_timer_;

  std::chrono::steady_clock::time_point spawned_at_;
  double init_duration_ms_ = -1;  // reported once, on the first invocation
  bool init_reported_ = false;
  std::string init_error_type_;
  std::string init_error_body_;
  bool init_timed_out_ = false;

  std::optional<runtime_api::Invocation> pending_;
  std::string request_id_;
  Done done_;
  bool want_tail_ = true;
  std::chrono::steady_clock::time_point invoke_started_;
  std::string tail_;
};

}  // namespace haneul::invoker
