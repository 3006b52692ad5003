// Bucket notifications as Event invocations (see s3_source.h).
#include "s3_source.h"

#include <utility>

#include <spdlog/spdlog.h>

#include "haneul/objects/object_service.h"

namespace haneul::triggers {

S3NotificationSource::S3NotificationSource(objects::ObjectService& objects,
                                           FunctionInvoker& invoker,
                                           std::function<bool(const std::string&)> function_exists)
    : objects_(objects), invoker_(invoker), function_exists_(std::move(function_exists)) {}

S3NotificationSource::~S3NotificationSource() { Stop(); }

Status S3NotificationSource::Start() {
  // Notifications may only name functions that exist ("arn:...:function:NAME[:QUALIFIER]").
  objects_.SetFunctionExists([this](const std::string& arn) {
    static const std::string kMarker = ":function:";
    auto at = arn.find(kMarker);
    if (at == std::string::npos) return false;
    std::string name = arn.substr(at + kMarker.size());
    return function_exists_(name.substr(0, name.find(':')));
  });
  objects_.SetNotify([this](const std::string& arn, std::string event) {
    Status queued = invoker_.InvokeAsync(arn, std::move(event));
    if (!queued.ok()) spdlog::warn("bucket notification to {} dropped: {}", arn, queued.message());
  });
  started_ = true;
  return Status::Ok();
}

void S3NotificationSource::Stop() {
  if (!started_) return;
  started_ = false;
  objects_.SetNotify([](const std::string& arn, std::string) {
    spdlog::warn("bucket notification to {} dropped: the server is stopping", arn);
  });
  objects_.SetFunctionExists([](const std::string&) { return false; });
}

}  // namespace haneul::triggers
