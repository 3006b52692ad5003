// S3NotificationSource: bucket notifications of the bundled object store as an event source.
// The object store matches PutBucketNotificationConfiguration's LambdaFunctionConfigurations
// against object events and builds S3's event record; this source validates the function ARNs
// it names and hands each event to the invoker as a durable Event invocation (InvokeAsync), so
// the function's retries, maximum age and on-failure destination apply.
// Stop() disconnects the callbacks (the object store outlives the trigger service).
// Thread-safety: loop thread only (the object store calls back on the loop).
#pragma once

#include <functional>
#include <string>

#include "event_source.h"

namespace haneul::objects {
class ObjectService;
}

namespace haneul::triggers {

class S3NotificationSource final : public EventSource {
 public:
  // `function_exists` answers for a function name (no qualifier).
  S3NotificationSource(objects::ObjectService& objects, FunctionInvoker& invoker,
                       std::function<bool(const std::string& name)> function_exists);
  ~S3NotificationSource() override;

  std::string_view name() const override { return "s3"; }
  Status Start() override;
  void Stop() override;

 private:
  objects::ObjectService& objects_;
  FunctionInvoker& invoker_;
  std::function<bool(const std::string&)> function_exists_;
  bool started_ = false;
};

}  // namespace haneul::triggers
