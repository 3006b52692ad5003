// CloudWatch Logs filter patterns: the three forms (terms, JSON, space-delimited), their matching
// as the CloudWatch documentation's examples describe it, and the patterns CloudWatch rejects.
#include "filter_pattern.h"

#include <gtest/gtest.h>

#include <string>

namespace haneul::invoker {
namespace {

bool Match(const std::string& pattern, const std::string& message) {
  auto parsed = FilterPattern::Parse(pattern);
  EXPECT_TRUE(parsed.ok()) << pattern << ": " << parsed.status().ToString();
  return parsed.ok() && parsed->Matches(message);
}

bool Rejected(const std::string& pattern) {
  auto parsed = FilterPattern::Parse(pattern);
  return !parsed.ok() && parsed.status().code() == Status::Code::kInvalidArgument;
}

TEST(FilterPattern, EmptyPatternMatchesEverything) {
  EXPECT_TRUE(Match("", "anything"));
  EXPECT_TRUE(Match("  ", ""));
  EXPECT_TRUE(Match("\"\"", "anything"));
}

TEST(FilterPattern, TermsMustAllAppearCaseSensitively) {
  EXPECT_TRUE(Match("ERROR", "[ERROR] disk full"));
  EXPECT_FALSE(Match("ERROR", "error: disk full"));
  EXPECT_TRUE(Match("ERROR Exception", "ERROR: an Exception"));
  EXPECT_FALSE(Match("ERROR Exception", "ERROR: nothing else"));
  EXPECT_TRUE(Match("\"disk full\"", "ERROR: disk full now"));
  EXPECT_FALSE(Match("\"disk full\"", "disk is full"));
}

TEST(FilterPattern, OptionalAndExcludedTerms) {
  EXPECT_TRUE(Match("?ERROR ?WARN", "WARN: slow"));
  EXPECT_TRUE(Match("?ERROR ?WARN", "ERROR: broken"));
  EXPECT_FALSE(Match("?ERROR ?WARN", "INFO: fine"));
  EXPECT_TRUE(Match("ERROR -Exiting", "ERROR: retrying"));
  EXPECT_FALSE(Match("ERROR -Exiting", "ERROR: Exiting"));
  EXPECT_TRUE(Match("-DEBUG", "INFO: fine"));
  EXPECT_FALSE(Match("-DEBUG", "DEBUG: noise"));
  EXPECT_TRUE(Match("?\"time out\" ?Task", "Task timed out after 3.00 seconds"));
}

TEST(FilterPattern, JsonComparesStringsWithWildcards) {
  std::string event = R"({"eventType":"UpdateTrail","user":{"id":"abc-123"},"tags":["a","b"]})";
  EXPECT_TRUE(Match(R"({ $.eventType = "UpdateTrail" })", event));
  EXPECT_TRUE(Match(R"({ $.eventType = "Update*" })", event));
  EXPECT_FALSE(Match(R"({ $.eventType = "Delete*" })", event));
  EXPECT_TRUE(Match(R"({ $.eventType != "DeleteTrail" })", event));
  EXPECT_TRUE(Match(R"({ $.user.id = "abc-*" })", event));
  EXPECT_TRUE(Match(R"({ $.tags[1] = "b" })", event));
  EXPECT_FALSE(Match(R"({ $.tags[2] = "b" })", event));
  EXPECT_FALSE(Match(R"({ $.missing != "x" })", event));  // != needs the field
  EXPECT_FALSE(Match(R"({ $.eventType = "UpdateTrail" })", "not json at all"));
}

TEST(FilterPattern, JsonComparesNumbersAndTests) {
  std::string event = R"({"latency":250,"code":"200","ok":true,"bad":false,"gone":null})";
  EXPECT_TRUE(Match("{ $.latency > 100 }", event));
  EXPECT_FALSE(Match("{ $.latency < 100 }", event));
  EXPECT_TRUE(Match("{ $.latency >= 250 && $.latency <= 250 }", event));
  EXPECT_TRUE(Match("{ $.latency = 250 }", event));
  EXPECT_TRUE(Match("{ $.latency = 2.5e2 }", event));
  EXPECT_TRUE(Match("{ $.code = 200 }", event));  // a numeric string compares as a number
  EXPECT_TRUE(Match("{ $.ok IS TRUE }", event));
  EXPECT_TRUE(Match("{ $.bad IS FALSE }", event));
  EXPECT_FALSE(Match("{ $.ok IS FALSE }", event));
  EXPECT_TRUE(Match("{ $.gone IS NULL }", event));
  EXPECT_FALSE(Match("{ $.ok IS NULL }", event));
  EXPECT_TRUE(Match("{ $.nowhere NOT EXISTS }", event));
  EXPECT_FALSE(Match("{ $.latency NOT EXISTS }", event));
}

TEST(FilterPattern, JsonAndOrAndParentheses) {
  std::string event = R"({"level":"ERROR","latency":50,"retry":true})";
  EXPECT_TRUE(Match(R"({ $.level = "ERROR" && ($.latency > 100 || $.retry IS TRUE) })", event));
  EXPECT_FALSE(Match(R"({ $.level = "ERROR" && ($.latency > 100 || $.retry IS FALSE) })", event));
  EXPECT_TRUE(Match(R"({ $.level = "INFO" || $.latency < 100 })", event));
  // && binds tighter than ||.
  EXPECT_TRUE(Match(R"({ $.level = "INFO" && $.latency > 100 || $.retry IS TRUE })", event));
}

TEST(FilterPattern, SpaceDelimitedColumnsAndEllipsis) {
  std::string line =
      "127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] \"GET /apache_pb.gif HTTP/1.0\" 404 1534";
  EXPECT_TRUE(Match("[ip, identity, user, timestamp, request, status, bytes]", line));
  EXPECT_FALSE(Match("[ip, identity, user, timestamp, request, status]", line));  // 7 words
  EXPECT_TRUE(Match("[ip, identity, user, timestamp, request, status = 4*, bytes]", line));
  EXPECT_FALSE(Match("[ip, identity, user, timestamp, request, status = 5*, bytes]", line));
  EXPECT_TRUE(Match("[..., status = 404, bytes > 1000]", line));
  EXPECT_FALSE(Match("[..., status = 404, bytes > 2000]", line));
  EXPECT_TRUE(Match("[ip = 127.0.0.1, ...]", line));
  EXPECT_TRUE(Match("[..., request = \"GET /apache*\", status, bytes]", line));
  EXPECT_TRUE(Match("[..., status >= 400 && status < 500, bytes]", line));
  EXPECT_TRUE(Match("[..., status = 5* || status = 4*, bytes]", line));
  EXPECT_TRUE(Match("[...]", line));
}

TEST(FilterPattern, MalformedPatternsAreRejected) {
  EXPECT_TRUE(Rejected("\"unterminated"));
  EXPECT_TRUE(Rejected("{ $.a = \"x\""));              // no closing brace
  EXPECT_TRUE(Rejected("{ $.a = }"));
  EXPECT_TRUE(Rejected("{ a = 1 }"));                  // selectors start with $
  EXPECT_TRUE(Rejected("{ $.a > \"text\" }"));         // ordering needs a number
  EXPECT_TRUE(Rejected("{ ($.a = 1 }"));
  EXPECT_TRUE(Rejected("{ $.a[x] = 1 }"));
  EXPECT_TRUE(Rejected("{ $.a IS MAYBE }"));
  EXPECT_TRUE(Rejected("[a, , b]"));
  EXPECT_TRUE(Rejected("[a, b = 1 && c = 2]"));        // a condition names its own column
  EXPECT_TRUE(Rejected("%ERROR [0-9]+%"));             // regular expressions: not supported
  EXPECT_TRUE(Rejected(std::string(1025, 'x')));
  std::string deep = "{ " + std::string(40, '(') + "$.a = 1" + std::string(40, ')') + " }";
  EXPECT_TRUE(Rejected(deep));
}

TEST(FilterPattern, ManyEllipsesStayCheap) {
  std::string line;
  for (int i = 0; i < 2000; ++i) line += "w ";
  // Without memoisation this is exponential in the number of ellipses.
  EXPECT_FALSE(Match("[..., ..., ..., ..., ..., ..., ..., ..., x = 1]", line));
}

}  // namespace
}  // namespace haneul::invoker
