// The trigger manager (see trigger_service.h): builds the event sources from the explicit table
// below, adapts LambdaService / TableService / ObjectService to the sources' narrow interfaces,
// and routes the trigger APIs.
#include "haneul/triggers/trigger_service.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "event_source.h"
#include "haneul/common/ids.h"
#include "haneul/invoker/lambda_service.h"
#include "haneul/objects/object_service.h"
#include "haneul/table/table_service.h"
#include "cron.h"
#include "mapping_registry.h"
#include "s3_source.h"
#include "schedule_source.h"
#include "stream_source.h"

namespace haneul::triggers {

namespace {

class LambdaInvoker final : public FunctionInvoker {
 public:
  explicit LambdaInvoker(invoker::LambdaService& lambda) : lambda_(lambda) {}
  void Invoke(const std::string& function, std::string payload,
              std::function<void(HttpResponse)> done) override {
    lambda_.Invoke(function, std::move(payload), std::move(done));
  }
  Status InvokeAsync(const std::string& function, std::string payload) override {
    return lambda_.InvokeAsync(function, std::move(payload));
  }

 private:
  invoker::LambdaService& lambda_;
};

class TableStreams final : public StreamReader {
 public:
  explicit TableStreams(table::TableService* table) : table_(table) {}
  Result<std::vector<table::StreamShardInfo>> Shards(const std::string& arn) override {
    if (!table_) return Status::NotFound("no table service");
    return table_->StreamShards(arn);
  }
  Result<std::vector<table::StreamRecord>> Read(const std::string& arn, const std::string& shard,
                                                const std::string& after, size_t limit) override {
    if (!table_) return Status::NotFound("no table service");
    return table_->ReadStream(arn, shard, after, limit);
  }
  Result<std::string> Latest(const std::string& arn, const std::string& shard) override {
    if (!table_) return Status::NotFound("no table service");
    return table_->LatestSequenceNumber(arn, shard);
  }

 private:
  table::TableService* table_;
};

// Answers an in-process request synchronously (the object store answers PutObject at once).
class CaptureResponder final : public Responder {
 public:
  void Respond(HttpResponse response) override {
    if (!answer_) answer_ = std::move(response);
  }
  bool responded() const override { return answer_.has_value(); }
  std::optional<HttpResponse> answer_;
};

// "now" from --test-clock-file: epoch milliseconds, or an ISO-8601 UTC time.
int64_t ReadClockFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  std::string value = text.str();
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
  if (value.empty()) return NowUnixMillis();
  if (value.find('T') != std::string::npos) {
    int year, month, day, hour = 0, minute = 0, second = 0;
    if (std::sscanf(value.c_str(), "%d-%d-%dT%d:%d:%d", &year, &month, &day, &hour, &minute,
                    &second) >= 3) {
      return DaysFromCivil(year, month, day) * 86400000LL + hour * 3600000LL + minute * 60000LL +
             second * 1000LL;
    }
    return NowUnixMillis();
  }
  return std::atoll(value.c_str());
}

}  // namespace

struct TriggerService::Impl {
  EventLoop& loop;
  KvStore& store;
  invoker::LambdaService& lambda;
  table::TableService* table;
  objects::ObjectService* objects;
  TriggerOptions options;
  Clock clock;
  LambdaInvoker invoker{lambda};
  TableStreams streams{table};
  std::vector<std::unique_ptr<EventSource>> sources;
  DynamoDbStreamSource* stream_source = nullptr;
  ScheduleSource* schedule_source = nullptr;
  std::unique_ptr<MappingRegistry> mappings;
  std::shared_ptr<bool> alive;  // read by the table's stream listener

  Impl(EventLoop& loop, KvStore& store, invoker::LambdaService& lambda, table::TableService* table,
       objects::ObjectService* objects, TriggerOptions options)
      : loop(loop), store(store), lambda(lambda), table(table), objects(objects),
        options(std::move(options)) {}

  // Writes an on-failure record into a bucket through the object store's own PutObject.
  Status WriteToBucket(const std::string& arn, const std::string& key, const std::string& body) {
    if (!objects) return Status::Unavailable("no object store");
    std::string bucket = arn.substr(std::string_view("arn:aws:s3:::").size());
    HttpRequest request;
    request.method = "PUT";
    request.path = "/" + bucket + "/" + PercentEncode(key);
    request.target = request.path;
    request.headers.Set("Content-Type", "application/json");
    request.headers.Set("Content-Length", std::to_string(body.size()));
    request.body = body;
    request.remote_address = "127.0.0.1";
    auto responder = std::make_shared<CaptureResponder>();
    objects->Handle(request, responder);
    if (!responder->answer_) return Status::Internal("the object store did not answer");
    if (responder->answer_->status != 200) {
      return Status::Unavailable("PutObject answered " +
                                 std::to_string(responder->answer_->status) + ": " +
                                 responder->answer_->body);
    }
    return Status::Ok();
  }
};

Result<std::unique_ptr<TriggerService>> TriggerService::Create(EventLoop& loop, KvStore& store,
                                                               invoker::LambdaService& lambda,
                                                               table::TableService* table,
                                                               objects::ObjectService* objects,
                                                               TriggerOptions options) {
  auto impl = std::make_unique<Impl>(loop, store, lambda, table, objects, std::move(options));
  Impl* raw = impl.get();
  if (!raw->options.test_clock_file.empty()) {
    std::string path = raw->options.test_clock_file;
    raw->clock = [path] { return ReadClockFile(path); };
  } else {
    raw->clock = [] { return NowUnixMillis(); };
  }
  // The sources, by name: the one place that decides which exist (no static self-registration).
  using SourceFactory = std::function<std::unique_ptr<EventSource>(Impl&)>;
  const std::pair<std::string_view, SourceFactory> kSources[] = {
      {"dynamodb-stream",
       [](Impl& impl) -> std::unique_ptr<EventSource> {
         StreamSourceOptions stream_options;
         stream_options.poll_interval_ms = impl.options.stream_poll_interval_ms;
         if (impl.objects) {
           stream_options.destination_writer = [&impl](const std::string& arn,
                                                       const std::string& key,
                                                       const std::string& body) {
             return impl.WriteToBucket(arn, key, body);
           };
         }
         auto source = std::make_unique<DynamoDbStreamSource>(impl.loop, impl.store, impl.streams,
                                                              impl.invoker, stream_options);
         impl.stream_source = source.get();
         return source;
       }},
      {"schedule",
       [](Impl& impl) -> std::unique_ptr<EventSource> {
         ScheduleOptions schedule_options;
         schedule_options.region = impl.options.region;
         schedule_options.account = impl.options.account;
         schedule_options.clock = impl.clock;
         schedule_options.recheck_ms = impl.options.test_clock_file.empty() ? 0 : 100;
         auto source = std::make_unique<ScheduleSource>(impl.loop, impl.store, impl.invoker,
                                                        schedule_options);
         impl.schedule_source = source.get();
         return source;
       }},
      {"s3",
       [](Impl& impl) -> std::unique_ptr<EventSource> {
         if (!impl.objects) return nullptr;
         return std::make_unique<S3NotificationSource>(
             *impl.objects, impl.invoker,
             [&impl](const std::string& name) { return impl.lambda.HasFunction(name); });
       }},
  };
  for (const auto& [name, make] : kSources) {
    if (auto source = make(*raw)) raw->sources.push_back(std::move(source));
  }
  for (auto& source : raw->sources) {
    Status started = source->Start();
    if (!started.ok()) return started.WithContext(std::string(source->name()));
  }
  raw->mappings = std::make_unique<MappingRegistry>(
      loop, store, raw->options.region, raw->options.account,
      [&lambda](const std::string& name) { return lambda.HasFunction(name); },
      std::vector<MappingSource*>{raw->stream_source});
  HANEUL_RETURN_IF_ERROR(raw->mappings->Start());
  if (table) {
    DynamoDbStreamSource* stream_source = raw->stream_source;
    // Listeners live as long as the table service; the trigger service is destroyed first, so
    // the listener checks a flag it shares with the service.
    auto alive = std::make_shared<bool>(true);
    table->AddStreamListener([alive, stream_source](const std::string& arn) {
      if (*alive) stream_source->Wake(arn);
    });
    raw->alive = alive;
  }
  return std::unique_ptr<TriggerService>(new TriggerService(std::move(impl)));
}

TriggerService::TriggerService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TriggerService::~TriggerService() {
  if (impl_->alive) *impl_->alive = false;
  impl_->mappings.reset();
  for (auto& source : impl_->sources) source->Stop();
}

bool TriggerService::Handle(HttpRequest& request, const std::shared_ptr<Responder>& responder) {
  if (impl_->mappings->Handle(request, responder)) return true;
  if (impl_->schedule_source && impl_->schedule_source->Handle(request, responder)) return true;
  return false;
}

}  // namespace haneul::triggers
