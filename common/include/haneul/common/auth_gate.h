// AuthGate: with credentials configured, every request to the endpoint must carry a valid SigV4
// signature made with one of them; the refusal is in the shape of the service the request was
// for (Lambda's rest-json, DynamoDB's json 1.0, CloudWatch Logs' json 1.1, S3's XML), with each
// service's error name for a missing, unknown, wrong, expired or malformed signature.
// Thread-compatible: configure, then Check from the loop thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "haneul/common/http.h"
#include "haneul/common/status.h"

namespace haneul {

class AuthGate {
 public:
  // "ACCESS_KEY:SECRET" pairs; none configured: every request passes.
  Status AddCredentials(const std::string& pair);
  bool enabled() const { return !secrets_.empty(); }
  // The first configured pair (what functions get in their environment), or nullopt.
  std::optional<std::pair<std::string, std::string>> first() const;

  // nullopt: allowed. Otherwise the refusal to send.
  std::optional<HttpResponse> Check(const HttpRequest& request, int64_t now_unix_seconds) const;

 private:
  std::map<std::string, std::string> secrets_;
  std::pair<std::string, std::string> first_;
};

}  // namespace haneul
