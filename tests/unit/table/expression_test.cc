// Unit tests for the expression parsers and evaluator, key encoding and item size accounting.
#include "expression.h"

#include <gtest/gtest.h>

#include "value.h"

namespace haneul::table {
namespace {

json Item() {
  return json::parse(R"({
    "id": {"S": "k1"}, "n": {"N": "5"}, "s": {"S": "hello"},
    "m": {"M": {"a": {"N": "1"}, "lst": {"L": [{"S": "x"}, {"N": "2"}, {"M": {"deep": {"BOOL": true}}}]}}},
    "ss": {"SS": ["a", "b"]}, "nul": {"NULL": true}})");
}

struct Evaluated {
  bool ok;
  bool value;
  std::string error;
};

Evaluated Check(const std::string& text, const json& values = json::object(),
                const json& names = json::object()) {
  json v = values, n = names;
  ExpressionContext context(n.empty() ? nullptr : &n, v.empty() ? nullptr : &v);
  Condition condition;
  if (auto error = ParseCondition(text, "ConditionExpression", context, &condition)) {
    return {false, false, error->message};
  }
  return {true, EvaluateCondition(condition, Item()), ""};
}

TEST(TableExpression, ComparisonsAndLogic) {
  json values = {{":five", {{"N", "5.0"}}}, {":four", {{"N", "4"}}}, {":h", {{"S", "hello"}}}};
  EXPECT_TRUE(Check("n = :five", values).value);
  EXPECT_TRUE(Check("n > :four AND s = :h", values).value);
  EXPECT_TRUE(Check("n < :four OR s = :h", values).value);
  EXPECT_FALSE(Check("NOT (n = :five)", values).value);
  EXPECT_TRUE(Check("n BETWEEN :four AND :five", values).value);
  EXPECT_TRUE(Check("n IN (:four, :five)", values).value);
  EXPECT_TRUE(Check("absent <> :four", values).value);
  EXPECT_FALSE(Check("absent = :four", values).value);
  EXPECT_FALSE(Check("s < :four", values).value);  // different types never compare
}

TEST(TableExpression, FunctionsAndNestedPaths) {
  json values = {{":he", {{"S", "he"}}},
                 {":a", {{"S", "a"}}},
                 {":two", {{"N", "2"}}},
                 {":t", {{"S", "NULL"}}},
                 {":three", {{"N", "3"}}}};
  EXPECT_TRUE(Check("begins_with(s, :he)", values).value);
  EXPECT_TRUE(Check("contains(ss, :a)", values).value);
  EXPECT_TRUE(Check("contains(m.lst, :two)", values).value);
  EXPECT_TRUE(Check("m.lst[1] = :two", values).value);
  EXPECT_TRUE(Check("attribute_exists(m.lst[2].deep)", values).value);
  EXPECT_TRUE(Check("attribute_not_exists(m.lst[3])", values).value);
  EXPECT_TRUE(Check("attribute_type(nul, :t)", values).value);
  EXPECT_TRUE(Check("size(m.lst) = :three", values).value);
  EXPECT_TRUE(Check("#x.#y = :two", values, {{"#x", "m"}, {"#y", "list[1]"}}).ok);
}

TEST(TableExpression, SyntaxAndPlaceholderErrorsUseDynamoWording) {
  EXPECT_NE(Check("n = ").error.find("Invalid ConditionExpression: Syntax error; token: \"<EOF>\""),
            std::string::npos);
  EXPECT_NE(Check("n = :nope")
                .error.find("An expression attribute value used in expression is "
                            "not defined; attribute value: :nope"),
            std::string::npos);
  EXPECT_NE(Check("#nope = n")
                .error.find("An expression attribute name used in the document "
                            "path is not defined; attribute name: #nope"),
            std::string::npos);
  EXPECT_NE(
      Check("attribute_exists(:v)", {{":v", {{"S", "x"}}}}).error.find("requires a document path"),
      std::string::npos);
  EXPECT_NE(Check("bogus(n)").error.find("Invalid function name; function: bogus"),
            std::string::npos);
}

TEST(TableExpression, ReservedWordsNeedPlaceholders) {
  json values = {{":v", {{"N", "1"}}}};
  EXPECT_EQ(
      Check("name = :v", values).error,
      "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name");
  EXPECT_NE(Check("m.Status = :v", values).error.find("reserved keyword: Status"),
            std::string::npos);
  EXPECT_TRUE(Check("#n = :v", values, {{"#n", "name"}}).ok);
}

TEST(TableExpression, UnusedPlaceholdersAreReported) {
  json values = {{":a", {{"N", "1"}}}, {":b", {{"N", "2"}}}};
  ExpressionContext context(nullptr, &values);
  Condition condition;
  ASSERT_FALSE(ParseCondition("n = :a", "ConditionExpression", context, &condition));
  auto error = context.CheckUnused();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->message,
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:b}");
}

json Update(const std::string& text, const json& values, std::string* error = nullptr) {
  json v = values;
  ExpressionContext context(nullptr, v.empty() ? nullptr : &v);
  std::vector<UpdateAction> actions;
  if (auto e = ParseUpdate(text, context, &actions)) {
    if (error) *error = e->message;
    return nullptr;
  }
  json item = Item();
  if (auto e = ApplyUpdate(actions, &item)) {
    if (error) *error = e->message;
    return nullptr;
  }
  return item;
}

TEST(TableExpression, UpdateSetRemoveAddDelete) {
  json values = {{":one", {{"N", "1"}}},
                 {":l", {{"L", json::array({{{"S", "z"}}})}}},
                 {":set", {{"SS", json::array({"b", "c"})}}}};
  json item = Update(
      "SET n = n + :one, m.a = :one, m.lst[9] = :one, newlist = list_append(:l, m.lst) "
      "REMOVE s, m.lst[0] ADD ss :set, tally :one",
      values);
  ASSERT_FALSE(item.is_null());
  EXPECT_EQ(item["n"]["N"], "6");
  EXPECT_EQ(item["m"]["M"]["lst"]["L"].size(), 3u);  // removed [0], appended one
  EXPECT_EQ(item["m"]["M"]["lst"]["L"][2]["N"], "1");
  EXPECT_EQ(item["newlist"]["L"].size(), 4u);
  EXPECT_FALSE(item.contains("s"));
  EXPECT_EQ(item["ss"]["SS"].size(), 3u);
  EXPECT_EQ(item["tally"]["N"], "1");
  item = Update("DELETE ss :set", values);
  EXPECT_EQ(item["ss"]["SS"], json::array({"a"}));
}

TEST(TableExpression, UpdateErrors) {
  std::string error;
  json values = {{":one", {{"N", "1"}}}, {":s", {{"S", "x"}}}};
  Update("SET a = :one, a.b = :one", values, &error);
  EXPECT_EQ(error,
            "Invalid UpdateExpression: Two document paths overlap with each other; must "
            "remove or rewrite one of these paths; path one: [a], path two: [a, b]");
  Update("SET n = absent + :one", values, &error);
  EXPECT_EQ(error,
            "The provided expression refers to an attribute that does not exist in the item");
  Update("SET n = s + :one", values, &error);
  EXPECT_EQ(error, "An operand in the update expression has an incorrect data type");
  Update("ADD n :s", values, &error);
  EXPECT_EQ(error,
            "Invalid UpdateExpression: Incorrect operand type for operator or function; "
            "operator: ADD, operand type: STRING");
  Update("SET nothere.x = :one", values, &error);
  EXPECT_EQ(error, "The document path provided in the update expression is invalid for update");
  Update("SET n = :one SET s = :one", values, &error);
  EXPECT_NE(error.find("\"SET\" section can only be used once"), std::string::npos);
}

TEST(TableExpression, ProjectionKeepsNestedStructure) {
  json names;
  ExpressionContext context(nullptr, nullptr);
  std::vector<Path> paths;
  ASSERT_FALSE(ParseProjection("s, m.lst[2].deep, m.lst[0], nope", context, &paths));
  json out = ProjectItem(Item(), paths);
  EXPECT_EQ(out["s"]["S"], "hello");
  ASSERT_EQ(out["m"]["M"]["lst"]["L"].size(), 2u);
  EXPECT_EQ(out["m"]["M"]["lst"]["L"][0]["S"], "x");
  EXPECT_TRUE(out["m"]["M"]["lst"]["L"][1]["M"]["deep"]["BOOL"].get<bool>());
  EXPECT_FALSE(out.contains("nope"));
}

TEST(TableValue, KeyEncodingOrdersStringsAndBinaryBytewise) {
  auto s = [](const std::string& text) { return EncodeKeyValue(json{{"S", text}}); };
  EXPECT_LT(s("a"), s("a\x01"));
  EXPECT_LT(s("a"), s("ab"));
  EXPECT_LT(s("ab"), s("b"));
  EXPECT_LT(s(std::string("a\0", 2)), s("a\x01"));
  EXPECT_LT(s("Z"), s("a"));
  EXPECT_LT(s("\xc3\xa9"), s("\xe4\xb8\x80"));  // UTF-8 bytes, not UTF-16 units
  // Composite keys: the partition part is self-delimiting.
  EXPECT_LT(s("a") + s("z"), s("ab") + s("a"));
  auto b = [](const std::string& base64) { return EncodeKeyValue(json{{"B", base64}}); };
  EXPECT_LT(b("AA=="), b("AQ=="));
  EXPECT_LT(b("AQ=="), b("/w=="));
}

TEST(TableValue, SizeAccountingAndValidation) {
  json item = json::parse(R"({"name": {"S": "abc"}, "n": {"N": "123"}, "b": {"BOOL": true},
                              "l": {"L": [{"S": "x"}]}, "m": {"M": {"k": {"NULL": true}}}})");
  // name(4)+3, n(1)+3, b(1)+1, l(1)+3+1+1, m(1)+3+1+1+1
  EXPECT_EQ(ItemSize(item), 7u + 4u + 2u + 6u + 7u);
  json bad = json::parse(R"({"SS": ["a", "a"]})");
  auto error = ValidateValue(bad);
  ASSERT_TRUE(error);
  EXPECT_EQ(
      error->message,
      "One or more parameter values were invalid: Input collection [a, a] contains duplicates.");
  json empty = json::parse(R"({"SS": []})");
  ASSERT_TRUE(ValidateValue(empty));
  json number = json::parse(R"({"N": "1.50"})");
  ASSERT_FALSE(ValidateValue(number));
  EXPECT_EQ(number["N"], "1.5");
  json deep = json{{"S", "x"}};
  for (int i = 0; i < 40; ++i) deep = json{{"L", json::array({deep})}};
  ASSERT_TRUE(ValidateValue(deep));
}

}  // namespace
}  // namespace haneul::table
