// ScheduleSource with a fake clock and a fake invoker: the events API through Handle, the
// scheduled-event shape, Input/InputPath, disabled rules, and missed firings delivered at most
// once after a restart.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cron.h"
#include "haneul/common/ids.h"
#include "haneul/common/kv_store.h"
#include "schedule_source.h"

namespace haneul::triggers {
namespace {

using Json = nlohmann::json;

class Capture final : public Responder {
 public:
  void Respond(HttpResponse response) override { answer = std::move(response); }
  bool responded() const override { return true; }
  HttpResponse answer;
};

class AsyncRecorder final : public FunctionInvoker {
 public:
  void Invoke(const std::string&, std::string, std::function<void(HttpResponse)>) override {}
  Status InvokeAsync(const std::string& function, std::string payload) override {
    sent.emplace_back(function, Json::parse(payload));
    return Status::Ok();
  }
  std::vector<std::pair<std::string, Json>> sent;
};

int64_t At(int year, unsigned month, unsigned day, int hour = 0, int minute = 0) {
  return (DaysFromCivil(year, month, day) * 1440 + hour * 60 + minute) * 60000;
}

class ScheduleSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() / ("haneul-schedule-" + NewUuid());
    auto store = KvStore::Open(directory_.string());
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
    Restart();
  }
  void TearDown() override {
    source_.reset();
    store_.reset();
    std::filesystem::remove_all(directory_);
  }
  void Restart() {
    source_.reset();
    ScheduleOptions options;
    options.clock = [this] { return now_; };
    options.recheck_ms = 100000;  // the tests call Tick themselves
    source_ = std::make_unique<ScheduleSource>(loop_, *store_, invoker_, options);
    ASSERT_TRUE(source_->Start().ok());
  }
  Json Call(const std::string& operation, const Json& body, int expected_status = 200) {
    HttpRequest request;
    request.method = "POST";
    request.path = "/";
    request.headers.Set("X-Amz-Target", "AWSEvents." + operation);
    request.body = body.dump();
    auto capture = std::make_shared<Capture>();
    EXPECT_TRUE(source_->Handle(request, capture));
    EXPECT_EQ(capture->answer.status, expected_status) << capture->answer.body;
    return Json::parse(capture->answer.body);
  }

  std::filesystem::path directory_;
  EventLoop loop_;
  std::unique_ptr<KvStore> store_;
  AsyncRecorder invoker_;
  std::unique_ptr<ScheduleSource> source_;
  int64_t now_ = At(2024, 1, 1, 11, 30);
};

const char kFunction[] = "arn:aws:lambda:us-east-1:000000000000:function:f";

TEST_F(ScheduleSourceTest, FiresTheScheduledEventShape) {
  Json put = Call("PutRule", {{"Name", "noon"}, {"ScheduleExpression", "cron(0 12 * * ? *)"}});
  EXPECT_EQ(put["RuleArn"], "arn:aws:events:us-east-1:000000000000:rule/noon");
  Call("PutTargets", {{"Rule", "noon"}, {"Targets", {{{"Id", "t1"}, {"Arn", kFunction}}}}});
  source_->Tick();
  EXPECT_TRUE(invoker_.sent.empty());
  now_ = At(2024, 1, 1, 12, 0) + 500;
  source_->Tick();
  ASSERT_EQ(invoker_.sent.size(), 1u);
  const Json& event = invoker_.sent[0].second;
  EXPECT_EQ(invoker_.sent[0].first, kFunction);
  EXPECT_EQ(event["version"], "0");
  EXPECT_EQ(event["detail-type"], "Scheduled Event");
  EXPECT_EQ(event["source"], "aws.events");
  EXPECT_EQ(event["account"], "000000000000");
  EXPECT_EQ(event["region"], "us-east-1");
  EXPECT_EQ(event["time"], "2024-01-01T12:00:00Z");
  EXPECT_EQ(event["resources"], Json::array({"arn:aws:events:us-east-1:000000000000:rule/noon"}));
  EXPECT_EQ(event["detail"], Json::object());
  EXPECT_EQ(event["id"].get<std::string>().size(), 36u);
  source_->Tick();  // the same firing is not delivered twice
  EXPECT_EQ(invoker_.sent.size(), 1u);
}

TEST_F(ScheduleSourceTest, MissedFiringsAreDeliveredOnceAfterARestart) {
  Call("PutRule", {{"Name", "r"}, {"ScheduleExpression", "rate(5 minutes)"}});
  Call("PutTargets", {{"Rule", "r"}, {"Targets", {{{"Id", "t"}, {"Arn", kFunction}}}}});
  now_ += 5 * 60000;
  source_->Tick();
  ASSERT_EQ(invoker_.sent.size(), 1u);
  EXPECT_EQ(invoker_.sent[0].second["time"], "2024-01-01T11:35:00Z");
  // Down for an hour: twelve firings missed, one delivered (the latest), on start.
  now_ += 60 * 60000 + 1000;
  Restart();
  ASSERT_EQ(invoker_.sent.size(), 2u);
  EXPECT_EQ(invoker_.sent[1].second["time"], "2024-01-01T12:35:00Z");
  Restart();
  EXPECT_EQ(invoker_.sent.size(), 2u);
}

TEST_F(ScheduleSourceTest, DisabledRulesDoNotFireAndReenablingStartsAfresh) {
  Call("PutRule", {{"Name", "r"}, {"ScheduleExpression", "rate(1 minute)"}, {"State", "DISABLED"}});
  Call("PutTargets", {{"Rule", "r"}, {"Targets", {{{"Id", "t"}, {"Arn", kFunction}}}}});
  now_ += 10 * 60000;
  source_->Tick();
  EXPECT_TRUE(invoker_.sent.empty());
  Call("EnableRule", {{"Name", "r"}});
  source_->Tick();
  EXPECT_TRUE(invoker_.sent.empty());
  now_ += 60000;
  source_->Tick();
  EXPECT_EQ(invoker_.sent.size(), 1u);
  EXPECT_EQ(Call("DescribeRule", {{"Name", "r"}})["State"], "ENABLED");
}

TEST_F(ScheduleSourceTest, InputAndInputPath) {
  Call("PutRule", {{"Name", "r"}, {"ScheduleExpression", "rate(1 minute)"}});
  Call("PutTargets", {{"Rule", "r"},
                      {"Targets", {{{"Id", "a"}, {"Arn", kFunction}, {"Input", R"({"k":1})"}},
                                   {{"Id", "b"}, {"Arn", kFunction}, {"InputPath", "$.time"}}}}});
  now_ += 60000;
  source_->Tick();
  ASSERT_EQ(invoker_.sent.size(), 2u);
  EXPECT_EQ(invoker_.sent[0].second, Json({{"k", 1}}));
  EXPECT_EQ(invoker_.sent[1].second, "2024-01-01T11:31:00Z");
}

TEST_F(ScheduleSourceTest, ErrorsInEventBridgeShape) {
  Json bad = Call("PutRule", {{"Name", "r"}, {"ScheduleExpression", "rate(1 minutes)"}}, 400);
  EXPECT_EQ(bad["__type"], "ValidationException");
  EXPECT_EQ(bad["message"], "Parameter ScheduleExpression is not valid.");
  Json missing = Call("DescribeRule", {{"Name", "nope"}}, 400);
  EXPECT_EQ(missing["__type"], "ResourceNotFoundException");
  EXPECT_EQ(missing["message"], "Rule nope does not exist on EventBus default.");
  Call("PutRule", {{"Name", "r"}, {"ScheduleExpression", "rate(1 minute)"}});
  Call("PutTargets", {{"Rule", "r"}, {"Targets", {{{"Id", "t"}, {"Arn", kFunction}}}}});
  Json busy = Call("DeleteRule", {{"Name", "r"}}, 400);
  EXPECT_EQ(busy["message"], "Rule can't be deleted since it has targets.");
  Call("RemoveTargets", {{"Rule", "r"}, {"Ids", {"t"}}});
  Call("DeleteRule", {{"Name", "r"}});
  EXPECT_TRUE(Call("ListRules", Json::object())["Rules"].empty());
  Json unknown = Call("PutTargets", {{"Rule", "r"}, {"Targets", {{{"Id", "t"}, {"Arn", kFunction}}}}}, 400);
  EXPECT_EQ(unknown["__type"], "ResourceNotFoundException");
}

}  // namespace
}  // namespace haneul::triggers
