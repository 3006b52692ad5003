// TriggerService: the event-source manager of the server. It owns the configured event sources
// (built by name from an explicit table in triggers/src/trigger_service.cc) and serves the APIs
// that configure them on the shared endpoint:
//  - Lambda event source mappings (rest-json, /2015-03-31/event-source-mappings/...): route it
//    BEFORE LambdaService, which claims every /2015-03-31/ path;
//  - the EventBridge `events` API for scheduled rules (JSON 1.1, X-Amz-Target: AWSEvents.*);
// and it connects the object store's bucket notifications to Event invocations (source "s3").
// Configuration and progress (mappings, checkpoints, rules, last firings) are durable in the
// server's KvStore under "triggers/".
// Thread-safety: not thread-safe; create, Handle and destroy on the server's loop thread.
#pragma once

#include <memory>
#include <string>

#include "haneul/common/event_loop.h"
#include "haneul/common/http.h"
#include "haneul/common/kv_store.h"
#include "haneul/common/status.h"

namespace haneul::invoker {
class LambdaService;
}
namespace haneul::table {
class TableService;
}
namespace haneul::objects {
class ObjectService;
}

namespace haneul::triggers {

struct TriggerOptions {
  std::string region = "us-east-1";
  std::string account = "000000000000";
  // When set, "now" for schedules is read from this file (decimal epoch milliseconds, or an
  // ISO-8601 UTC time) and re-read every 100 ms: the integration tests move time this way.
  std::string test_clock_file;
  int64_t stream_poll_interval_ms = 500;
};

class TriggerService {
 public:
  // `table` and `objects` may be null (no stream mappings / no S3 destinations then).
  static Result<std::unique_ptr<TriggerService>> Create(EventLoop& loop, KvStore& store,
                                                        invoker::LambdaService& lambda,
                                                        table::TableService* table,
                                                        objects::ObjectService* objects,
                                                        TriggerOptions options);
  ~TriggerService();
  TriggerService(const TriggerService&) = delete;
  TriggerService& operator=(const TriggerService&) = delete;

  // True when the request is for one of the trigger APIs; then it is answered.
  bool Handle(HttpRequest& request, const std::shared_ptr<Responder>& responder);

 private:
  struct Impl;
  explicit TriggerService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace haneul::triggers
