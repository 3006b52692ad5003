// Unit tests for table streams, TTL, point-in-time recovery and backups through
// TableService::Execute with a fake clock: record shapes per view type, sequence order, no
// records for writes that changed nothing, retention, iterator expiry, the TTL sweeper, PITR
// rebuilds and backup restores.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "haneul/table/table_service.h"
#include "streams.h"

namespace haneul::table {
namespace {

using nlohmann::json;

constexpr char kStreams[] = "DynamoDBStreams_20120810.";

TEST(StreamRecords, ImagesFollowTheViewType) {
  KeySchema key{"pk", "sk"};
  json old_item = {{"pk", {{"S", "a"}}}, {"sk", {{"N", "1"}}}, {"v", {{"S", "old"}}}};
  json new_item = {{"pk", {{"S", "a"}}}, {"sk", {{"N", "1"}}}, {"v", {{"S", "new"}}}};
  struct Case {
    const char* view;
    bool has_new, has_old;
  } cases[] = {{"KEYS_ONLY", false, false},
               {"NEW_IMAGE", true, false},
               {"OLD_IMAGE", false, true},
               {"NEW_AND_OLD_IMAGES", true, true}};
  for (const auto& c : cases) {
    auto built = BuildChangeRecord(key, c.view, "us-east-1", old_item, new_item,
                                   FormatSequence(7), 1700000000123, false);
    json record = json::parse(built.json);
    EXPECT_EQ(record["eventName"], "MODIFY") << c.view;
    EXPECT_EQ(record["eventVersion"], "1.1");
    EXPECT_EQ(record["eventSource"], "aws:dynamodb");
    EXPECT_EQ(record["awsRegion"], "us-east-1");
    EXPECT_EQ(record["eventID"].get<std::string>().size(), 32u);
    const json& dynamodb = record["dynamodb"];
    EXPECT_EQ(dynamodb["ApproximateCreationDateTime"], 1700000000);
    EXPECT_EQ(dynamodb["Keys"], json({{"pk", {{"S", "a"}}}, {"sk", {{"N", "1"}}}}));
    EXPECT_EQ(dynamodb.contains("NewImage"), c.has_new) << c.view;
    EXPECT_EQ(dynamodb.contains("OldImage"), c.has_old) << c.view;
    EXPECT_EQ(dynamodb["SequenceNumber"], FormatSequence(7));
    EXPECT_EQ(dynamodb["StreamViewType"], c.view);
    EXPECT_GT(dynamodb["SizeBytes"].get<int64_t>(), 0);
    EXPECT_EQ(dynamodb["SizeBytes"], built.size_bytes);
    EXPECT_FALSE(record.contains("userIdentity"));
  }
  auto insert = json::parse(BuildChangeRecord(key, "NEW_AND_OLD_IMAGES", "r", std::nullopt,
                                              new_item, FormatSequence(1), 0, false)
                                .json);
  EXPECT_EQ(insert["eventName"], "INSERT");
  EXPECT_FALSE(insert["dynamodb"].contains("OldImage"));
  auto ttl = json::parse(BuildChangeRecord(key, "KEYS_ONLY", "r", old_item, std::nullopt,
                                           FormatSequence(2), 0, true)
                             .json);
  EXPECT_EQ(ttl["eventName"], "REMOVE");
  EXPECT_EQ(ttl["userIdentity"],
            json({{"type", "Service"}, {"principalId", "dynamodb.amazonaws.com"}}));
  EXPECT_EQ(WireRecord(ttl)["userIdentity"],
            json({{"Type", "Service"}, {"PrincipalId", "dynamodb.amazonaws.com"}}));
}

TEST(StreamRecords, SequenceNumbersAre21DigitsInNumericOrder) {
  EXPECT_EQ(FormatSequence(1), "100000000000000000001");
  EXPECT_EQ(FormatSequence(1).size(), 21u);
  EXPECT_LT(FormatSequence(9), FormatSequence(10));
  EXPECT_LT(FormatSequence(99999), FormatSequence(100000));
  EXPECT_EQ(ParseSequence(FormatSequence(123456789)), 123456789u);
  EXPECT_FALSE(ParseSequence("12x"));
  EXPECT_FALSE(ParseSequence(""));
  EXPECT_FALSE(ParseSequence("9999999999999999999999"));
  EXPECT_EQ(StreamLabel(0), "1970-01-01T00:00:00.000");
  ShardIterator iterator{"arn:aws:dynamodb:us-east-1:0:table/t/stream/x", "shardId-1", 42, 99};
  auto decoded = DecodeIterator(EncodeIterator(iterator));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->stream_arn, iterator.stream_arn);
  EXPECT_EQ(decoded->shard_id, "shardId-1");
  EXPECT_EQ(decoded->next, 42u);
  EXPECT_EQ(decoded->issued_ms, 99);
  EXPECT_FALSE(DecodeIterator("garbage"));
  EXPECT_FALSE(DecodeIterator("a|1|!!!"));
}

class TableStreamsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = (std::filesystem::temp_directory_path() /
                  ("haneul-streams-test-" + std::to_string(getpid()) + "-" +
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
    options.now_ms = [this] { return now_; };
    auto opened = TableService::Open(directory_, options);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    service_ = std::move(*opened);
  }
  json Call(const std::string& operation, const json& body, int want_status = 200) {
    HttpResponse response = service_->Execute(operation, body.dump());
    EXPECT_EQ(response.status, want_status) << operation << ": " << response.body;
    return json::parse(response.body);
  }
  std::string ErrorType(const std::string& operation, const json& body) {
    json error = Call(operation, body, 400);
    std::string type = error.value("__type", "");
    return type.substr(type.find('#') + 1);
  }
  std::string CreateTable(const std::string& name, const std::string& view) {
    json request = {{"TableName", name},
                    {"BillingMode", "PAY_PER_REQUEST"},
                    {"AttributeDefinitions", {{{"AttributeName", "pk"}, {"AttributeType", "S"}}}},
                    {"KeySchema", {{{"AttributeName", "pk"}, {"KeyType", "HASH"}}}}};
    if (!view.empty()) {
      request["StreamSpecification"] = {{"StreamEnabled", true}, {"StreamViewType", view}};
    }
    json created = Call("CreateTable", request);
    return created["TableDescription"].value("LatestStreamArn", "");
  }
  void Put(const std::string& table, const std::string& pk, const std::string& v) {
    Call("PutItem", {{"TableName", table}, {"Item", {{"pk", {{"S", pk}}}, {"v", {{"S", v}}}}}});
  }
  std::vector<json> Records(const std::string& arn, const std::string& after = "") {
    auto shards = service_->StreamShards(arn);
    EXPECT_TRUE(shards.ok());
    auto records = service_->ReadStream(arn, (*shards)[0].shard_id, after, 1000);
    EXPECT_TRUE(records.ok()) << records.status().message();
    std::vector<json> out;
    for (const auto& record : *records) out.push_back(json::parse(record.json));
    return out;
  }

  int64_t now_ = 1'790'000'000'000;
  std::string directory_;
  std::unique_ptr<TableService> service_;
};

TEST_F(TableStreamsTest, EveryChangeOnceInOrderAndNothingForNoOps) {
  std::string arn = CreateTable("things", "NEW_AND_OLD_IMAGES");
  ASSERT_NE(arn.find(":table/things/stream/"), std::string::npos) << arn;
  Put("things", "a", "1");
  Put("things", "a", "1");  // same item again: no record
  Call("UpdateItem", {{"TableName", "things"},
                      {"Key", {{"pk", {{"S", "a"}}}}},
                      {"UpdateExpression", "SET v = :v"},
                      {"ExpressionAttributeValues", {{":v", {{"S", "2"}}}}}});
  ErrorType("PutItem", {{"TableName", "things"},
                        {"Item", {{"pk", {{"S", "a"}}}}},
                        {"ConditionExpression", "attribute_not_exists(pk)"}});
  Call("DeleteItem", {{"TableName", "things"}, {"Key", {{"pk", {{"S", "missing"}}}}}});
  Call("BatchWriteItem",
       {{"RequestItems",
         {{"things",
           {{{"PutRequest", {{"Item", {{"pk", {{"S", "b"}}}}}}}},
            {{"DeleteRequest", {{"Key", {{"pk", {{"S", "a"}}}}}}}}}}}}});
  Call("TransactWriteItems",
       {{"TransactItems", {{{"Put", {{"TableName", "things"}, {"Item", {{"pk", {{"S", "c"}}}}}}}}}}});
  auto records = Records(arn);
  std::vector<std::string> names;
  for (const auto& record : records) names.push_back(record["eventName"]);
  EXPECT_EQ(names, (std::vector<std::string>{"INSERT", "MODIFY", "INSERT", "REMOVE", "INSERT"}));
  for (size_t i = 1; i < records.size(); ++i) {
    EXPECT_LT(records[i - 1]["dynamodb"]["SequenceNumber"].get<std::string>(),
              records[i]["dynamodb"]["SequenceNumber"].get<std::string>());
  }
  EXPECT_EQ(records[1]["dynamodb"]["OldImage"]["v"]["S"], "1");
  EXPECT_EQ(records[1]["dynamodb"]["NewImage"]["v"]["S"], "2");
  EXPECT_EQ(records[3]["dynamodb"]["OldImage"]["v"]["S"], "2");
  auto latest = service_->LatestSequenceNumber(arn, service_->StreamShards(arn)->at(0).shard_id);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(*latest, records.back()["dynamodb"]["SequenceNumber"]);
  // Reading after the second record gives the rest.
  auto rest = Records(arn, records[1]["dynamodb"]["SequenceNumber"]);
  EXPECT_EQ(rest.size(), 3u);

  // The records and the counter survive a reopen; new records continue the sequence.
  Reopen();
  EXPECT_EQ(Records(arn).size(), 5u);
  Put("things", "d", "x");
  auto again = Records(arn);
  ASSERT_EQ(again.size(), 6u);
  EXPECT_GT(again[5]["dynamodb"]["SequenceNumber"].get<std::string>(),
            again[4]["dynamodb"]["SequenceNumber"].get<std::string>());
}

TEST_F(TableStreamsTest, StreamsApiIteratorsExpireAndRecordsAreTrimmed) {
  std::string arn = CreateTable("things", "KEYS_ONLY");
  Put("things", "a", "1");
  json described = Call(std::string(kStreams) + "DescribeStream", {{"StreamArn", arn}});
  const json& shard = described["StreamDescription"]["Shards"][0];
  std::string shard_id = shard["ShardId"];
  EXPECT_EQ(described["StreamDescription"]["StreamStatus"], "ENABLED");
  json iterator = Call(std::string(kStreams) + "GetShardIterator",
                       {{"StreamArn", arn}, {"ShardId", shard_id}, {"ShardIteratorType", "TRIM_HORIZON"}});
  json page = Call(std::string(kStreams) + "GetRecords", {{"ShardIterator", iterator["ShardIterator"]}});
  ASSERT_EQ(page["Records"].size(), 1u);
  EXPECT_FALSE(page["Records"][0]["dynamodb"].contains("NewImage"));
  std::string first_sequence = page["Records"][0]["dynamodb"]["SequenceNumber"];

  // An iterator older than 15 minutes has expired.
  now_ += 16 * 60 * 1000;
  EXPECT_EQ(ErrorType(std::string(kStreams) + "GetRecords",
                      {{"ShardIterator", page["NextShardIterator"]}}),
            "ExpiredIteratorException");

  // After 24 hours the record is trimmed.
  now_ += 24 * 3600 * 1000LL;
  Put("things", "b", "1");  // runs the maintenance that is due, then writes
  EXPECT_EQ(ErrorType(std::string(kStreams) + "GetShardIterator",
                      {{"StreamArn", arn},
                       {"ShardId", shard_id},
                       {"ShardIteratorType", "AT_SEQUENCE_NUMBER"},
                       {"SequenceNumber", first_sequence}}),
            "TrimmedDataAccessException");
  auto lost = service_->ReadStream(arn, shard_id, FormatSequence(0), 10);
  EXPECT_EQ(lost.status().code(), Status::Code::kUnavailable);
  auto records = Records(arn);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["dynamodb"]["Keys"]["pk"]["S"], "b");

  // Disabling closes the shard; reading it to its end gives no next iterator.
  Call("UpdateTable", {{"TableName", "things"}, {"StreamSpecification", {{"StreamEnabled", false}}}});
  described = Call(std::string(kStreams) + "DescribeStream", {{"StreamArn", arn}});
  EXPECT_EQ(described["StreamDescription"]["StreamStatus"], "DISABLED");
  EXPECT_TRUE(described["StreamDescription"]["Shards"][0]["SequenceNumberRange"].contains(
      "EndingSequenceNumber"));
  iterator = Call(std::string(kStreams) + "GetShardIterator",
                  {{"StreamArn", arn}, {"ShardId", shard_id}, {"ShardIteratorType", "TRIM_HORIZON"}});
  page = Call(std::string(kStreams) + "GetRecords", {{"ShardIterator", iterator["ShardIterator"]}});
  EXPECT_EQ(page["Records"].size(), 1u);
  EXPECT_FALSE(page.contains("NextShardIterator"));
  Put("things", "c", "1");
  EXPECT_EQ(Records(arn).size(), 1u);
}

TEST_F(TableStreamsTest, TtlSweeperDeletesExpiredItemsWithServiceIdentity) {
  std::string arn = CreateTable("things", "NEW_AND_OLD_IMAGES");
  EXPECT_EQ(Call("DescribeTimeToLive", {{"TableName", "things"}})["TimeToLiveDescription"]
                ["TimeToLiveStatus"],
            "DISABLED");
  Call("UpdateTimeToLive",
       {{"TableName", "things"},
        {"TimeToLiveSpecification", {{"Enabled", true}, {"AttributeName", "expires"}}}});
  EXPECT_EQ(ErrorType("UpdateTimeToLive",
                      {{"TableName", "things"},
                       {"TimeToLiveSpecification", {{"Enabled", true}, {"AttributeName", "x"}}}}),
            "ValidationException");
  int64_t now_seconds = now_ / 1000;
  auto put = [&](const std::string& pk, const json& expires) {
    Call("PutItem", {{"TableName", "things"}, {"Item", {{"pk", {{"S", pk}}}, {"expires", expires}}}});
  };
  put("soon", {{"N", std::to_string(now_seconds + 10)}});
  put("later", {{"N", std::to_string(now_seconds + 7200)}});
  put("text", {{"S", std::to_string(now_seconds - 10)}});  // not a number: never expires
  // Past its time but not yet swept (the last sweep ran at CreateTable): still readable.
  now_ += 20 * 1000;
  EXPECT_TRUE(Call("GetItem", {{"TableName", "things"}, {"Key", {{"pk", {{"S", "soon"}}}}}})
                  .contains("Item"));
  now_ += 15 * 1000;  // the next sweep is due
  EXPECT_FALSE(Call("GetItem", {{"TableName", "things"}, {"Key", {{"pk", {{"S", "soon"}}}}}})
                   .contains("Item"));
  EXPECT_TRUE(Call("GetItem", {{"TableName", "things"}, {"Key", {{"pk", {{"S", "later"}}}}}})
                  .contains("Item"));
  EXPECT_TRUE(Call("GetItem", {{"TableName", "things"}, {"Key", {{"pk", {{"S", "text"}}}}}})
                  .contains("Item"));
  auto records = Records(arn);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[3]["eventName"], "REMOVE");
  EXPECT_EQ(records[3]["userIdentity"]["principalId"], "dynamodb.amazonaws.com");
  EXPECT_EQ(records[3]["userIdentity"]["type"], "Service");
}

TEST_F(TableStreamsTest, PointInTimeRestoreRebuildsAnyMoment) {
  CreateTable("things", "");
  Put("things", "before", "0");  // before PITR: part of every restore
  Call("UpdateContinuousBackups",
       {{"TableName", "things"},
        {"PointInTimeRecoverySpecification", {{"PointInTimeRecoveryEnabled", true}}}});
  int64_t enabled = now_;
  now_ += 1000;
  Put("things", "a", "1");
  int64_t between = now_ + 500;
  now_ += 1000;
  Put("things", "b", "1");
  Put("things", "a", "2");
  Call("DeleteItem", {{"TableName", "things"}, {"Key", {{"pk", {{"S", "before"}}}}}});
  now_ += 1000;
  Call("RestoreTableToPointInTime", {{"SourceTableName", "things"},
                                     {"TargetTableName", "restored"},
                                     {"RestoreDateTime", between / 1000.0}});
  json scan = Call("Scan", {{"TableName", "restored"}});
  std::map<std::string, std::string> items;
  for (const auto& item : scan["Items"]) {
    items[item["pk"]["S"]] = item["v"]["S"];
  }
  EXPECT_EQ(items, (std::map<std::string, std::string>{{"before", "0"}, {"a", "1"}}));
  EXPECT_EQ(ErrorType("RestoreTableToPointInTime", {{"SourceTableName", "things"},
                                                    {"TargetTableName", "restored"},
                                                    {"UseLatestRestorableTime", true}}),
            "TableAlreadyExistsException");
  EXPECT_EQ(ErrorType("RestoreTableToPointInTime", {{"SourceTableName", "things"},
                                                    {"TargetTableName", "early"},
                                                    {"RestoreDateTime", (enabled - 5000) / 1000.0}}),
            "InvalidRestoreTimeException");
  Call("RestoreTableToPointInTime", {{"SourceTableName", "things"},
                                     {"TargetTableName", "latest"},
                                     {"UseLatestRestorableTime", true}});
  EXPECT_EQ(Call("Scan", {{"TableName", "latest"}})["Count"], 2);
}

TEST_F(TableStreamsTest, BackupsRestoreToANewTable) {
  CreateTable("things", "");
  Put("things", "a", "1");
  json backup = Call("CreateBackup", {{"TableName", "things"}, {"BackupName", "first"}});
  std::string arn = backup["BackupDetails"]["BackupArn"];
  Put("things", "b", "1");
  EXPECT_EQ(Call("ListBackups", json::object())["BackupSummaries"].size(), 1u);
  EXPECT_EQ(Call("DescribeBackup", {{"BackupArn", arn}})["BackupDescription"]["BackupDetails"]
                ["BackupStatus"],
            "AVAILABLE");
  Call("RestoreTableFromBackup", {{"BackupArn", arn}, {"TargetTableName", "copy"}});
  EXPECT_EQ(Call("Scan", {{"TableName", "copy"}})["Count"], 1);
  EXPECT_EQ(ErrorType("RestoreTableFromBackup", {{"BackupArn", arn}, {"TargetTableName", "copy"}}),
            "TableAlreadyExistsException");
  Call("DeleteBackup", {{"BackupArn", arn}});
  EXPECT_EQ(ErrorType("DescribeBackup", {{"BackupArn", arn}}), "BackupNotFoundException");
  EXPECT_EQ(Call("ListBackups", json::object())["BackupSummaries"].size(), 0u);
}


class RecordingResponder : public Responder {
 public:
  void Respond(HttpResponse response) override {
    responses.push_back(std::move(response));
  }
  bool responded() const override { return !responses.empty(); }
  std::vector<HttpResponse> responses;
};

TEST_F(TableStreamsTest, ListenersHearOfAcknowledgedWritesAndStreamsTargetsAreClaimed) {
  std::string arn = CreateTable("things", "NEW_IMAGE");
  std::vector<std::string> heard;
  service_->AddStreamListener([&](const std::string& stream) { heard.push_back(stream); });
  auto send = [&](const std::string& target, const json& body) {
    HttpRequest request;
    request.method = "POST";
    request.headers.Set("X-Amz-Target", target);
    request.body = body.dump();
    auto responder = std::make_shared<RecordingResponder>();
    EXPECT_TRUE(service_->Handle(request, responder));
    EXPECT_EQ(responder->responses.size(), 1u);
    return json::parse(responder->responses.at(0).body);
  };
  send("DynamoDB_20120810.PutItem", {{"TableName", "things"}, {"Item", {{"pk", {{"S", "a"}}}}}});
  EXPECT_EQ(heard, std::vector<std::string>{arn});
  send("DynamoDB_20120810.GetItem", {{"TableName", "things"}, {"Key", {{"pk", {{"S", "a"}}}}}});
  send("DynamoDB_20120810.PutItem", {{"TableName", "things"}, {"Item", {{"pk", {{"S", "a"}}}}}});
  EXPECT_EQ(heard.size(), 1u);  // neither a read nor a write that changed nothing
  json listed = send("DynamoDBStreams_20120810.ListStreams", json::object());
  EXPECT_EQ(listed["Streams"][0]["StreamArn"], arn);
  json unknown = send("DynamoDB_20120810.GetRecords", json::object());
  EXPECT_NE(unknown["__type"].get<std::string>().find("UnknownOperationException"),
            std::string::npos);
  HttpRequest other;
  other.headers.Set("X-Amz-Target", "Kinesis_20131202.ListStreams");
  EXPECT_FALSE(service_->Handle(other, std::make_shared<RecordingResponder>()));
}

TEST_F(TableStreamsTest, ReadCacheServesEventuallyConsistentReadsUntilAWrite) {
  CreateTable("things", "");
  Put("things", "a", "1");
  auto get = [&](bool consistent) {
    return Call("GetItem", {{"TableName", "things"},
                            {"Key", {{"pk", {{"S", "a"}}}}},
                            {"ConsistentRead", consistent}})["Item"]["v"]["S"]
        .get<std::string>();
  };
  get(false);
  EXPECT_EQ(service_->ReadCacheStatsOf("things")->misses, 0u);  // off until tagged
  Call("TagResource", {{"ResourceArn", "arn:aws:dynamodb:us-east-1:000000000000:table/things"},
                       {"Tags", {{{"Key", "haneul:read-cache"}, {"Value", "on"}}}}});
  EXPECT_EQ(get(false), "1");
  EXPECT_EQ(get(false), "1");
  EXPECT_EQ(get(true), "1");  // strongly consistent reads bypass the cache
  auto stats = *service_->ReadCacheStatsOf("things");
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.hits, 1u);
  Put("things", "a", "2");  // the table's own write drops the entry
  EXPECT_EQ(get(false), "2");
  json query = {{"TableName", "things"},
                {"KeyConditionExpression", "pk = :a"},
                {"ExpressionAttributeValues", {{":a", {{"S", "a"}}}}}};
  EXPECT_EQ(Call("Query", query)["Items"][0]["v"]["S"], "2");
  EXPECT_EQ(Call("Query", query)["Items"][0]["v"]["S"], "2");
  stats = *service_->ReadCacheStatsOf("things");
  EXPECT_EQ(stats.hits, 2u);
  Call("UpdateItem", {{"TableName", "things"},
                      {"Key", {{"pk", {{"S", "a"}}}}},
                      {"UpdateExpression", "SET v = :v"},
                      {"ExpressionAttributeValues", {{":v", {{"S", "3"}}}}}});
  EXPECT_EQ(Call("Query", query)["Items"][0]["v"]["S"], "3");
  EXPECT_EQ(Call("Scan", {{"TableName", "things"}})["Count"], 1);
  // Entries expire after the lifetime (5 minutes by default).
  get(false);
  stats = *service_->ReadCacheStatsOf("things");
  now_ += 6 * 60 * 1000;
  get(false);
  EXPECT_EQ(service_->ReadCacheStatsOf("things")->misses, stats.misses + 1);
  EXPECT_FALSE(service_->ReadCacheStatsOf("nothing").ok());
}
}  // namespace
}  // namespace haneul::table
