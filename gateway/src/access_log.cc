// Access-log formatting (see access_log.h).
#include "access_log.h"

#include <algorithm>
#include <vector>

namespace haneul::gateway {

namespace {

// The $context variables haneul fills (a subset of API Gateway's list for HTTP APIs).
const std::vector<std::string>& KnownNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list = {
        "requestId",         "extendedRequestId",  "apiId",
        "stage",             "httpMethod",         "path",
        "routeKey",          "status",             "protocol",
        "responseLength",    "responseLatency",    "requestTime",
        "requestTimeEpoch",  "identity.sourceIp",  "identity.userAgent",
        "domainName",        "domainPrefix",       "integrationStatus",
        "integrationLatency", "integrationErrorMessage", "integration.status",
        "integration.latency", "integration.error", "integration.integrationStatus",
        "error.message",     "error.responseType", "authorizer.error",
        "accountId",         "authorizer.principalId"};
    // Longest first, so "integration.status" wins over a shorter prefix.
    std::sort(list.begin(), list.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    return list;
  }();
  return names;
}

}  // namespace

std::string FormatAccessLog(std::string_view format,
                            const std::map<std::string, std::string>& context) {
  static constexpr std::string_view kPrefix = "$context.";
  std::string out;
  size_t at = 0;
  while (at < format.size()) {
    size_t next = format.find(kPrefix, at);
    if (next == std::string_view::npos) {
      out.append(format.substr(at));
      break;
    }
    out.append(format.substr(at, next - at));
    std::string_view rest = format.substr(next + kPrefix.size());
    const std::string* matched = nullptr;
    for (const std::string& name : KnownNames()) {
      if (rest.starts_with(name)) {
        // A name must end at a non-name character ("$context.status," but not "$context.statusX").
        char after = rest.size() > name.size() ? rest[name.size()] : ' ';
        if (std::isalnum(static_cast<unsigned char>(after)) || after == '_') continue;
        matched = &name;
        break;
      }
    }
    if (!matched) {
      out.append(kPrefix);
      at = next + kPrefix.size();
      continue;
    }
    auto value = context.find(*matched);
    out.append(value == context.end() || value->second.empty() ? "-" : value->second);
    at = next + kPrefix.size() + matched->size();
  }
  return out;
}

std::string LogGroupFromArn(const std::string& arn) {
  static const std::string kMarker = ":log-group:";
  auto at = arn.find(kMarker);
  if (at == std::string::npos) return arn;
  std::string name = arn.substr(at + kMarker.size());
  if (name.ends_with(":*")) name.resize(name.size() - 2);
  return name;
}

}  // namespace haneul::gateway
