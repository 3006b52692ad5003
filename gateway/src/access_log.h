// Stage access logs: API Gateway's $context variables substituted into the stage's
// AccessLogSettings.Format, one line per request, written to the CloudWatch-Logs-style log group
// of AccessLogSettings.DestinationArn. Pure functions; thread-compatible.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace haneul::gateway {

// Replaces every $context.name (the longest known name at each "$context.") with its value, or
// "-" when the request has none (as API Gateway writes missing values).
std::string FormatAccessLog(std::string_view format,
                            const std::map<std::string, std::string>& context);

// "arn:aws:logs:us-east-1:000000000000:log-group:NAME[:*]" → "NAME"; a bare name stays itself.
std::string LogGroupFromArn(const std::string& arn);

}  // namespace haneul::gateway
