// Environment: see environment.h. The platform lines follow Lambda's text format:
//   INIT_START Runtime Version: ...
//   START RequestId: <id> Version: $LATEST
//   END RequestId: <id>
//   REPORT RequestId: <id>\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t
//          Max Memory Used: 40 MB\tInit Duration: 101.10 ms\t
#include "environment.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <set>
#include <utility>  // before Asio: Boost 1.74 uses std::exchange without it
#include <boost/asio.hpp>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "image_function.h"
#include "log_format.h"
#include "haneul/common/ids.h"

namespace haneul::invoker {

// The namespace sandbox's services socket (Worker::services_fd) listens here in each worker.
constexpr int kServicesPortInSandbox = 4747;

namespace asio = boost::asio;

namespace {

// The part of an invocation's log returned by `X-Amz-Log-Type: Tail`.
constexpr size_t kTailBytes = 4096;

std::string FormatMs(double ms) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f", ms);
  return buffer;
}

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

std::string ErrorDocument(const std::string& type, const std::string& message) {
  return nlohmann::json{{"errorType", type}, {"errorMessage", message}}.dump();
}

std::string StreamDate() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[16];
  std::strftime(buffer, sizeof(buffer), "%Y/%m/%d", &tm);
  return buffer;
}

std::string RuntimeVersion(const std::string& runtime) {
  auto family = FamilyOf(runtime);
  if (family == RuntimeFamily::kPython) return "python:3.haneul";
  if (family == RuntimeFamily::kNode) return "nodejs:haneul";
  return "provided:haneul";
}

}  // namespace

struct Environment::Pipes {
  explicit Pipes(asio::io_context& context)
      : streams{asio::posix::stream_descriptor(context), asio::posix::stream_descriptor(context)},
        exit(context) {}
  ~Pipes() {
    // The Worker owns the descriptors: release them so asio does not close them too.
    for (auto& stream : streams) {
      if (stream.is_open()) stream.release();
    }
    if (exit.is_open()) exit.release();
  }
  asio::posix::stream_descriptor streams[2];
  asio::posix::stream_descriptor exit;
  std::string partial[2];
  bool open[2] = {false, false};
};

Environment::Environment(const EnvironmentContext& context,
                         std::shared_ptr<const FunctionConfig> function,
                         std::string code_directory)
    : context_(context),
      function_(std::move(function)),
      code_directory_(std::move(code_directory)),
      id_(RandomHex(32)),
      log_group_(function_->LogGroup()),
      log_stream_(StreamDate() + "/[" + function_->version + "]" + id_),
      runtime_api_({[this] { OnReady(); },
                    [this](std::string type, std::string body) {
                      OnInitError(std::move(type), std::move(body));
                    }}),
      server_(*context.loop),
      pipes_(std::make_unique<Pipes>(context.loop->context())),
      init_timer_(*context.loop),
      invoke_timer_(*context.loop) {}

Environment::~Environment() {
  init_timer_.Cancel();
  invoke_timer_.Cancel();
  server_.Close();
  pipes_.reset();
  worker_.reset();  // kills and reaps the whole tree
  if (!scratch_directory_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(scratch_directory_, ec);
  }
}

bool Environment::Start(std::string* error_type, std::string* error_message) {
  const FunctionConfig& function = *function_;
  auto family = FamilyOf(function.runtime);
  // SnapStart: the backend for this runtime, and its own template sandbox if it needs one (criu).
  if (snapshotter_) snapshotter_ = snapshotter_->ForRuntime(function.runtime);
  sandbox::Sandbox& sandbox = snapshotter_ && snapshotter_->template_sandbox()
                                  ? *snapshotter_->template_sandbox()
                                  : *context_.sandbox;
  const std::string task_root = sandbox.task_root(code_directory_);
  const std::string runtime_root = sandbox.runtime_root(context_.runtimes_dir);
  std::vector<std::string> argv;
  std::string execution_env;
  if (family == RuntimeFamily::kPython) {
    argv = {context_.python, runtime_root + "/python3/bootstrap.py"};
    execution_env = "AWS_Lambda_" + function.runtime;
  } else if (family == RuntimeFamily::kNode) {
    argv = {context_.node, runtime_root + "/nodejs/bootstrap.mjs"};
    execution_env = "AWS_Lambda_" + function.runtime;
  } else {
    argv = {task_root + "/bootstrap"};
  }
  ImageLaunch image;
  if (function.is_image()) {
    // An image runs its own entrypoint and command (after the function's ImageConfig).
    image = LaunchOf(function);
    if (image.argv.empty()) {
      *error_type = "Runtime.InvalidEntrypoint";
      *error_message = "Error: the image has neither an entrypoint nor a command to run";
      return false;
    }
    argv = image.argv;
  }

  scratch_directory_ = context_.scratch_root + "/" + id_;
  std::error_code ec;
  std::filesystem::create_directories(scratch_directory_, ec);

  sandbox::WorkerSpec spec;
  spec.argv = argv;
  spec.code_directory = code_directory_;
  spec.runtimes_directory = context_.runtimes_dir;
  spec.scratch_directory = scratch_directory_;
  spec.name = id_;
  spec.memory_mb = function.memory_mb;
  spec.memory_limit_bytes = static_cast<uint64_t>(function.memory_mb) << 20;
  spec.ephemeral_storage_bytes = static_cast<uint64_t>(function.ephemeral_storage_mb) << 20;
  // The namespace backend gives the worker a /tmp of its own; the process backend cannot, so
  // TMPDIR points at the environment's scratch folder there.
  bool own_tmp = sandbox.name() != "process";
  std::string tmp = own_tmp ? "/tmp" : scratch_directory_;
  const std::string& region = context_.account.region;
  spec.environment = {
      "PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin",
      "LANG=en_US.UTF-8",
      "TZ=:UTC",
      "LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:"
      "/var/task/lib:/opt/lib",
      "LAMBDA_TASK_ROOT=" + task_root,
      "LAMBDA_RUNTIME_DIR=" + runtime_root,
      "_HANDLER=" + function.handler,
      "AWS_REGION=" + region,
      "AWS_DEFAULT_REGION=" + region,
      "AWS_LAMBDA_FUNCTION_NAME=" + function.name,
      "AWS_LAMBDA_FUNCTION_VERSION=" + function.version,
      "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + std::to_string(function.memory_mb),
      "AWS_LAMBDA_LOG_GROUP_NAME=" + log_group_,
      "AWS_LAMBDA_LOG_STREAM_NAME=" + log_stream_,
      "AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
      "AWS_ACCESS_KEY_ID=" + context_.access_key,
      "AWS_SECRET_ACCESS_KEY=" + context_.secret_key,
      "AWS_SESSION_TOKEN=haneul",
      "TMPDIR=" + tmp,
      "HOME=" + tmp,
  };
  // The bundled services, for SDKs that honour AWS_ENDPOINT_URL (and its per-service forms; our
  // python runtime teaches older botocore the same). A function's own setting wins.
  if (const auto& services = *context_.services; services.handler) {
    std::string url = sandbox.private_network()
                          ? "http://127.0.0.1:" + std::to_string(kServicesPortInSandbox)
                          : services.host_url;
    for (const char* name : {"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB",
                             "AWS_ENDPOINT_URL_DYNAMODB_STREAMS", "AWS_ENDPOINT_URL_LAMBDA",
                             "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_ENDPOINT_URL_EVENTBRIDGE",
                             "AWS_ENDPOINT_URL_APIGATEWAYV2"}) {
      if (!function.environment.count(name)) spec.environment.push_back(std::string(name) + "=" + url);
    }
  }
  // LoggingConfig JSON: the runtimes format application logs as JSON, filtered at this level.
  if (function.json_logs()) {
    spec.environment.push_back("AWS_LAMBDA_LOG_FORMAT=JSON");
    spec.environment.push_back("AWS_LAMBDA_LOG_LEVEL=" + (function.application_log_level.empty()
                                                              ? std::string("INFO")
                                                              : function.application_log_level));
  }
  if (!execution_env.empty()) spec.environment.push_back("AWS_EXECUTION_ENV=" + execution_env);
  if (family == RuntimeFamily::kPython) spec.environment.push_back("PYTHONUNBUFFERED=1");
  for (const auto& [name, value] : function.environment) {
    spec.environment.push_back(name + "=" + value);
  }
  if (function.is_image()) {
    spec.rootfs = code_directory_;
    spec.working_directory = image.working_directory;
    // The image's ENV under Lambda's variables and the function's; the image keeps its own PATH
    // and LD_LIBRARY_PATH, and _HANDLER is its command's first word, as on Lambda.
    std::vector<std::string> merged;
    std::set<std::string> taken;
    auto key_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
    for (const std::string& entry : image.environment) {
      std::string key = key_of(entry);
      if (key == "PATH" || key == "LD_LIBRARY_PATH") {
        merged.push_back(entry);
        taken.insert(key);
      }
    }
    for (const std::string& entry : spec.environment) {
      std::string key = key_of(entry);
      if (taken.count(key)) continue;
      if (key == "_HANDLER") {
        merged.push_back("_HANDLER=" + image.handler);
      } else {
        merged.push_back(entry);
      }
      taken.insert(key);
    }
    for (const std::string& entry : image.environment) {
      if (taken.insert(key_of(entry)).second) merged.push_back(entry);
    }
    spec.environment = std::move(merged);
  }

  if (snapshotter_) {
    // SnapStart's template: the runtime learns it initialises for a snapshot.
    for (std::string& entry : spec.environment) {
      if (entry == "AWS_LAMBDA_INITIALIZATION_TYPE=on-demand") {
        entry = "AWS_LAMBDA_INITIALIZATION_TYPE=snap-start";
      }
    }
    snapshotter_->PrepareTemplate(&spec);
    template_spec_ = spec;
  }

  auto sandbox_started = std::chrono::steady_clock::now();
  Result<std::unique_ptr<sandbox::Worker>> worker = Status::Unavailable("not started");
  if (restore_from_) {
    // SnapStart: a copy of the version's initialised template; a cold start when that fails.
    std::string why = "the snapshot template is gone";
    if (restore_from_->alive()) {
      snapshot::CopySpec copy;
      copy.name = id_;
      copy.environment = {"AWS_LAMBDA_LOG_STREAM_NAME=" + log_stream_,
                          "AWS_LAMBDA_INITIALIZATION_TYPE=snap-start"};
      copy.memory_limit_bytes = spec.memory_limit_bytes;
      copy.memory_mb = function.memory_mb;
      copy.scratch_directory = scratch_directory_;
      worker = restore_from_->Restore(copy);
      restored_ = worker.ok();
      if (!restored_) why = worker.status().message();
    }
    if (!restored_) {
      spdlog::warn("environment {} of {}:{}: SnapStart restore failed ({}); cold start", id_,
                   function.name, function.version, why);
      Emit("SnapStart restore failed (" + why + "): falling back to a cold start");
    }
  }
  if (!restored_) worker = sandbox.Start(spec);
  // Init Duration counts from the runtime's start, as on Lambda: not the sandbox's making. A
  // Restore Duration counts the whole restore.
  spawned_at_ = restored_ ? sandbox_started : std::chrono::steady_clock::now();
  spdlog::debug("environment {} of {}: sandbox started in {:.2f} ms", id_, function.name,
                std::chrono::duration<double, std::milli>(spawned_at_ - sandbox_started).count());
  if (!worker.ok()) {
    const Status& status = worker.status();
    bool entrypoint = status.code() == Status::Code::kNotFound ||
                      status.code() == Status::Code::kInvalidArgument;
    *error_type = entrypoint ? "Runtime.InvalidEntrypoint" : "Runtime.Unknown";
    if (function.is_image() && entrypoint) {
      *error_message = "Error: fork/exec " + argv[0] + ": " +
                       (status.code() == Status::Code::kNotFound ? "no such file or directory"
                                                                  : "permission denied");
      if (status.message().find("image") != std::string::npos &&
          status.message().find("exec") == std::string::npos) {
        *error_message = "Error: " + status.message();
      }
    } else if (family == RuntimeFamily::kProvided && entrypoint) {
      *error_message = status.code() == Status::Code::kNotFound
                           ? "Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap "
                             "/opt/bootstrap]"
                           : "Error: fork/exec /var/task/bootstrap: permission denied";
    } else {
      *error_message = "Error: could not start the runtime: " + status.message();
    }
    spdlog::warn("environment {} of {} did not start: {}", id_, function.name, status.message());
    return false;
  }
  worker_ = std::move(*worker);
  auto port = server_.Adopt(worker_->runtime_api_fd(), runtime_api_.ListenOptions("", 0),
                            [this](HttpRequest request, std::shared_ptr<Responder> responder) {
                              runtime_api_.Handle(std::move(request), std::move(responder));
                            });
  if (!port.ok()) {
    *error_type = "Runtime.Unknown";
    *error_message = "could not serve the Runtime API: " + port.status().message();
    return false;
  }
  if (worker_->services_fd() >= 0 && context_.services->handler) {
    auto services = server_.Adopt(worker_->services_fd(), context_.services->listen,
                                  context_.services->handler);
    if (!services.ok()) {
      *error_type = "Runtime.Unknown";
      *error_message = "could not serve the bundled services: " + services.status().message();
      return false;
    }
  }
  pipes_->streams[0].assign(worker_->stdout_fd());
  pipes_->streams[1].assign(worker_->stderr_fd());
  pipes_->open[0] = pipes_->open[1] = true;
  WatchPipe(0);
  WatchPipe(1);
  if (worker_->exit_fd() >= 0) {
    pipes_->exit.assign(worker_->exit_fd());
    pipes_->exit.async_wait(asio::posix::stream_descriptor::wait_read,
                            [weak = weak_from_this()](boost::system::error_code ec) {
                              auto self = weak.lock();
                              if (!ec && self) self->OnWorkerExit();
                            });
  }
  init_timer_.Start(context_.init_timeout, [this] { OnInitTimeout(); });
  Emit(std::string(restored_ ? "RESTORE_START" : "INIT_START") +
       " Runtime Version: " + RuntimeVersion(function.runtime) +
           "\tRuntime Version ARN: arn:aws:lambda:" + region + "::runtime:haneul");
  return true;
}

void Environment::WatchPipe(int which) {
  pipes_->streams[which].async_wait(asio::posix::stream_descriptor::wait_read,
                                    [weak = weak_from_this(), which](boost::system::error_code ec) {
                                      auto self = weak.lock();
                                      if (ec || !self) return;
                                      self->ReadPipe(which);
                                      if (self->pipes_ && self->pipes_->open[which]) {
                                        self->WatchPipe(which);
                                      }
                                    });
}

// Reads what the pipe has now, without blocking, and emits every complete line.
void Environment::ReadPipe(int which) {
  if (!pipes_ || !pipes_->open[which]) return;
  int fd = which == 0 ? worker_->stdout_fd() : worker_->stderr_fd();
  char buffer[65536];
  // Bounded per call so one chatty worker cannot starve the loop.
  for (int round = 0; round < 16; ++round) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;  // EAGAIN: wait for more
    if (n == 0) {
      pipes_->open[which] = false;
      if (!pipes_->partial[which].empty()) {
        EmitOutput(pipes_->partial[which]);
        pipes_->partial[which].clear();
      }
      return;
    }
    std::string& partial = pipes_->partial[which];
    std::string_view data(buffer, static_cast<size_t>(n));
    while (!data.empty()) {
      auto newline = data.find('\n');
      if (newline == std::string_view::npos) {
        partial.append(data);
        // A line longer than one log event is cut into events of the maximum size.
        while (partial.size() >= kMaxLogEventBytes) {
          EmitOutput(std::string_view(partial).substr(0, kMaxLogEventBytes));
          partial.erase(0, kMaxLogEventBytes);
        }
        break;
      }
      if (partial.empty()) {
        std::string_view line = data.substr(0, newline);
        while (line.size() > kMaxLogEventBytes) {
          EmitOutput(line.substr(0, kMaxLogEventBytes));
          line.remove_prefix(kMaxLogEventBytes);
        }
        EmitOutput(line);
      } else {
        partial.append(data.substr(0, newline));
        std::string_view line = partial;
        while (line.size() > kMaxLogEventBytes) {
          EmitOutput(line.substr(0, kMaxLogEventBytes));
          line.remove_prefix(kMaxLogEventBytes);
        }
        EmitOutput(line);
        partial.clear();
      }
      data.remove_prefix(newline + 1);
    }
  }
}

void Environment::Emit(std::string_view line) {
  if (function_->json_logs()) {
    PlatformContext platform;
    platform.function_name = function_->name;
    platform.function_version = function_->version;
    if (!function_->system_log_level.empty()) platform.system_log_level = function_->system_log_level;
    auto json = SystemLineAsJson(line, NowUnixMillis(), platform);
    if (json) Store(*json);
    return;
  }
  Store(line);
}

void Environment::EmitOutput(std::string_view line) {
  // A budget per environment (a token bucket of bytes): a function that logs faster than the
  // log store should take loses the excess lines, counted and reported before its END line,
  // instead of taking the loop's time from every other function.
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - log_refilled_at_).count();
  log_refilled_at_ = now;
  log_tokens_ = std::min(kLogBurstBytes, log_tokens_ + elapsed * kLogBytesPerSecond);
  double cost = static_cast<double>(line.size()) + 1;
  if (cost > log_tokens_) {
    ++dropped_lines_;
    dropped_bytes_ += static_cast<int64_t>(line.size()) + 1;
    return;
  }
  log_tokens_ -= cost;
  Store(line);
}

void Environment::ReportDroppedLogs() {
  if (dropped_lines_ == 0) return;
  Emit("LOGS_DROPPED Dropped Records: " + std::to_string(dropped_lines_) +
       "\tDropped Bytes: " + std::to_string(dropped_bytes_) + "\tReason: " + kLogsDroppedReason);
  dropped_lines_ = 0;
  dropped_bytes_ = 0;
}

void Environment::Store(std::string_view line) {
  context_.logs->Append(log_group_, log_stream_, NowUnixMillis(), line);
  if (state_ == State::kBusy || pending_) {
    tail_.append(line);
    tail_.push_back('\n');
    if (tail_.size() > 4 * kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
  }
}

void Environment::OnReady() {
  init_timer_.Cancel();
  init_duration_ms_ = MillisSince(spawned_at_);
  if (restored_) Emit("RESTORE_REPORT Restore Duration: " + FormatMs(init_duration_ms_) + " ms");
  if (state_ == State::kStarting) state_ = State::kIdle;
  if (pending_) {
    Deliver();
    return;
  }
  // Started without an invocation (provisioned or prewarmed): ready for the pool.
  context_.loop->Post([weak = weak_from_this()] {
    auto self = weak.lock();
    if (self && self->state_ == State::kIdle && self->on_idle) self->on_idle(self.get());
  });
}

void Environment::OnInitError(std::string error_type, std::string body) {
  init_error_type_ = std::move(error_type);
  init_error_body_ = std::move(body);
  // The runtime should exit after reporting; make sure of it. OnWorkerExit reports the error.
  if (worker_) worker_->Kill();
}

void Environment::OnInitTimeout() {
  init_timed_out_ = true;
  if (worker_) worker_->Kill();
}

void Environment::Invoke(runtime_api::Invocation invocation, bool want_tail, Done done) {
  pending_ = std::move(invocation);
  want_tail_ = want_tail;
  done_ = std::move(done);
  tail_.clear();
  if (state_ == State::kIdle) Deliver();
}

void Environment::Deliver() {
  runtime_api::Invocation invocation = std::move(*pending_);
  pending_.reset();
  state_ = State::kBusy;
  request_id_ = invocation.request_id;
  int timeout_ms = function_->timeout_seconds * 1000;
  invocation.deadline_unix_ms = NowUnixMillis() + timeout_ms;
  worker_->ResetPeakMemory();
  Emit("START RequestId: " + request_id_ + " Version: " + function_->version);
  invoke_started_ = std::chrono::steady_clock::now();
  invoke_timer_.Start(std::chrono::milliseconds(timeout_ms), [this] { OnTimeout(); });
  runtime_api_.Invoke(std::move(invocation), [this](runtime_api::InvocationResult result) {
    OnResult(std::move(result));
  });
}

std::string Environment::ReportLine(double duration, const std::string& suffix) {
  // A timed-out invocation reports exactly its timeout, as Lambda does.
  if (suffix == "Status: timeout") duration = function_->timeout_seconds * 1000.0;
  uint64_t peak = worker_ ? worker_->PeakMemoryBytes() : 0;
  uint64_t peak_mb = (peak + (1 << 20) - 1) >> 20;
  double billed = std::ceil(duration);
  std::string line = "REPORT RequestId: " + request_id_ + "\tDuration: " + FormatMs(duration) +
                     " ms\tBilled Duration: ";
  bool report_init = !init_reported_ && init_duration_ms_ >= 0;
  // provided runtimes are billed for init too, as on Lambda.
  if (report_init && !restored_ && FamilyOf(function_->runtime) == RuntimeFamily::kProvided) {
    billed = std::ceil(duration + init_duration_ms_);
  }
  if (billed < 1) billed = 1;
  line += std::to_string(static_cast<int64_t>(billed)) + " ms\tMemory Size: " +
          std::to_string(function_->memory_mb) + " MB\tMax Memory Used: " +
          std::to_string(peak_mb) + " MB\t";
  if (report_init && restored_) {
    // SnapStart's REPORT: the restore instead of the init (which ran at PublishVersion).
    line += "Restore Duration: " + FormatMs(init_duration_ms_) + " ms\tBilled Restore Duration: " +
            std::to_string(static_cast<int64_t>(std::ceil(init_duration_ms_))) + " ms\t";
    init_reported_ = true;
  } else if (report_init) {
    line += "Init Duration: " + FormatMs(init_duration_ms_) + " ms\t";
    init_reported_ = true;
  }
  return line + suffix;
}

void Environment::Finish(bool function_error, std::string payload,
                         const std::string& report_suffix) {
  invoke_timer_.Cancel();
  double duration = MillisSince(invoke_started_);
  // What the worker printed before it answered is already in the pipes: take it first, so the
  // output lands between START and END as on Lambda.
  ReadPipe(0);
  ReadPipe(1);
  InvokeOutcome outcome;
  outcome.function_error = function_error;
  outcome.payload = std::move(payload);
  outcome.duration_ms = duration;
  outcome.executed_version = function_->version;
  if (!init_reported_ && init_duration_ms_ >= 0 && !restored_) {
    outcome.init_duration_ms = init_duration_ms_;
  }
  auto done = std::move(done_);
  done_ = nullptr;
  if (!want_tail_ && done) {
    done(std::move(outcome));
    done = nullptr;
  }
  ReportDroppedLogs();
  Emit("END RequestId: " + request_id_);
  Emit(ReportLine(duration, report_suffix));
  if (done) {
    outcome.log_tail =
        tail_.size() > kTailBytes ? tail_.substr(tail_.size() - kTailBytes) : tail_;
    done(std::move(outcome));
  }
  tail_.clear();
}

bool Environment::Freeze() { return state_ == State::kIdle && worker_ && worker_->Freeze(); }

bool Environment::Thaw() { return worker_ && worker_->Thaw(); }

void Environment::OnResult(runtime_api::InvocationResult result) {
  Finish(result.is_error, std::move(result.body), "");
  state_ = State::kIdle;
  // Hand the environment back from the loop, not from inside the Runtime API's call stack.
  context_.loop->Post([weak = weak_from_this()] {
    auto self = weak.lock();
    if (self && self->state_ == State::kIdle && self->on_idle) self->on_idle(self.get());
  });
}

void Environment::OnTimeout() {
  runtime_api_.Abandon();
  // The whole tree dies before the caller hears of the timeout.
  if (worker_) worker_->Kill();
  std::string seconds = FormatMs(function_->timeout_seconds);
  Emit(IsoTimestamp(NowUnixMillis()) + " " + request_id_ + " Task timed out after " +
           seconds + " seconds");
  Finish(true,
         ErrorDocument("Sandbox.Timedout", "RequestId: " + request_id_ +
                                               " Error: Task timed out after " + seconds +
                                               " seconds"),
         "Status: timeout");
  Die();
}

void Environment::OnWorkerExit() {
  ReadPipe(0);
  ReadPipe(1);
  int status = 0;
  std::string how = "unknown";
  if (worker_ && worker_->TryReap(&status)) {
    if (WIFEXITED(status)) {
      how = "exit status " + std::to_string(WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
      how = std::string("signal: ") + (WTERMSIG(status) == SIGKILL ? "killed" : strsignal(WTERMSIG(status)));
    }
  }
  bool out_of_memory = worker_ && worker_->OomKilled();
  if (state_ == State::kBusy) {
    runtime_api_.Abandon();
    std::string type = out_of_memory ? "Runtime.OutOfMemory" : "Runtime.ExitError";
    std::string message = "RequestId: " + request_id_ + " Error: Runtime exited with error: " + how;
    Emit(message + "\n" + type);
    Finish(true, ErrorDocument(type, message), "Status: error\tError Type: " + type);
  } else if (state_ == State::kStarting) {
    init_timer_.Cancel();
    double init_ms = MillisSince(spawned_at_);
    std::string type;
    std::string payload;
    if (!init_error_type_.empty()) {
      type = init_error_type_;
      payload = init_error_body_.empty() ? ErrorDocument(type, "") : init_error_body_;
    } else if (init_timed_out_) {
      type = "Sandbox.Timedout";
      payload = ErrorDocument(type, "Error: Init phase timed out after " +
                                        FormatMs(context_.init_timeout.count() / 1000.0) +
                                        " seconds");
    } else {
      type = out_of_memory ? "Runtime.OutOfMemory" : "Runtime.ExitError";
      payload = ErrorDocument(type, "RequestId: " +
                                        (pending_ ? pending_->request_id : std::string()) +
                                        " Error: Runtime exited with error: " + how);
    }
    {
      auto document = nlohmann::json::parse(payload, nullptr, false);
      std::string message = document.is_object() && document.contains("errorMessage") &&
                                    document["errorMessage"].is_string()
                                ? document["errorMessage"].get<std::string>()
                                : payload;
      init_failure_ = type + ": " + message;
    }
    Emit("INIT_REPORT Init Duration: " + FormatMs(init_ms) + " ms\tPhase: init\tStatus: " +
             std::string(init_timed_out_ ? "timeout" : "error") + "\tError Type: " + type);
    if (pending_) {
      state_ = State::kBusy;
      request_id_ = pending_->request_id;
      pending_.reset();
      invoke_started_ = std::chrono::steady_clock::now();
      Emit("START RequestId: " + request_id_ + " Version: " + function_->version);
      Finish(true, std::move(payload), "Status: error\tError Type: " + type);
    }
  }
  Die();
}

void Environment::Die() {
  if (state_ == State::kDead) return;
  state_ = State::kDead;
  if (worker_) worker_->Kill();
  context_.loop->Post([weak = weak_from_this()] {
    auto self = weak.lock();
    if (self && self->on_dead) self->on_dead(self.get());
  });
}

}  // namespace haneul::invoker

namespace haneul::invoker {

Result<std::unique_ptr<snapshot::Template>> Environment::CaptureTemplate() {
  if (!snapshotter_ || !worker_ || state_ == State::kDead) {
    return Status::Unavailable("not a live snapshot template");
  }
  return snapshotter_->Capture(*worker_, template_spec_);
}

std::string Environment::InitFailure() const {
  if (!init_failure_.empty()) return init_failure_;
  return "Runtime.Unknown: the environment ended during init";
}

}  // namespace haneul::invoker
