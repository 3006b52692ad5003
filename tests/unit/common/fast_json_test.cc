// ParseJson must give exactly what nlohmann::json::parse gives: same values, same number kinds
// (unsigned for non-negative integers), the last of duplicate keys, and a discarded value for
// text that is not JSON.
#include "haneul/common/fast_json.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

namespace haneul {
namespace {

using json = nlohmann::json;

void ExpectSameAsNlohmann(const std::string& text) {
  json expected = json::parse(text, nullptr, false);
  json got = ParseJson(text);
  ASSERT_EQ(got.is_discarded(), expected.is_discarded()) << text;
  if (expected.is_discarded()) return;
  EXPECT_EQ(got, expected) << text;
  EXPECT_EQ(got.dump(), expected.dump()) << text;
  // Number kinds matter to the callers' is_number_integer / get<> checks.
  std::vector<std::pair<const json*, const json*>> stack{{&got, &expected}};
  while (!stack.empty()) {
    auto [a, b] = stack.back();
    stack.pop_back();
    ASSERT_EQ(a->type(), b->type()) << text;
    if (a->is_structured()) {
      auto ia = a->begin();
      for (auto ib = b->begin(); ib != b->end(); ++ia, ++ib) stack.push_back({&*ia, &*ib});
    }
  }
}

TEST(FastJson, RequestsAndEdgeCases) {
  for (const std::string text : {
           R"({"TableName":"t","Item":{"pk":{"S":"k1"},"sk":{"N":"0"},"d":{"S":"xxxx"}}})",
           R"({"Limit":100,"Segment":0,"Neg":-5,"Big":18446744073709551615,"F":1.5,"E":1e3})",
           R"({"a":1,"a":2})", R"([])", R"({})", R"("text")", R"(null)", R"(true)",
           R"({"s":"esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00"})",
           R"({"nested":[[[{"x":[1,2,{"y":null}]}]]]})", "  {\"ws\" : [ 1 , 2 ] }  ",
           R"({"huge":123456789012345678901234567890})", R"({"tiny":1e-400,"over":1e400})",
           R"({"bad":)", R"({"a":1,})", R"({'a':1})", "{\"a\":\"\xff\"}", R"(01)", "",
           R"({"a":1} trailing)", R"(nul)", R"({"a":NaN})", "\"\\u0000\"",
       }) {
    ExpectSameAsNlohmann(text);
  }
}

// Random documents made of the table's shapes, serialised by nlohmann and parsed back by both.
TEST(FastJson, RandomDocumentsMatchNlohmann) {
  std::mt19937 random(7);
  std::function<json(int)> make = [&](int depth) -> json {
    switch (depth > 4 ? random() % 5 : random() % 7) {
      case 0: return json(std::string(random() % 40, char('a' + random() % 26)));
      case 1: return json(static_cast<int64_t>(random()) - (1 << 30));
      case 2: return json(static_cast<double>(random()) / 7.0);
      case 3: return json(random() % 2 == 0);
      case 4: return json(nullptr);
      case 5: {
        json array = json::array();
        for (unsigned i = random() % 5; i > 0; --i) array.push_back(make(depth + 1));
        return array;
      }
      default: {
        json object = json::object();
        for (unsigned i = random() % 5; i > 0; --i) {
          object["k" + std::to_string(random() % 10)] = make(depth + 1);
        }
        return object;
      }
    }
  };
  for (int i = 0; i < 500; ++i) ExpectSameAsNlohmann(make(0).dump());
}

}  // namespace
}  // namespace haneul

namespace haneul {
namespace {

std::string NlohmannDump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(FastJsonDump, ByteForByteAsNlohmann) {
  using json = nlohmann::json;
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls.push_back(static_cast<char>(c));
  for (const json& value : {
           json::parse(R"({"pk":{"S":"k1"},"d":{"S":"x\"y\\z/é😀\u007f"},"n":{"N":"1.50"}})"),
           json{{"controls", controls}, {"empty", ""}, {"list", json::array({1, -2, 3.25, 1e300,
                                                                              true, nullptr})}},
           json(std::string(5000, 'a') + "\n" + std::string(10, '"')),
           json::object(), json::array(), json(18446744073709551615ull), json(-0.0), json(0.1),
       }) {
    EXPECT_EQ(DumpJson(value), NlohmannDump(value));
  }
  // Invalid UTF-8 (never from a parsed request, but possible from other paths) is replaced as
  // nlohmann replaces it.
  json bad = json{{"s", std::string("ok\xff\xfe")}};
  EXPECT_EQ(DumpJson(bad), NlohmannDump(bad));
}

TEST(FastJsonDump, RandomDocumentsAsNlohmann) {
  std::mt19937 random(11);
  std::function<nlohmann::json(int)> make = [&](int depth) -> nlohmann::json {
    switch (depth > 4 ? random() % 4 : random() % 6) {
      case 0: {
        std::string text;
        for (unsigned i = random() % 30; i > 0; --i) text.push_back(static_cast<char>(random() % 128));
        return text;
      }
      case 1: return static_cast<int64_t>(random()) - (1 << 30);
      case 2: return static_cast<double>(random()) / 3.0;
      case 3: return random() % 2 == 0;
      case 4: {
        nlohmann::json array = nlohmann::json::array();
        for (unsigned i = random() % 5; i > 0; --i) array.push_back(make(depth + 1));
        return array;
      }
      default: {
        nlohmann::json object = nlohmann::json::object();
        for (unsigned i = random() % 5; i > 0; --i) object["k\t" + std::to_string(random() % 10)] = make(depth + 1);
        return object;
      }
    }
  };
  for (int i = 0; i < 500; ++i) {
    nlohmann::json value = make(0);
    ASSERT_EQ(DumpJson(value), NlohmannDump(value));
  }
}

}  // namespace
}  // namespace haneul
