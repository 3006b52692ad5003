// EventPattern: EventBridge's event-pattern language, which Lambda event filtering
// (FilterCriteria.Filters[].Pattern of an event source mapping) uses to decide whether a record
// reaches the function. A pattern is a JSON object whose keys follow the event's structure; a
// leaf is an array of matchers, any of which may match:
//   literals             "INSERT", 5, true, null        (equality; an array value in the event
//                                                        matches when any element does)
//   {"prefix": "a"}  {"suffix": "z"}  {"equals-ignore-case": "x"}  {"wildcard": "a*b"}
//   {"anything-but": v | [v...] | {"prefix": p} | {"suffix": s}}
//   {"numeric": [">", 0, "<=", 5]}   {"exists": true|false}
// and "$or": [pattern, ...] beside other keys. This is not the CloudWatch Logs filter syntax of
// invoker/src/filter_pattern.h. Parse() rejects malformed patterns with InvalidArgument, bounded
// (at most 4096 bytes and 32 levels, as Lambda's pattern length limit); Matches never throws.
// Values; thread-compatible.
#pragma once

#include <memory>
#include <string_view>

#include <nlohmann/json.hpp>

#include "haneul/common/status.h"

namespace haneul::triggers {

class EventPattern {
 public:
  static Result<EventPattern> Parse(std::string_view pattern);
  bool Matches(const nlohmann::json& event) const;

 private:
  std::shared_ptr<const nlohmann::json> pattern_;
};

}  // namespace haneul::triggers
