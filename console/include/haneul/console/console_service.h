// ConsoleService: the web console at `/` of the endpoint: static pages compiled into the binary
// (a function list, a function page with a test-event editor and the Test button, logs, charts
// from /metrics, and read-only lists of tables). The pages call the public APIs, as any client.
// Stateless; thread-safe.
#pragma once

#include <memory>

#include "haneul/common/http.h"

namespace haneul::console {

class ConsoleService {
 public:
  // True when the request is for the console: a browser's GET of `/` (no AWS signature and no
  // x-amz-* header, which an S3 ListBuckets would carry) or of /_console/<file>.
  bool Handle(const HttpRequest& request, const std::shared_ptr<Responder>& responder) const;
};

}  // namespace haneul::console
