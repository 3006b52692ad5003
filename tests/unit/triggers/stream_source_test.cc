// DynamoDbStreamSource against a fake stream and a fake invoker: batching, order, checkpoints,
// retries that block the shard, bisecting, ReportBatchItemFailures, filters, on-failure records,
// restarts and parallelization. A real EventLoop and KvStore (temp dir); no sleeps: the loop is
// run until the condition holds.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "haneul/common/ids.h"
#include "haneul/common/kv_store.h"
#include "stream_source.h"

namespace haneul::triggers {
namespace {

using Json = nlohmann::json;
constexpr char kArn[] = "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2024-01-01T00:00:00.000";

class FakeStream final : public StreamReader {
 public:
  Result<std::vector<table::StreamShardInfo>> Shards(const std::string& arn) override {
    if (arn != kArn) return Status::NotFound("no stream");
    std::vector<table::StreamShardInfo> shards;
    for (const auto& [id, records] : records_) shards.push_back({id, "", "1", ""});
    return shards;
  }
  Result<std::vector<table::StreamRecord>> Read(const std::string&, const std::string& shard,
                                                const std::string& after, size_t limit) override {
    std::vector<table::StreamRecord> out;
    for (const auto& record : records_[shard]) {
      if (!after.empty() && std::stoll(record.sequence_number) <= std::stoll(after)) continue;
      if (out.size() == limit) break;
      out.push_back(record);
    }
    return out;
  }
  Result<std::string> Latest(const std::string&, const std::string& shard) override {
    auto& records = records_[shard];
    return records.empty() ? std::string() : records.back().sequence_number;
  }
  // Appends a record for item `key` with sequence number `sequence`.
  void Add(int sequence, const std::string& key, const std::string& event = "INSERT",
           int64_t arrival_ms = 0, const std::string& shard = "shardId-1") {
    table::StreamRecord record;
    record.sequence_number = std::to_string(sequence);
    record.approximate_creation_ms = arrival_ms ? arrival_ms : NowUnixMillis();
    record.json = Json{{"eventID", std::to_string(sequence)},
                       {"eventName", event},
                       {"eventSource", "aws:dynamodb"},
                       {"dynamodb",
                        {{"Keys", {{"pk", {{"S", key}}}}},
                         {"SequenceNumber", record.sequence_number}}}}
                      .dump();
    records_[shard].push_back(record);
  }
  std::map<std::string, std::vector<table::StreamRecord>> records_;
};

struct Call {
  std::string function;
  std::vector<int> sequences;
  std::vector<std::string> keys;
  Json payload;
};

// Answers each invocation on the next loop turn with what `answer` returns.
class FakeInvoker final : public FunctionInvoker {
 public:
  explicit FakeInvoker(EventLoop& loop) : loop_(loop) {}
  void Invoke(const std::string& function, std::string payload,
              std::function<void(HttpResponse)> done) override {
    Call call;
    call.function = function;
    call.payload = Json::parse(payload);
    for (const Json& record : call.payload["Records"]) {
      call.sequences.push_back(std::stoi(record["dynamodb"]["SequenceNumber"].get<std::string>()));
      call.keys.push_back(record["dynamodb"]["Keys"]["pk"]["S"]);
    }
    calls.push_back(call);
    ++in_flight;
    max_in_flight = std::max(max_in_flight, in_flight);
    HttpResponse response = answer ? answer(call) : HttpResponse::Json(200, "null");
    loop_.Post([this, done = std::move(done), response]() mutable {
      --in_flight;
      done(std::move(response));
    });
  }
  Status InvokeAsync(const std::string&, std::string) override { return Status::Ok(); }

  static HttpResponse FunctionError() {
    HttpResponse response = HttpResponse::Json(200, R"({"errorMessage":"boom"})");
    response.headers.Set("X-Amz-Function-Error", "Unhandled");
    response.headers.Set("X-Amz-Executed-Version", "$LATEST");
    return response;
  }

  std::function<HttpResponse(const Call&)> answer;
  std::vector<Call> calls;
  int in_flight = 0;
  int max_in_flight = 0;

 private:
  EventLoop& loop_;
};

class StreamSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() / ("haneul-stream-" + NewUuid());
    auto store = KvStore::Open(directory_.string());
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
    StartSource();
  }
  void TearDown() override {
    source_.reset();
    store_.reset();
    std::filesystem::remove_all(directory_);
  }
  void StartSource() {
    StreamSourceOptions options;
    options.poll_interval_ms = 20;
    options.retry_base_delay_ms = 1;
    options.retry_max_delay_ms = 4;
    options.clock = [this] { return now_ms_ ? now_ms_ : NowUnixMillis(); };
    options.destination_writer = [this](const std::string& arn, const std::string& key,
                                        const std::string& body) {
      destinations_.push_back({arn, key, Json::parse(body)});
      return Status::Ok();
    };
    source_ = std::make_unique<DynamoDbStreamSource>(loop_, *store_, stream_, invoker_, options);
  }
  MappingConfig Config() {
    MappingConfig config;
    config.uuid = "11111111-2222-3333-4444-555555555555";
    config.function_arn = "arn:aws:lambda:us-east-1:000000000000:function:f";
    config.event_source_arn = kArn;
    config.starting_position = "TRIM_HORIZON";
    return config;
  }
  // Runs the loop until pred() holds (fails after 5 s of loop time).
  void RunUntil(const std::function<bool()>& pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!pred()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "condition not reached";
      loop_.context().restart();
      loop_.context().run_one_for(std::chrono::milliseconds(10));
    }
  }
  std::vector<int> Delivered() {
    std::vector<int> all;
    for (const Call& call : invoker_.calls) all.insert(all.end(), call.sequences.begin(), call.sequences.end());
    return all;
  }

  struct Written {
    std::string arn, key;
    Json body;
  };
  std::filesystem::path directory_;
  EventLoop loop_;
  std::unique_ptr<KvStore> store_;
  FakeStream stream_;
  FakeInvoker invoker_{loop_};
  std::unique_ptr<DynamoDbStreamSource> source_;
  std::vector<Written> destinations_;
  int64_t now_ms_ = 0;
};

TEST_F(StreamSourceTest, DeliversBatchesInOrderAndCheckpointsAfterSuccess) {
  for (int i = 1; i <= 5; ++i) stream_.Add(i, "k" + std::to_string(i));
  MappingConfig config = Config();
  config.batch_size = 2;
  source_->Attach(config, true);
  RunUntil([&] { return source_->CheckpointForTest(config.uuid, "shardId-1") == "5"; });
  ASSERT_EQ(invoker_.calls.size(), 3u);
  EXPECT_EQ(invoker_.calls[0].sequences, (std::vector<int>{1, 2}));
  EXPECT_EQ(invoker_.calls[1].sequences, (std::vector<int>{3, 4}));
  EXPECT_EQ(invoker_.calls[2].sequences, (std::vector<int>{5}));
  EXPECT_EQ(invoker_.calls[0].payload["Records"][0]["eventSourceARN"], kArn);
  EXPECT_EQ(invoker_.calls[0].function, config.function_arn);
  EXPECT_EQ(source_->LastProcessingResult(config.uuid), "OK");
}

TEST_F(StreamSourceTest, WakeDeliversNewRecords) {
  stream_.Add(1, "a");
  MappingConfig config = Config();
  source_->Attach(config, true);
  RunUntil([&] { return Delivered().size() == 1; });
  stream_.Add(2, "a");
  source_->Wake(kArn);
  RunUntil([&] { return Delivered().size() == 2; });
  EXPECT_EQ(Delivered(), (std::vector<int>{1, 2}));
}

TEST_F(StreamSourceTest, FailingBatchBlocksShardUntilRetriesRunOut) {
  for (int i = 1; i <= 3; ++i) stream_.Add(i, "k");
  MappingConfig config = Config();
  config.batch_size = 1;
  config.maximum_retry_attempts = 2;
  config.on_failure_destination = "arn:aws:s3:::failures";
  invoker_.answer = [](const Call& call) {
    return call.sequences[0] == 1 ? FakeInvoker::FunctionError() : HttpResponse::Json(200, "{}");
  };
  source_->Attach(config, true);
  RunUntil([&] { return source_->CheckpointForTest(config.uuid, "shardId-1") == "3"; });
  // 1 + 2 retries of the first batch, nothing else in between, then the rest in order.
  EXPECT_EQ(Delivered(), (std::vector<int>{1, 1, 1, 2, 3}));
  ASSERT_EQ(destinations_.size(), 1u);
  const Json& record = destinations_[0].body;
  EXPECT_EQ(destinations_[0].arn, "arn:aws:s3:::failures");
  EXPECT_TRUE(destinations_[0].key.starts_with("aws/lambda/" + config.uuid + "/shardId-1/"));
  EXPECT_EQ(record["requestContext"]["condition"], "RetryAttemptsExhausted");
  EXPECT_EQ(record["requestContext"]["approximateInvokeCount"], 3);
  EXPECT_EQ(record["requestContext"]["functionArn"], config.function_arn);
  EXPECT_EQ(record["responseContext"]["functionError"], "Unhandled");
  EXPECT_EQ(record["responseContext"]["statusCode"], 200);
  EXPECT_EQ(record["version"], "1.0");
  EXPECT_EQ(record["DDBStreamBatchInfo"]["startSequenceNumber"], "1");
  EXPECT_EQ(record["DDBStreamBatchInfo"]["endSequenceNumber"], "1");
  EXPECT_EQ(record["DDBStreamBatchInfo"]["batchSize"], 1);
  EXPECT_EQ(record["DDBStreamBatchInfo"]["streamArn"], kArn);
  EXPECT_EQ(record["DDBStreamBatchInfo"]["shardId"], "shardId-1");
  EXPECT_TRUE(record["DDBStreamBatchInfo"].contains("approximateArrivalOfFirstRecord"));
}

TEST_F(StreamSourceTest, ThrottlesAreRetriedLikeErrors) {
  stream_.Add(1, "k");
  int throttles = 2;
  invoker_.answer = [&](const Call&) {
    if (throttles-- > 0) return HttpResponse::Json(429, R"({"message":"Rate Exceeded."})");
    return HttpResponse::Json(200, "{}");
  };
  MappingConfig config = Config();
  source_->Attach(config, true);
  RunUntil([&] { return source_->CheckpointForTest(config.uuid, "shardId-1") == "1"; });
  EXPECT_EQ(Delivered(), (std::vector<int>{1, 1, 1}));
}

TEST_F(StreamSourceTest, BisectIsolatesThePoisonRecord) {
  for (int i = 1; i <= 4; ++i) stream_.Add(i, "k");
  MappingConfig config = Config();
  config.batch_size = 4;
  config.bisect_batch_on_function_error = true;
  config.maximum_retry_attempts = 0;
  config.on_failure_destination = "arn:aws:s3:::failures";
  invoker_.answer = [](const Call& call) {
    for (int sequence : call.sequences) {
      if (sequence == 3) return FakeInvoker::FunctionError();
    }
    return HttpResponse::Json(200, "{}");
  };
  source_->Attach(config, true);
  RunUntil([&] { return source_->CheckpointForTest(config.uuid, "shardId-1") == "4"; });
  // [1..4] fails -> [1,2] ok, [3,4] fails -> [3] fails (given up), [4] ok.
  ASSERT_EQ(invoker_.calls.size(), 5u);
  EXPECT_EQ(invoker_.calls[1].sequences, (std::vector<int>{1, 2}));
  EXPECT_EQ(invoker_.calls[3].sequences, (std::vector<int>{3}));
  EXPECT_EQ(invoker_.calls[4].sequences, (std::vector<int>{4}));
  ASSERT_EQ(destinations_.size(), 1u);
  EXPECT_EQ(destinations_[0].body["DDBStreamBatchInfo"]["startSequenceNumber"], "3");
  EXPECT_EQ(destinations_[0].body["DDBStreamBatchInfo"]["batchSize"], 1);
  // S3 destinations carry the batch itself.
  Json payload = Json::parse(destinations_[0].body["payload"].get<std::string>());
  EXPECT_EQ(payload["Records"][0]["dynamodb"]["SequenceNumber"], "3");
}

TEST_F(StreamSourceTest, ReportBatchItemFailuresResumesAtTheFirstFailedRecord) {
  for (int i = 1; i <= 4; ++i) stream_.Add(i, "k");
  MappingConfig config = Config();
  config.batch_size = 4;
  config.report_batch_item_failures = true;
  bool first = true;
  invoker_.answer = [&](const Call&) {
    if (first) {
      first = false;
      return HttpResponse::Json(
          200, R"({"batchItemFailures":[{"itemIdentifier":"4"},{"itemIdentifier":"3"}]})");
    }
    return HttpResponse::Json(200, R"({"batchItemFailures":[]})");
  };
  source_->Attach(config, true);
  RunUntil([&] { return source_->CheckpointForTest(config.uuid, "shardId-1") == "4"; });
  ASSERT_EQ(invoker_.calls.size(), 2u);
  EXPECT_EQ(invoker_.calls[1].sequences, (std::vector<int>{3, 4}));
}

TEST_F(StreamSourceTest, AnUnknownItemIdentifierFailsTheWholeBatch) {
  for (int i = 1; i <= 2; ++i) stream_.Add(i, "k");
  MappingConfig config = Config();
  config.report_batch_item_failures = true;
  int calls = 0;
  invoker_.answer = [&](const Call&) {
    return ++calls == 1 ? HttpResponse::Json(200, R"({"batchItemFailures":[{"itemIdentifier":"99"}]})")
                        : HttpResponse::Json(200, "{}");
  };
  source_->Attach(config, true);
  RunUntil([&] { return source_->CheckpointForTest(config.uuid, "shardId-1") == "2"; });
  ASSERT_EQ(invoker_.calls.size(), 2u);
  EXPECT_EQ(invoker_.calls[1].sequences, (std::vector<int>{1, 2}));
}

TEST_F(StreamSourceTest, FiltersDropRecordsAndTheCheckpointStillAdvances) {
  stream_.Add(1, "a", "INSERT");
  stream_.Add(2, "a", "MODIFY");
  stream_.Add(3, "b", "REMOVE");
  stream_.Add(4, "c", "INSERT");
  MappingConfig config = Config();
  config.filter_patterns = {R"({"eventName":["INSERT"]})", R"({"dynamodb":{"Keys":{"pk":{"S":["b"]}}}})"};
  source_->Attach(config, true);
  RunUntil([&] { return source_->CheckpointForTest(config.uuid, "shardId-1") == "4"; });
  EXPECT_EQ(Delivered(), (std::vector<int>{1, 3, 4}));
}

TEST_F(StreamSourceTest, NothingInvokedWhenEveryRecordIsFilteredOut) {
  stream_.Add(1, "a", "MODIFY");
  MappingConfig config = Config();
  config.filter_patterns = {R"({"eventName":["INSERT"]})"};
  source_->Attach(config, true);
  RunUntil([&] { return source_->CheckpointForTest(config.uuid, "shardId-1") == "1"; });
  EXPECT_TRUE(invoker_.calls.empty());
}

TEST_F(StreamSourceTest, CheckpointSurvivesARestart) {
  for (int i = 1; i <= 3; ++i) stream_.Add(i, "k");
  MappingConfig config = Config();
  source_->Attach(config, true);
  RunUntil([&] { return source_->CheckpointForTest(config.uuid, "shardId-1") == "3"; });
  source_.reset();
  stream_.Add(4, "k");
  stream_.Add(5, "k");
  invoker_.calls.clear();
  StartSource();
  source_->Attach(config, false);
  RunUntil([&] { return source_->CheckpointForTest(config.uuid, "shardId-1") == "5"; });
  EXPECT_EQ(Delivered(), (std::vector<int>{4, 5}));
}

TEST_F(StreamSourceTest, LatestStartsAfterWhatIsAlreadyThere) {
  stream_.Add(1, "k");
  stream_.Add(2, "k");
  MappingConfig config = Config();
  config.starting_position = "LATEST";
  source_->Attach(config, true);
  EXPECT_EQ(source_->CheckpointForTest(config.uuid, "shardId-1"), "2");
  stream_.Add(3, "k");
  source_->Wake(kArn);
  RunUntil([&] { return source_->CheckpointForTest(config.uuid, "shardId-1") == "3"; });
  EXPECT_EQ(Delivered(), (std::vector<int>{3}));
}

TEST_F(StreamSourceTest, DetachWithForgetDropsCheckpoints) {
  stream_.Add(1, "k");
  MappingConfig config = Config();
  source_->Attach(config, true);
  RunUntil([&] { return source_->CheckpointForTest(config.uuid, "shardId-1") == "1"; });
  source_->Detach(config.uuid, true);
  EXPECT_EQ(source_->CheckpointForTest(config.uuid, "shardId-1"), "");
}

TEST_F(StreamSourceTest, RecordsOlderThanMaximumRecordAgeAreGivenUpUninvoked) {
  now_ms_ = 1'700'000'000'000;
  stream_.Add(1, "k", "INSERT", now_ms_ - 120'000);
  stream_.Add(2, "k", "INSERT", now_ms_);
  MappingConfig config = Config();
  config.batch_size = 1;
  config.maximum_record_age_seconds = 60;
  config.on_failure_destination = "arn:aws:s3:::failures";
  source_->Attach(config, true);
  RunUntil([&] { return source_->CheckpointForTest(config.uuid, "shardId-1") == "2"; });
  EXPECT_EQ(Delivered(), (std::vector<int>{2}));
  ASSERT_EQ(destinations_.size(), 1u);
  EXPECT_EQ(destinations_[0].body["requestContext"]["condition"], "RecordAgeExceeded");
}

TEST_F(StreamSourceTest, ParallelizationKeepsPerKeyOrder) {
  int sequence = 0;
  for (int round = 0; round < 10; ++round) {
    for (int key = 0; key < 8; ++key) stream_.Add(++sequence, "key" + std::to_string(key));
  }
  MappingConfig config = Config();
  config.batch_size = 5;
  config.parallelization_factor = 4;
  source_->Attach(config, true);
  RunUntil([&] { return source_->CheckpointForTest(config.uuid, "shardId-1") == "80"; });
  std::map<std::string, int> last;
  size_t total = 0;
  for (const Call& call : invoker_.calls) {
    EXPECT_LE(call.sequences.size(), 5u);
    for (size_t i = 0; i < call.sequences.size(); ++i) {
      EXPECT_GT(call.sequences[i], last[call.keys[i]]) << call.keys[i];
      last[call.keys[i]] = call.sequences[i];
      ++total;
    }
  }
  EXPECT_EQ(total, 80u);
  EXPECT_GT(invoker_.max_in_flight, 1);
}

TEST_F(StreamSourceTest, ValidateRefusesMissingStreamsAndUnsupportedDestinations) {
  MappingConfig config = Config();
  EXPECT_FALSE(source_->Validate(config).has_value());
  config.event_source_arn = "arn:aws:dynamodb:us-east-1:000000000000:table/x/stream/2024";
  auto missing = source_->Validate(config);
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->type, "ResourceNotFoundException");
  config = Config();
  config.on_failure_destination = "arn:aws:sqs:us-east-1:000000000000:q";
  auto unsupported = source_->Validate(config);
  ASSERT_TRUE(unsupported.has_value());
  EXPECT_EQ(unsupported->type, "InvalidParameterValueException");
  EXPECT_TRUE(source_->Accepts(kArn));
  EXPECT_FALSE(source_->Accepts("arn:aws:sqs:us-east-1:000000000000:q"));
}

}  // namespace
}  // namespace haneul::triggers
