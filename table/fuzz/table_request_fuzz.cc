// Fuzz target: the table service's untrusted inputs: request JSON for every operation (through
// TableService::Execute on a throwaway store) and the expression parsers directly.
// With clang: clang++ -fsanitize=fuzzer,address ... to fuzz for real; the GCC build replays
// fuzz/corpus through replay_main.cc as a regression test.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "expression.h"
#include "haneul/table/table_service.h"

namespace {

haneul::table::TableService* Service() {
  static haneul::table::TableService* service = [] {
    std::string directory =
        (std::filesystem::temp_directory_path() / ("table-fuzz-" + std::to_string(getpid())))
            .string();
    std::filesystem::remove_all(directory);
    haneul::table::TableOptions options;
    options.sync = false;
    auto opened = haneul::table::TableService::Open(directory, options);
    if (!opened.ok()) std::abort();
    auto* raw = opened->release();
    raw->Execute("CreateTable",
                 R"({"TableName":"fuzz","BillingMode":"PAY_PER_REQUEST",
                     "AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},
                                             {"AttributeName":"sk","AttributeType":"N"},
                                             {"AttributeName":"g","AttributeType":"S"}],
                     "KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},
                                  {"AttributeName":"sk","KeyType":"RANGE"}],
                     "GlobalSecondaryIndexes":[{"IndexName":"gidx","KeySchema":[
                        {"AttributeName":"g","KeyType":"HASH"}],
                        "Projection":{"ProjectionType":"ALL"}}]})");
    return raw;
  }();
  return service;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  // First line: operation name; rest: request body. Without a newline: an expression.
  auto newline = input.find('\n');
  if (newline != std::string::npos) {
    Service()->Execute(input.substr(0, newline), input.substr(newline + 1));
    return 0;
  }
  using namespace haneul::table;
  json names = {{"#a", "a"}, {"#b", "b"}};
  json values = {{":v", {{"N", "1"}}}, {":s", {{"S", "x"}}}, {":l", {{"L", json::array()}}}};
  json item = {{"a", {{"N", "1"}}}, {"b", {{"M", {{"c", {{"L", json::array({{{"S", "x"}}})}}}}}}}};
  {
    ExpressionContext context(&names, &values);
    Condition condition;
    if (!ParseCondition(input, "ConditionExpression", context, &condition)) {
      EvaluateCondition(condition, item);
    }
  }
  {
    ExpressionContext context(&names, &values);
    std::vector<UpdateAction> actions;
    if (!ParseUpdate(input, context, &actions)) {
      json copy = item;
      ApplyUpdate(actions, &copy);
    }
  }
  {
    ExpressionContext context(&names, &values);
    std::vector<Path> paths;
    if (!ParseProjection(input, context, &paths)) ProjectItem(item, paths);
  }
  return 0;
}
