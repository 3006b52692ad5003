// Wildcard matching shared by the pattern languages that have it: CloudWatch Logs filter
// patterns, EventBridge event patterns (Lambda's FilterCriteria) and IAM resource patterns (the
// gateway's authorizer policies). Pure; thread-safe.
#pragma once

#include <string_view>

namespace haneul {

// '*' matches any run of characters (also none); with `question_mark`, '?' matches exactly one;
// everything else matches itself. Iterative with one backtrack point: no recursion on untrusted
// patterns, and linear-ish time.
bool WildcardMatch(std::string_view text, std::string_view pattern, bool question_mark = false);

}  // namespace haneul
