// EventBridge event patterns as Lambda event filtering applies them to stream records.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "event_pattern.h"

namespace haneul::triggers {
namespace {

using Json = nlohmann::json;

bool Match(const std::string& pattern, const std::string& event) {
  auto parsed = EventPattern::Parse(pattern);
  EXPECT_TRUE(parsed.ok()) << pattern << ": " << parsed.status().message();
  return parsed.ok() && parsed->Matches(Json::parse(event));
}

const char kRecord[] = R"({"eventName":"INSERT","eventSource":"aws:dynamodb",
  "dynamodb":{"Keys":{"pk":{"S":"user#1"}},"NewImage":{"pk":{"S":"user#1"},"age":{"N":"42"},
  "tags":{"SS":["a","b"]},"active":{"BOOL":true}}}})";

TEST(EventPattern, LiteralsAndNesting) {
  EXPECT_TRUE(Match(R"({"eventName":["INSERT","MODIFY"]})", kRecord));
  EXPECT_FALSE(Match(R"({"eventName":["REMOVE"]})", kRecord));
  EXPECT_TRUE(Match(R"({"dynamodb":{"Keys":{"pk":{"S":["user#1"]}}}})", kRecord));
  EXPECT_TRUE(Match(R"({"dynamodb":{"NewImage":{"active":{"BOOL":[true]}}}})", kRecord));
  EXPECT_FALSE(Match(R"({"dynamodb":{"OldImage":{"pk":{"S":["user#1"]}}}})", kRecord));
  // Every key must match.
  EXPECT_FALSE(Match(R"({"eventName":["INSERT"],"eventSource":["aws:sqs"]})", kRecord));
  // An array in the event matches when any element does.
  EXPECT_TRUE(Match(R"({"dynamodb":{"NewImage":{"tags":{"SS":["b"]}}}})", kRecord));
}

TEST(EventPattern, Operators) {
  EXPECT_TRUE(Match(R"({"dynamodb":{"Keys":{"pk":{"S":[{"prefix":"user#"}]}}}})", kRecord));
  EXPECT_FALSE(Match(R"({"dynamodb":{"Keys":{"pk":{"S":[{"prefix":"order#"}]}}}})", kRecord));
  EXPECT_TRUE(Match(R"({"dynamodb":{"Keys":{"pk":{"S":[{"suffix":"#1"}]}}}})", kRecord));
  EXPECT_TRUE(Match(R"({"eventName":[{"equals-ignore-case":"insert"}]})", kRecord));
  EXPECT_TRUE(Match(R"({"eventName":[{"wildcard":"IN*T"}]})", kRecord));
  EXPECT_FALSE(Match(R"({"eventName":[{"wildcard":"M*"}]})", kRecord));
  EXPECT_TRUE(Match(R"({"eventName":[{"anything-but":["REMOVE","MODIFY"]}]})", kRecord));
  EXPECT_FALSE(Match(R"({"eventName":[{"anything-but":"INSERT"}]})", kRecord));
  EXPECT_TRUE(Match(R"({"eventName":[{"anything-but":{"prefix":"MOD"}}]})", kRecord));
  // DynamoDB numbers are strings on the wire; numeric compares their value.
  EXPECT_TRUE(Match(R"({"dynamodb":{"NewImage":{"age":{"N":[{"numeric":[">",40,"<=",42]}]}}}})", kRecord));
  EXPECT_FALSE(Match(R"({"dynamodb":{"NewImage":{"age":{"N":[{"numeric":["<",18]}]}}}})", kRecord));
  EXPECT_TRUE(Match(R"({"dynamodb":{"NewImage":{"age":[{"exists":true}]}}})", kRecord));
  EXPECT_TRUE(Match(R"({"dynamodb":{"NewImage":{"missing":[{"exists":false}]}}})", kRecord));
  EXPECT_FALSE(Match(R"({"dynamodb":{"NewImage":{"age":[{"exists":false}]}}})", kRecord));
  EXPECT_TRUE(Match(R"({"$or":[{"eventName":["REMOVE"]},{"eventSource":["aws:dynamodb"]}]})", kRecord));
  EXPECT_FALSE(Match(R"({"$or":[{"eventName":["REMOVE"]},{"eventSource":["aws:sqs"]}]})", kRecord));
  EXPECT_TRUE(Match(R"({"a":[null]})", R"({"a":null})"));
  EXPECT_TRUE(Match(R"({"a":[5]})", R"({"a":5.0})"));
}

TEST(EventPattern, RejectsMalformedPatterns) {
  for (const char* bad : {"", "[]", "\"x\"", "{\"a\":1}", "{\"a\":[]}", "{\"a\":{}}",
                          "{\"a\":[{\"prefix\":1}]}", "{\"a\":[{\"nope\":1}]}",
                          "{\"a\":[{\"numeric\":[\">\"]}]}", "{\"a\":[{\"numeric\":[\"~\",1]}]}",
                          "{\"a\":[{\"exists\":\"yes\"}]}", "{\"$or\":[{\"a\":[1]}]}",
                          "{\"a\":[{\"prefix\":\"x\",\"suffix\":\"y\"}]}", "not json"}) {
    EXPECT_FALSE(EventPattern::Parse(bad).ok()) << bad;
  }
  std::string deep(200, '[');
  EXPECT_FALSE(EventPattern::Parse(deep).ok());
  EXPECT_FALSE(EventPattern::Parse("{\"a\":[\"" + std::string(5000, 'x') + "\"]}").ok());
}

}  // namespace
}  // namespace haneul::triggers
