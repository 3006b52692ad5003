// Unit tests for ImportTable's parsers (DynamoDB JSON lines, CSV records, gzip) and for export /
// import through TableService::Execute against an in-memory object store (no loop: jobs run
// inline) with descriptions that survive a reopen.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "haneul/table/table_service.h"
#include "import_parsers.h"

namespace haneul::table {
namespace {

TEST(DynamoDbJsonLine, ParsesAnItemLine) {
  json item;
  std::string error;
  ASSERT_TRUE(ParseDynamoDbJsonLine(R"({"Item":{"pk":{"S":"a"},"n":{"N":"1.5"},
      "m":{"M":{"x":{"L":[{"NULL":true}]}}}}})",
                                    &item, &error))
      << error;
  EXPECT_EQ(item["pk"], json({{"S", "a"}}));
  EXPECT_EQ(item["n"], json({{"N", "1.5"}}));
}

TEST(DynamoDbJsonLine, RefusesMalformedLinesWithAReason) {
  const char* bad[] = {"not json",
                       "[1,2]",
                       R"({"Items":{}})",
                       R"({"Item":[]})",
                       R"({"Item":{}})",
                       R"({"Item":{"a":"plain"}})",
                       R"({"Item":{"a":{"X":"1"}}})",
                       R"({"Item":{"a":{"S":"1","N":"2"}}})",
                       R"({"Item":{"":{"S":"1"}}})",
                       "{\"Item\":{\"a\":{\"S\":\"x\"}}"};
  for (const char* line : bad) {
    json item;
    std::string error;
    EXPECT_FALSE(ParseDynamoDbJsonLine(line, &item, &error)) << line;
    EXPECT_FALSE(error.empty()) << line;
  }
}

std::vector<std::vector<std::string>> ReadAll(std::string_view text, char delimiter,
                                              int* malformed = nullptr) {
  CsvReader reader(text, delimiter);
  std::vector<std::vector<std::string>> out;
  std::vector<std::string> fields;
  std::string error;
  while (true) {
    auto row = reader.Next(&fields, &error);
    if (row == CsvReader::Row::kEnd) break;
    if (row == CsvReader::Row::kMalformed) {
      if (malformed) ++*malformed;
      continue;
    }
    out.push_back(fields);
  }
  return out;
}

TEST(CsvReader, ReadsQuotedFieldsDelimitersAndLineBreaks) {
  auto rows = ReadAll("a,b,c\n1,\"x, y\",\"say \"\"hi\"\"\"\n2,\"multi\nline\",\r\n\n3,,z", ',');
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"1", "x, y", "say \"hi\""}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"2", "multi\nline", ""}));
  EXPECT_EQ(rows[3], (std::vector<std::string>{"3", "", "z"}));
}

TEST(CsvReader, OtherDelimiters) {
  EXPECT_EQ(ReadAll("a|b\n1|2\n", '|')[1], (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(ReadAll("a\tb c\n", '\t')[0], (std::vector<std::string>{"a", "b c"}));
}

TEST(CsvReader, MalformedRecordsAreSkippedAndReadingGoesOn) {
  int malformed = 0;
  auto rows = ReadAll("a,b\n\"x\"y,1\nok,2\nbad\"quote,3\nfine,4\n\"open,5", ',', &malformed);
  EXPECT_EQ(malformed, 3);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1], (std::vector<std::string>{"ok", "2"}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"fine", "4"}));
}

TEST(CsvReader, ReportsTheLineARecordStartsOn) {
  CsvReader reader("a\n\"two\nlines\"\nthird\n", ',');
  std::vector<std::string> fields;
  std::string error;
  ASSERT_EQ(reader.Next(&fields, &error), CsvReader::Row::kRecord);
  ASSERT_EQ(reader.Next(&fields, &error), CsvReader::Row::kRecord);
  EXPECT_EQ(reader.line(), 2u);
  ASSERT_EQ(reader.Next(&fields, &error), CsvReader::Row::kRecord);
  EXPECT_EQ(reader.line(), 4u);
  EXPECT_EQ(reader.Next(&fields, &error), CsvReader::Row::kEnd);
}

TEST(CsvRecordToItem, TypesKeysFromAttributeDefinitionsAndTheRestAsStrings) {
  std::map<std::string, std::string> types = {{"id", "S"}, {"n", "N"}};
  json item;
  std::string error;
  ASSERT_TRUE(CsvRecordToItem({"id", "n", "other"}, {"a", "12", "34"}, types, &item, &error));
  EXPECT_EQ(item, json::parse(R"({"id":{"S":"a"},"n":{"N":"12"},"other":{"S":"34"}})"));
  EXPECT_FALSE(CsvRecordToItem({"id", "n"}, {"a"}, types, &item, &error));
  EXPECT_FALSE(CsvRecordToItem({"id", "n"}, {"", "1"}, types, &item, &error));
}

TEST(Gzip, RoundTripsAndRefusesGarbageAndBombs) {
  std::string text(100000, 'x');
  std::string packed = GzipCompress(text);
  ASSERT_LT(packed.size(), text.size());
  std::string out, error;
  ASSERT_TRUE(GzipDecompress(packed, 1 << 20, &out, &error)) << error;
  EXPECT_EQ(out, text);
  // Concatenated members read in sequence, as gzip(1) does.
  ASSERT_TRUE(GzipDecompress(packed + GzipCompress("tail"), 1 << 20, &out, &error));
  EXPECT_EQ(out, text + "tail");
  EXPECT_FALSE(GzipDecompress("not gzip at all", 1 << 20, &out, &error));
  EXPECT_FALSE(GzipDecompress(packed.substr(0, packed.size() / 2), 1 << 20, &out, &error));
  EXPECT_FALSE(GzipDecompress(packed, 1000, &out, &error));
}

// ---- through the service, with an in-memory object store -------------------------------------

class ExportImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = (std::filesystem::temp_directory_path() /
                  ("haneul-export-test-" + std::to_string(getpid()) + "-" +
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
    options.objects.put = [this](const std::string& bucket, const std::string& key,
                                 std::string body) -> Result<std::string> {
      if (bucket != "bucket") return Status::NotFound("NoSuchBucket: no bucket " + bucket);
      objects_[key] = std::move(body);
      return std::string("0123456789abcdef0123456789abcdef");
    };
    options.objects.get = [this](const std::string&,
                                 const std::string& key) -> Result<std::string> {
      auto it = objects_.find(key);
      if (it == objects_.end()) return Status::NotFound("NoSuchKey: " + key);
      return it->second;
    };
    options.objects.list =
        [this](const std::string& bucket,
               const std::string& prefix) -> Result<std::vector<TableObjectStore::Listed>> {
      if (bucket != "bucket") return Status::NotFound("NoSuchBucket: no bucket " + bucket);
      std::vector<TableObjectStore::Listed> out;
      for (const auto& [key, body] : objects_) {
        if (key.starts_with(prefix)) out.push_back({key, static_cast<int64_t>(body.size())});
      }
      return out;
    };
    auto opened = TableService::Open(directory_, options);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    service_ = std::move(*opened);
  }
  json Call(const std::string& operation, const json& body, int want_status = 200) {
    HttpResponse response = service_->Execute(operation, body.dump());
    EXPECT_EQ(response.status, want_status) << operation << ": " << response.body;
    return json::parse(response.body);
  }
  void CreateTable(const std::string& name) {
    Call("CreateTable",
         {{"TableName", name},
          {"BillingMode", "PAY_PER_REQUEST"},
          {"AttributeDefinitions", {{{"AttributeName", "pk"}, {"AttributeType", "S"}}}},
          {"KeySchema", {{{"AttributeName", "pk"}, {"KeyType", "HASH"}}}}});
  }

  std::string directory_;
  std::map<std::string, std::string> objects_;
  std::unique_ptr<TableService> service_;
};

TEST_F(ExportImportTest, ExportThenImportRoundTrips) {
  CreateTable("src");
  Call("UpdateContinuousBackups",
       {{"TableName", "src"},
        {"PointInTimeRecoverySpecification", {{"PointInTimeRecoveryEnabled", true}}}});
  for (int i = 0; i < 30; ++i) {
    Call("PutItem",
         {{"TableName", "src"},
          {"Item", {{"pk", {{"S", "k" + std::to_string(i)}}}, {"n", {{"N", std::to_string(i)}}}}}});
  }
  json arn = Call("DescribeTable", {{"TableName", "src"}})["Table"]["TableArn"];
  json started = Call("ExportTableToPointInTime",
                      {{"TableArn", arn}, {"S3Bucket", "bucket"}, {"S3Prefix", "p"}});
  std::string export_arn = started["ExportDescription"]["ExportArn"];
  json done = Call("DescribeExport", {{"ExportArn", export_arn}})["ExportDescription"];
  ASSERT_EQ(done["ExportStatus"], "COMPLETED") << done.dump();
  EXPECT_EQ(done["ItemCount"], 30);
  std::string root = "p/AWSDynamoDB/" + export_arn.substr(export_arn.rfind('/') + 1) + "/";
  EXPECT_EQ(done["ExportManifest"], root + "manifest-summary.json");
  ASSERT_TRUE(objects_.count(root + "_started"));
  json summary = json::parse(objects_[root + "manifest-summary.json"]);
  EXPECT_EQ(summary["itemCount"], 30);
  EXPECT_EQ(summary["manifestFilesS3Key"], root + "manifest-files.json");

  json imported =
      Call("ImportTable",
           {{"S3BucketSource", {{"S3Bucket", "bucket"}, {"S3KeyPrefix", root + "data/"}}},
            {"InputFormat", "DYNAMODB_JSON"},
            {"InputCompressionType", "GZIP"},
            {"TableCreationParameters",
             {{"TableName", "dst"},
              {"AttributeDefinitions", {{{"AttributeName", "pk"}, {"AttributeType", "S"}}}},
              {"KeySchema", {{{"AttributeName", "pk"}, {"KeyType", "HASH"}}}}}}});
  std::string import_arn = imported["ImportTableDescription"]["ImportArn"];
  json finished = Call("DescribeImport", {{"ImportArn", import_arn}})["ImportTableDescription"];
  ASSERT_EQ(finished["ImportStatus"], "COMPLETED") << finished.dump();
  EXPECT_EQ(finished["ImportedItemCount"], 30);
  EXPECT_EQ(Call("Scan", {{"TableName", "dst"}, {"Select", "COUNT"}})["Count"], 30);
  EXPECT_EQ(Call("GetItem", {{"TableName", "dst"}, {"Key", {{"pk", {{"S", "k7"}}}}}})["Item"]["n"],
            json({{"N", "7"}}));

  // Descriptions survive a reopen.
  Reopen();
  EXPECT_EQ(
      Call("DescribeExport", {{"ExportArn", export_arn}})["ExportDescription"]["ExportStatus"],
      "COMPLETED");
  EXPECT_EQ(Call("ListImports", json::object())["ImportSummaryList"].size(), 1u);
}

TEST_F(ExportImportTest, ImportRefusesAnExistingTableAndFailsOnAMissingBucket) {
  CreateTable("taken");
  json params = {{"TableName", "taken"},
                 {"AttributeDefinitions", {{{"AttributeName", "pk"}, {"AttributeType", "S"}}}},
                 {"KeySchema", {{{"AttributeName", "pk"}, {"KeyType", "HASH"}}}}};
  json refused = Call("ImportTable",
                      {{"S3BucketSource", {{"S3Bucket", "bucket"}}},
                       {"InputFormat", "CSV"},
                       {"TableCreationParameters", params}},
                      400);
  EXPECT_EQ(refused["__type"], "com.amazonaws.dynamodb.v20120810#ResourceInUseException");
  params["TableName"] = "fresh";
  json started = Call("ImportTable", {{"S3BucketSource", {{"S3Bucket", "elsewhere"}}},
                                      {"InputFormat", "CSV"},
                                      {"TableCreationParameters", params}});
  json done = Call(
      "DescribeImport",
      {{"ImportArn", started["ImportTableDescription"]["ImportArn"]}})["ImportTableDescription"];
  EXPECT_EQ(done["ImportStatus"], "FAILED");
  EXPECT_EQ(done["FailureCode"], "NoSuchBucket");
  Call("DescribeTable", {{"TableName", "fresh"}}, 400);
}

}  // namespace
}  // namespace haneul::table
