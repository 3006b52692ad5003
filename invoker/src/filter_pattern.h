// FilterPattern: CloudWatch Logs' filter-pattern language, as FilterLogEvents applies it to each
// event's message. Three forms, chosen by the first non-blank character:
//   terms            ERROR "exact phrase" -Exiting ?WARN      (case-sensitive substrings;
//                    plain terms must all appear, -terms must not, and when ?terms are present
//                    at least one of them must appear)
//   JSON             { $.level = "ERROR" && ($.latency > 100 || $.retry IS TRUE) }
//                    selectors $.a.b[0], operators = != < > <= >=, string values with * as a
//                    wildcard, numbers, IS TRUE / IS FALSE / IS NULL / NOT EXISTS, && || ( )
//   space-delimited  [ip, user, ..., status = 4* || status = 5*, bytes > 1000]
//                    words split on spaces; "quoted" and [bracketed] words count as one;
//                    `...` stands for any number of words
// An empty pattern (or "") matches every event. Parse() rejects what CloudWatch rejects with
// InvalidArgument (the caller answers InvalidParameterException), bounded: at most 1024 bytes, as
// CloudWatch's filterPattern.
// Values; thread-compatible.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "haneul/common/status.h"

namespace haneul::invoker {

class FilterPattern {
 public:
  static Result<FilterPattern> Parse(std::string_view pattern);
  bool Matches(std::string_view message) const;

  struct Node;

 private:
  std::shared_ptr<const Node> root_;  // null: matches everything
};

}  // namespace haneul::invoker
