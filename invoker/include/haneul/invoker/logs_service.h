// LogsService: the CloudWatch Logs API (json 1.1, `X-Amz-Target: Logs_20140328.<Op>`) over the
// LogStore: DescribeLogGroups, DescribeLogStreams, GetLogEvents, FilterLogEvents. Enough for
// `aws logs tail|filter-log-events|get-log-events` and `haneul logs`.
// Not thread-safe: loop thread only.
#pragma once

#include <memory>

#include "haneul/common/http.h"
#include "haneul/invoker/log_store.h"

namespace haneul::invoker {

class LogsService {
 public:
  explicit LogsService(LogStore& logs) : logs_(logs) {}
  // True when the request is for this service (by its X-Amz-Target); then it is answered.
  bool Handle(HttpRequest& request, const std::shared_ptr<Responder>& responder);

 private:
  LogStore& logs_;
};

}  // namespace haneul::invoker
