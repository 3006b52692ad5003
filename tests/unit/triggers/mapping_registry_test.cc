// MappingRegistry (the event source mapping API) with a fake MappingSource: states, defaults,
// Lambda's errors, and mappings that survive a restart and are re-attached without their
// StartingPosition applying again.
#include <boost/asio/io_context.hpp>
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "haneul/common/ids.h"
#include "haneul/common/kv_store.h"
#include "mapping_registry.h"

namespace haneul::triggers {
namespace {

using Json = nlohmann::json;
constexpr char kStream[] = "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2024-01-01T00:00:00.000";

class FakeSource final : public MappingSource {
 public:
  std::string_view name() const override { return "fake"; }
  Status Start() override { return Status::Ok(); }
  void Stop() override {}
  bool Accepts(const std::string& arn) const override { return arn.find("/stream/") != std::string::npos; }
  std::optional<AwsError> Validate(const MappingConfig& config) override {
    if (config.event_source_arn != kStream) return AwsError::ResourceNotFound("Stream not found");
    return std::nullopt;
  }
  void Attach(const MappingConfig& config, bool created) override {
    attached[config.uuid] = {config, created};
  }
  void Detach(const std::string& uuid, bool forget) override {
    attached.erase(uuid);
    if (forget) forgotten.push_back(uuid);
  }
  std::string LastProcessingResult(const std::string&) const override { return "OK"; }
  std::map<std::string, std::pair<MappingConfig, bool>> attached;
  std::vector<std::string> forgotten;
};

class Capture final : public Responder {
 public:
  void Respond(HttpResponse response) override { answer = std::move(response); }
  bool responded() const override { return true; }
  HttpResponse answer;
};

class MappingRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() / ("haneul-esm-" + NewUuid());
    auto store = KvStore::Open(directory_.string());
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
    Restart();
  }
  void TearDown() override {
    registry_.reset();
    store_.reset();
    std::filesystem::remove_all(directory_);
  }
  void Restart() {
    registry_.reset();
    source_.attached.clear();
    source_.forgotten.clear();
    registry_ = std::make_unique<MappingRegistry>(
        loop_, *store_, "us-east-1", "000000000000",
        [](const std::string& name) { return name == "fn"; }, std::vector<MappingSource*>{&source_});
    ASSERT_TRUE(registry_->Start().ok());
  }
  HttpResponse Send(const std::string& method, const std::string& path, const Json& body = nullptr) {
    HttpRequest request;
    request.method = method;
    request.target = path;
    auto question = path.find('?');
    request.path = path.substr(0, question);
    if (question != std::string::npos) request.query = path.substr(question + 1);
    if (!body.is_null()) request.body = body.dump();
    auto capture = std::make_shared<Capture>();
    EXPECT_TRUE(registry_->Handle(request, capture));
    return capture->answer;
  }
  void Settle() {
    loop_.context().restart();
    loop_.context().poll();
  }

  std::filesystem::path directory_;
  EventLoop loop_;
  std::unique_ptr<KvStore> store_;
  FakeSource source_;
  std::unique_ptr<MappingRegistry> registry_;
};

const char kBase[] = "/2015-03-31/event-source-mappings/";

TEST_F(MappingRegistryTest, CreateSettlesToEnabledAndSurvivesARestart) {
  HttpResponse created = Send("POST", kBase,
                              {{"FunctionName", "fn"}, {"EventSourceArn", kStream},
                               {"StartingPosition", "LATEST"}});
  ASSERT_EQ(created.status, 202) << created.body;
  Json body = Json::parse(created.body);
  std::string uuid = body["UUID"];
  EXPECT_EQ(body["State"], "Creating");
  EXPECT_EQ(body["BatchSize"], 100);
  EXPECT_EQ(body["FunctionArn"], "arn:aws:lambda:us-east-1:000000000000:function:fn");
  ASSERT_TRUE(source_.attached.count(uuid));
  EXPECT_TRUE(source_.attached[uuid].second);  // StartingPosition applies
  Settle();
  EXPECT_EQ(Json::parse(Send("GET", kBase + uuid).body)["State"], "Enabled");

  Restart();
  ASSERT_TRUE(source_.attached.count(uuid));
  EXPECT_FALSE(source_.attached[uuid].second);  // the checkpoint decides now
  EXPECT_EQ(source_.attached[uuid].first.starting_position, "LATEST");
  EXPECT_EQ(Json::parse(Send("GET", kBase + uuid).body)["State"], "Enabled");
}

TEST_F(MappingRegistryTest, DisabledMappingsStayDetachedAcrossARestart) {
  std::string uuid = Json::parse(Send("POST", kBase, {{"FunctionName", "fn"},
                                                      {"EventSourceArn", kStream},
                                                      {"StartingPosition", "TRIM_HORIZON"},
                                                      {"Enabled", false}})
                                     .body)["UUID"];
  EXPECT_FALSE(source_.attached.count(uuid));
  Settle();
  EXPECT_EQ(Json::parse(Send("GET", kBase + uuid).body)["State"], "Disabled");
  Restart();
  EXPECT_FALSE(source_.attached.count(uuid));
  HttpResponse enabled = Send("PUT", kBase + uuid, {{"Enabled", true}, {"BatchSize", 7}});
  EXPECT_EQ(Json::parse(enabled.body)["State"], "Enabling");
  EXPECT_EQ(source_.attached[uuid].first.batch_size, 7);
  HttpResponse deleted = Send("DELETE", kBase + uuid);
  EXPECT_EQ(deleted.status, 202);
  EXPECT_EQ(Json::parse(deleted.body)["State"], "Deleting");
  EXPECT_EQ(source_.forgotten, std::vector<std::string>{uuid});
  EXPECT_EQ(Send("GET", kBase + uuid).status, 404);
  Restart();
  EXPECT_EQ(Send("GET", kBase + uuid).status, 404);
}

TEST_F(MappingRegistryTest, ErrorsAsLambdaAnswersThem) {
  auto error = [&](const Json& body) {
    HttpResponse response = Send("POST", kBase, body);
    return std::to_string(response.status) + " " + std::string(response.headers.Get("x-amzn-ErrorType"));
  };
  Json ok = {{"FunctionName", "fn"}, {"EventSourceArn", kStream}, {"StartingPosition", "LATEST"}};
  Json missing_function = ok;
  missing_function["FunctionName"] = "nope";
  EXPECT_EQ(error(missing_function), "404 ResourceNotFoundException");
  Json missing_stream = ok;
  missing_stream["EventSourceArn"] = "arn:aws:dynamodb:us-east-1:000000000000:table/x/stream/1";
  EXPECT_EQ(error(missing_stream), "404 ResourceNotFoundException");
  Json no_position = ok;
  no_position.erase("StartingPosition");
  EXPECT_EQ(error(no_position), "400 InvalidParameterValueException");
  Json big = ok;
  big["BatchSize"] = 10001;
  EXPECT_EQ(error(big), "400 ValidationException");
  Json age = ok;
  age["MaximumRecordAgeInSeconds"] = 59;
  EXPECT_EQ(error(age), "400 InvalidParameterValueException");
  Json filter = ok;
  filter["FilterCriteria"] = {{"Filters", {{{"Pattern", "{\"a\":1}"}}}}};
  EXPECT_EQ(error(filter), "400 InvalidParameterValueException");
  Json types = ok;
  types["FunctionResponseTypes"] = {"Nope"};
  EXPECT_EQ(error(types), "400 ValidationException");
  Json sqs = ok;
  sqs["EventSourceArn"] = "arn:aws:sqs:us-east-1:000000000000:q";
  EXPECT_EQ(error(sqs), "400 InvalidParameterValueException");
  EXPECT_EQ(Send("POST", kBase, nullptr).status, 400);
  ASSERT_EQ(Send("POST", kBase, ok).status, 202);
  EXPECT_EQ(error(ok), "409 ResourceConflictException");
  EXPECT_EQ(Send("GET", std::string(kBase) + "?MaxItems=0").status, 400);
}

}  // namespace
}  // namespace haneul::triggers
