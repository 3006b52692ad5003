// LambdaService: the Lambda control plane and Invoke API (botocore's `lambda` rest-json model,
// paths under /2015-03-31/functions), over the function registry, the code store and the
// environment pools. Functions and code are durable in the data directory's KvStore.
// Not thread-safe: loop thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "haneul/common/event_loop.h"
#include "haneul/common/http.h"
#include "haneul/common/kv_store.h"
#include "haneul/invoker/log_store.h"

namespace haneul::invoker {

struct LambdaOptions {
  std::string data_directory;  // code/ and scratch/ are made inside
  std::string runtimes_directory;
  std::string python = "/usr/bin/python3";
  std::string node = "/usr/bin/node";
  std::string sandbox = "auto";  // "auto", "namespace" or "process"
  int sandbox_uid = 993;        // the unprivileged user handlers run as (namespace backend)
  int sandbox_gid = 990;
  bool sandbox_host_network = false;  // namespace backend: share the host's network (opt-in)
  // The credentials functions get in their environment (empty: placeholders).
  std::string function_access_key;
  std::string function_secret_key;
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  // A safety cap on live environments; the concurrency limits below are what decide.
  size_t max_environments = 4096;
  int account_concurrency = 1000;  // Lambda's account concurrency limit
  // Idle environments are reaped after this; frozen (cgroup freezer) after freeze_after_ms.
  int keep_alive_seconds = 600;
  int freeze_after_ms = 100;
  // Sum of the MemorySize of live environments (0: 80% of physical memory).
  int64_t memory_budget_mb = 0;
  // The base delay of async retries: the first retry after this, the second after twice it
  // (Lambda: about 1 and 2 minutes).
  int64_t async_retry_delay_ms = 60000;
  // Start one environment at CreateFunction and PublishVersion, so the first invoke is warm.
  bool prewarm = false;
  // The largest MemorySize this host can give one environment (0: the host's physical memory).
  int max_function_memory_mb = 0;
  int init_timeout_ms = 10000;
};

// The runtimes folder of a source checkout, where the binary was built from.
std::string DefaultRuntimesDirectory();

class LambdaService {
 public:
  static Result<std::unique_ptr<LambdaService>> Create(EventLoop& loop, KvStore& store,
                                                       LogStore& logs, LambdaOptions options);
  ~LambdaService();
  LambdaService(const LambdaService&) = delete;
  LambdaService& operator=(const LambdaService&) = delete;

  // True when the request is for Lambda (its path is under /2015-03-31/ or the code download
  // path); then it is answered.
  bool Handle(HttpRequest& request, const std::shared_ptr<Responder>& responder);

  bool HasFunction(const std::string& name) const;
  // Queues an Event invocation of `function` (a name, or a full or partial ARN with an optional
  // qualifier) from inside the server (event sources such as bucket notifications): durable when
  // it returns Ok, then delivered with the function's retry policy and destinations.
  Status InvokeAsync(const std::string& function, std::string payload);

  // Invokes `function` (a name, or a full or partial ARN with an optional qualifier)
  // synchronously (RequestResponse) from inside the server, for the gateway and poll-based
  // event sources. `done` fires once, on the loop thread, with exactly the answer the Invoke API
  // would give over HTTP: 200 with the function's payload (and X-Amz-Function-Error when the
  // function failed), or Lambda's error (404 ResourceNotFoundException, 429 throttles, 413 ...)
  // in its JSON shape. `headers` may carry X-Amz-Log-Type and X-Amz-Client-Context.
  void Invoke(const std::string& function, std::string payload,
              std::function<void(HttpResponse)> done, Headers headers = {});
  // The answer to a request whose body is over the endpoint's limit (never read), in Lambda's
  // shape: RequestTooLargeException for Invoke, RequestEntityTooLargeException otherwise.
  HttpResponse RequestTooLarge(const HttpRequest& request) const;
  // Lets handlers reach the bundled services: environments started from now on get
  // AWS_ENDPOINT_URL (and per-service forms) and, in a private network, a socket inside it that
  // `handler` serves as the server's own endpoint would (with `listen`'s limits). `host_url` is
  // the server's endpoint, for workers on the host's network.
  void ServeServicesToFunctions(std::string host_url, HttpListenOptions listen,
                                HttpHandler handler);

  // The sandbox backend in use ("namespace" or "process").
  std::string sandbox_name() const;

 private:
  struct Impl;
  explicit LambdaService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace haneul::invoker
