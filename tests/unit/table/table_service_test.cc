// Unit tests for TableService through Execute (no HTTP): the JSON 1.0 answer shape, reopening a
// data directory, index entries written with their items, and malformed input.
#include "haneul/table/table_service.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace haneul::table {
namespace {

using nlohmann::json;

class TableServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = (std::filesystem::temp_directory_path() /
                  ("haneul-table-test-" + std::to_string(getpid()) + "-" +
                   ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                     .string();
    std::filesystem::remove_all(directory_);
    Reopen();
  }
  void TearDown() override {
    service_.reset();
    std::filesystem::remove_all(directory_);
  }
  void Reopen() {
    service_.reset();
    TableOptions options;
    options.sync = false;
    auto opened = TableService::Open(directory_, options);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    service_ = std::move(*opened);
  }
  json Call(const std::string& operation, const json& body, int want_status = 200) {
    HttpResponse response = service_->Execute(operation, body.dump());
    EXPECT_EQ(response.status, want_status) << response.body;
    EXPECT_EQ(response.headers.Get("Content-Type"), "application/x-amz-json-1.0");
    uint32_t crc =
        static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(response.body.data()),
                                    static_cast<uInt>(response.body.size())));
    EXPECT_EQ(response.headers.Get("x-amz-crc32"), std::to_string(crc));
    return json::parse(response.body);
  }
  void CreateTable() {
    Call("CreateTable", json::parse(R"({"TableName":"things","BillingMode":"PAY_PER_REQUEST",
           "AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"},
                                   {"AttributeName":"colour","AttributeType":"S"}],
           "KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],
           "GlobalSecondaryIndexes":[{"IndexName":"by_colour","KeySchema":[
              {"AttributeName":"colour","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"}}]})"));
  }

  std::string directory_;
  std::unique_ptr<TableService> service_;
};

TEST_F(TableServiceTest, ItemsAndIndexesSurviveReopen) {
  CreateTable();
  for (int i = 0; i < 10; ++i) {
    Call("PutItem", {{"TableName", "things"},
                     {"Item",
                      {{"id", {{"S", "i" + std::to_string(i)}}},
                       {"colour", {{"S", i % 2 ? "red" : "blue"}}}}}});
  }
  Call("DeleteItem", {{"TableName", "things"}, {"Key", {{"id", {{"S", "i1"}}}}}});
  Reopen();
  json described = Call("DescribeTable", {{"TableName", "things"}});
  EXPECT_EQ(described["Table"]["ItemCount"], 9);
  EXPECT_EQ(described["Table"]["GlobalSecondaryIndexes"][0]["ItemCount"], 9);
  json red = Call("Query", {{"TableName", "things"},
                            {"IndexName", "by_colour"},
                            {"KeyConditionExpression", "colour = :c"},
                            {"ExpressionAttributeValues", {{":c", {{"S", "red"}}}}}});
  EXPECT_EQ(red["Count"], 4);
  json item = Call("GetItem", {{"TableName", "things"}, {"Key", {{"id", {{"S", "i2"}}}}}});
  EXPECT_EQ(item["Item"]["colour"]["S"], "blue");
}

TEST_F(TableServiceTest, MalformedRequestsAnswerErrorsInDynamoShape) {
  HttpResponse response = service_->Execute("PutItem", "{not json");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(json::parse(response.body)["__type"],
            "com.amazonaws.dynamodb.v20120810#SerializationException");
  json unknown = Call("Frobnicate", json::object(), 400);
  EXPECT_EQ(unknown["__type"], "com.amazonaws.dynamodb.v20120810#UnknownOperationException");
  json missing = Call("GetItem", {{"TableName", "nope"}, {"Key", {{"id", {{"S", "x"}}}}}}, 400);
  EXPECT_EQ(missing["__type"], "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException");
  EXPECT_EQ(missing["message"], "Requested resource not found");
  CreateTable();
  json wrong = Call("PutItem", {{"TableName", "things"}, {"Item", {{"id", {{"S", 5}}}}}}, 400);
  EXPECT_EQ(wrong["__type"], "com.amazonaws.dynamodb.v20120810#SerializationException");
  json exists =
      Call("CreateTable", json::parse(R"({"TableName":"things","BillingMode":"PAY_PER_REQUEST",
                       "AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],
                       "KeySchema":[{"AttributeName":"id","KeyType":"HASH"}]})"),
           400);
  EXPECT_EQ(exists["message"], "Table already exists: things");
}

}  // namespace
}  // namespace haneul::table
