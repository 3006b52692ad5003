// The event-source framework of triggers/: what every source implements, what the manager
// (TriggerService) hands them, and the narrow interfaces they use to reach functions, so tests
// can put fakes behind them.
//  - EventSource: a lifecycle (Start/Stop) and a name; the manager builds sources from an
//    explicit table (triggers/src/trigger_service.cc), never by self-registration.
//  - MappingSource: a poll-based source driven by Lambda event source mappings (the DynamoDB
//    stream poller). The manager owns the mappings' API and durable configuration; the source
//    owns polling, batching, retries and checkpoints for the mappings attached to it.
//  - FunctionInvoker: Invoke (synchronous, for batches) and InvokeAsync (durable Event
//    invocations, for push sources), as LambdaService offers them.
// Thread-safety: everything here runs on the server's event-loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "haneul/common/aws_error.h"
#include "haneul/common/http.h"
#include "haneul/common/status.h"

namespace haneul::triggers {

// Milliseconds since the epoch; injectable so tests and `--test-clock-file` can move time.
using Clock = std::function<int64_t()>;

class FunctionInvoker {
 public:
  virtual ~FunctionInvoker() = default;
  // Exactly LambdaService::Invoke: `done` fires once on the loop with the Invoke API's answer.
  virtual void Invoke(const std::string& function, std::string payload,
                      std::function<void(HttpResponse)> done) = 0;
  // Exactly LambdaService::InvokeAsync: durable when Ok.
  virtual Status InvokeAsync(const std::string& function, std::string payload) = 0;
};

// Writes an on-failure invocation record to a destination ARN (an S3 bucket). Key chosen by the
// source. Unset when no destination backend is wired.
using DestinationWriter =
    std::function<Status(const std::string& destination_arn, const std::string& key,
                         const std::string& body)>;

// One event source mapping, as the Lambda API describes it (the subset a source acts on).
struct MappingConfig {
  std::string uuid;
  std::string function_arn;  // unqualified or qualified ARN; what is invoked
  std::string event_source_arn;
  int batch_size = 100;
  int maximum_batching_window_seconds = 0;
  std::string starting_position;  // TRIM_HORIZON, LATEST
  std::vector<std::string> filter_patterns;
  int maximum_retry_attempts = -1;         // -1: until the record expires
  int maximum_record_age_seconds = -1;     // -1: until the record expires
  bool bisect_batch_on_function_error = false;
  int parallelization_factor = 1;
  std::string on_failure_destination;      // "" or an ARN
  bool report_batch_item_failures = false;
  int tumbling_window_seconds = 0;
  bool enabled = true;
};

class EventSource {
 public:
  EventSource() = default;
  virtual ~EventSource() = default;
  EventSource(const EventSource&) = delete;
  EventSource& operator=(const EventSource&) = delete;

  // The name in the manager's table ("dynamodb-stream", "schedule", ...).
  virtual std::string_view name() const = 0;
  // Resumes durable state; called once, on the loop, before the server serves requests.
  virtual Status Start() = 0;
  // Stops every timer and in-flight callback effect; the source may be destroyed afterwards.
  virtual void Stop() = 0;
};

class MappingSource : public EventSource {
 public:
  // True when this source consumes `event_source_arn` (decides which source a mapping uses).
  virtual bool Accepts(const std::string& event_source_arn) const = 0;
  // What only the source can check (the stream exists, the destination is supported). nullopt
  // when the mapping is acceptable.
  virtual std::optional<AwsError> Validate(const MappingConfig& config) = 0;
  // Starts or reconfigures polling for an enabled mapping. `created` is true the first time
  // (StartingPosition applies then only; later the durable checkpoint does).
  virtual void Attach(const MappingConfig& config, bool created) = 0;
  // Stops polling a mapping (disabled or deleted). `forget` also drops its checkpoints.
  virtual void Detach(const std::string& uuid, bool forget) = 0;
  // Lambda's LastProcessingResult: "No records processed", "OK", "PROBLEM: ...".
  virtual std::string LastProcessingResult(const std::string& uuid) const = 0;
};

}  // namespace haneul::triggers
