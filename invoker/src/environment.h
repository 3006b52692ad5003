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
#include "haneul/snapshot/snapshotter.h"

namespace haneul::invoker {

// The bundled services (S3, DynamoDB, Lambda, ...) as a handler's SDK reaches them. Filled once
// the server listens; shared by every environment (and so by every copy of the context).
struct ServiceEndpoints {
  std::string host_url;   // the server's own endpoint, for workers on the host's network
  HttpListenOptions listen;  // limits of the endpoint (body size, too-large answers)
  HttpHandler handler;    // answers a request as the server's endpoint would
};

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
  std::shared_ptr<ServiceEndpoints> services = std::make_shared<ServiceEndpoints>();
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

  // SnapStart (call before Start). BecomeTemplate: this environment runs the function's init and
  // then, instead of serving invocations, becomes the version's snapshot template (it never joins
  // a pool; on_idle fires once init is over, on_dead if init fails). RestoreFrom: Start restores a
  // copy of the template instead of starting a runtime; if that fails it logs why and cold-starts.
  void BecomeTemplate(snapshot::Snapshotter* snapshotter) { snapshotter_ = snapshotter; }
  void RestoreFrom(snapshot::Template* snapshot) { restore_from_ = snapshot; }
  // For a template whose init is over: the snapshot to restore copies from.
  Result<std::unique_ptr<snapshot::Template>> CaptureTemplate();
  // Why init failed ("Runtime.ExitError: ...", "Sandbox.Timedout: ..."), for a dead template.
  std::string InitFailure() const;
  bool restored() const { return restored_; }

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
  // A line of the environment's own (system lines: START, REPORT, ...), in the function's log
  // format; and a line of the worker's output, as it is.
  void Emit(std::string_view line);
  void EmitOutput(std::string_view line);
  void Store(std::string_view line);  // into the log store and the invocation's tail
  // Says how many output lines the log budget dropped since the last report (LOGS_DROPPED).
  void ReportDroppedLogs();
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
  std::string init_failure_;  // "ErrorType: message" of a failed init, for InitFailure()

  // SnapStart: see BecomeTemplate / RestoreFrom.
  snapshot::Snapshotter* snapshotter_ = nullptr;
  snapshot::Template* restore_from_ = nullptr;
  sandbox::WorkerSpec template_spec_;
  bool restored_ = false;

  std::optional<runtime_api::Invocation> pending_;
  std::string request_id_;
  Done done_;
  bool want_tail_ = true;
  std::chrono::steady_clock::time_point invoke_started_;
  std::string tail_;
  // The log budget: output beyond kLogBytesPerSecond (after a burst of kLogBurstBytes) is dropped.
  static constexpr double kLogBytesPerSecond = 16.0 * 1024 * 1024;
  static constexpr double kLogBurstBytes = 32.0 * 1024 * 1024;
  static constexpr const char* kLogsDroppedReason =
      "Some logs were dropped because the function wrote them faster than 16 MB/s";
  double log_tokens_ = kLogBurstBytes;
  std::chrono::steady_clock::time_point log_refilled_at_ = std::chrono::steady_clock::now();
  int64_t dropped_lines_ = 0;
  int64_t dropped_bytes_ = 0;
};

}  // namespace haneul::invoker
