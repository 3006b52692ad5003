// The DynamoDB stream poller of event source mappings (see stream_source.h).
// A mapping holds its shards; a shard has at most one group of batches in flight (the group is
// what the checkpoint advances over). Callbacks hold the mapping weakly and check `stopped`, so
// a mapping detached or reconfigured mid-invocation drops the late answer (the group is then
// redelivered from the checkpoint: at-least-once).
#include "stream_source.h"

#include <deque>
#include <functional>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "event_pattern.h"
#include "haneul/common/ids.h"

namespace haneul::triggers {

namespace {

using Json = nlohmann::json;

constexpr std::string_view kCheckpointPrefix = "triggers/esm-ckpt/";  // UUID/SHARD -> sequence

std::string CheckpointKey(const std::string& uuid, const std::string& shard) {
  return std::string(kCheckpointPrefix) + uuid + "/" + shard;
}

struct Record {
  std::string sequence;
  int64_t arrival_ms = 0;
  Json json;
};

using Batch = std::vector<Record>;

std::string IsoSeconds(int64_t millis) {
  std::string text = IsoTimestamp(millis);  // 2024-01-02T03:04:05.678Z
  return text.substr(0, 19) + "Z";
}

}  // namespace

struct DynamoDbStreamSource::Mapping {
  struct Partition {
    std::deque<Batch> pending;
    int attempts = 0;          // failed attempts of the front batch
    bool in_flight = false;
  };
  struct Shard {
    table::StreamShardInfo info;
    std::string checkpoint;
    bool busy = false;         // a group is in flight
    bool finished = false;     // closed and read to its end
    bool pump_queued = false;
    int64_t window_start_ms = 0;
    std::string group_end;     // the checkpoint once the group is done
    std::vector<Partition> partitions;
    std::unique_ptr<Timer> timer;  // batching window and retry backoff
  };

  MappingConfig config;
  std::vector<EventPattern> filters;
  std::map<std::string, Shard> shards;
  std::unique_ptr<Timer> poll;
  bool stopped = false;
  bool created = false;
  std::string last_result = "No records processed";
};

DynamoDbStreamSource::DynamoDbStreamSource(EventLoop& loop, KvStore& store,
                                           StreamReader& streams, FunctionInvoker& invoker,
                                           StreamSourceOptions options)
    : loop_(loop), store_(store), streams_(streams), invoker_(invoker),
      options_(std::move(options)) {
  if (!options_.clock) options_.clock = [] { return NowUnixMillis(); };
}

DynamoDbStreamSource::~DynamoDbStreamSource() { Stop(); }

void DynamoDbStreamSource::Stop() {
  for (auto& [uuid, mapping] : mappings_) {
    mapping->stopped = true;
    mapping->poll.reset();
    for (auto& [id, shard] : mapping->shards) shard.timer.reset();
  }
  mappings_.clear();
}

bool DynamoDbStreamSource::Accepts(const std::string& arn) const {
  return arn.starts_with("arn:") && arn.find(":dynamodb:") != std::string::npos &&
         arn.find("/stream/") != std::string::npos;
}

std::optional<AwsError> DynamoDbStreamSource::Validate(const MappingConfig& config) {
  auto shards = streams_.Shards(config.event_source_arn);
  if (!shards.ok()) {
    return AwsError::ResourceNotFound("Stream not found: " + config.event_source_arn);
  }
  const std::string& destination = config.on_failure_destination;
  if (!destination.empty()) {
    bool s3 = destination.starts_with("arn:aws:s3:::") && destination.size() > 13 &&
              destination.find('/') == std::string::npos;
    if (!s3 || !options_.destination_writer) {
      return AwsError::InvalidParameterValue(
          "The provided destination config DestinationConfig.OnFailure.Destination " +
          destination +
          " is not supported: haneul delivers on-failure records of stream event source "
          "mappings to S3 buckets (arn:aws:s3:::BUCKET) only");
    }
  }
  return std::nullopt;
}

void DynamoDbStreamSource::Attach(const MappingConfig& config, bool created) {
  Detach(config.uuid, false);
  auto mapping = std::make_shared<Mapping>();
  mapping->config = config;
  mapping->created = created;
  for (const std::string& text : config.filter_patterns) {
    auto pattern = EventPattern::Parse(text);
    if (pattern.ok()) mapping->filters.push_back(std::move(*pattern));
  }
  mappings_[config.uuid] = mapping;
  Refresh(mapping);
  ArmPoll(mapping);
}

void DynamoDbStreamSource::Detach(const std::string& uuid, bool forget) {
  auto found = mappings_.find(uuid);
  if (found != mappings_.end()) {
    found->second->stopped = true;
    found->second->poll.reset();
    for (auto& [id, shard] : found->second->shards) shard.timer.reset();
    mappings_.erase(found);
  }
  if (forget) {
    std::vector<std::string> keys;
    std::string prefix = std::string(kCheckpointPrefix) + uuid + "/";
    (void)store_.Scan(prefix, prefix, [&](std::string_view key, std::string_view) {
      keys.emplace_back(key);
      return true;
    });
    for (const std::string& key : keys) (void)store_.Delete(key, true);
  }
}

std::string DynamoDbStreamSource::LastProcessingResult(const std::string& uuid) const {
  auto found = mappings_.find(uuid);
  return found == mappings_.end() ? "No records processed" : found->second->last_result;
}

std::string DynamoDbStreamSource::CheckpointForTest(const std::string& uuid,
                                                    const std::string& shard_id) {
  auto value = store_.Get(CheckpointKey(uuid, shard_id));
  return value.ok() ? *value : "";
}

void DynamoDbStreamSource::Wake(const std::string& stream_arn) {
  for (auto& [uuid, mapping] : mappings_) {
    if (mapping->config.event_source_arn != stream_arn) continue;
    for (auto& [id, shard] : mapping->shards) {
      if (shard.busy || shard.pump_queued) continue;
      shard.pump_queued = true;
      // Posted: the listener runs inside the table's write path.
      std::weak_ptr<Mapping> weak = mapping;
      loop_.Post([this, weak, id = id] {
        auto locked = weak.lock();
        if (!locked || locked->stopped) return;
        auto shard = locked->shards.find(id);
        if (shard != locked->shards.end()) shard->second.pump_queued = false;
        Pump(locked, id);
      });
    }
    if (mapping->shards.empty()) Refresh(mapping);
  }
}

void DynamoDbStreamSource::ArmPoll(const std::shared_ptr<Mapping>& mapping) {
  if (!mapping->poll) mapping->poll = std::make_unique<Timer>(loop_);
  std::weak_ptr<Mapping> weak = mapping;
  mapping->poll->Start(std::chrono::milliseconds(options_.poll_interval_ms), [this, weak] {
    auto locked = weak.lock();
    if (!locked || locked->stopped) return;
    Refresh(locked);
    ArmPoll(locked);
  });
}

void DynamoDbStreamSource::Refresh(const std::shared_ptr<Mapping>& mapping) {
  auto shards = streams_.Shards(mapping->config.event_source_arn);
  if (!shards.ok()) {
    mapping->last_result = "PROBLEM: " + shards.status().message();
    return;
  }
  for (const table::StreamShardInfo& info : *shards) {
    auto [it, inserted] = mapping->shards.try_emplace(info.shard_id);
    Mapping::Shard& shard = it->second;
    shard.info = info;
    if (!inserted) continue;
    shard.timer = std::make_unique<Timer>(loop_);
    auto stored = store_.Get(CheckpointKey(mapping->config.uuid, info.shard_id));
    if (stored.ok()) {
      shard.checkpoint = *stored;
    } else if (mapping->created && mapping->config.starting_position == "LATEST") {
      // LATEST applies to the shards that exist when the mapping is created; shards that appear
      // later are read from their start, so nothing written after creation is missed.
      auto latest = streams_.Latest(mapping->config.event_source_arn, info.shard_id);
      shard.checkpoint = latest.ok() ? *latest : "";
      SaveCheckpoint(*mapping, info.shard_id, shard.checkpoint);
    }
  }
  mapping->created = false;
  for (auto& [id, shard] : mapping->shards) Pump(mapping, id);
}

void DynamoDbStreamSource::SaveCheckpoint(const Mapping& mapping, const std::string& shard_id,
                                          const std::string& sequence) {
  // Not fsynced: the write-ahead log survives a process crash (SIGKILL); after a power loss an
  // older checkpoint only redelivers records, which at-least-once delivery allows anyway.
  Status saved = store_.Put(CheckpointKey(mapping.config.uuid, shard_id), sequence, false);
  if (!saved.ok()) spdlog::warn("event source mapping {}: checkpoint not saved: {}",
                                mapping.config.uuid, saved.message());
}

void DynamoDbStreamSource::Pump(const std::shared_ptr<Mapping>& mapping,
                                const std::string& shard_id) {
  if (mapping->stopped) return;
  auto found = mapping->shards.find(shard_id);
  if (found == mapping->shards.end()) return;
  Mapping::Shard& shard = found->second;
  if (shard.busy || shard.finished) return;
  // A child shard waits until its parent is read to the end (per-item order across splits).
  if (!shard.info.parent_shard_id.empty()) {
    auto parent = mapping->shards.find(shard.info.parent_shard_id);
    if (parent != mapping->shards.end() && !parent->second.finished) return;
  }
  const MappingConfig& config = mapping->config;
  size_t limit = static_cast<size_t>(config.batch_size) *
                 static_cast<size_t>(std::max(1, config.parallelization_factor));
  auto read = streams_.Read(config.event_source_arn, shard_id, shard.checkpoint, limit);
  if (!read.ok()) {
    if (read.status().code() == Status::Code::kUnavailable) {
      // Trimmed past the checkpoint: continue from the oldest record still retained.
      spdlog::warn("event source mapping {}: records of {} expired before they were processed",
                   config.uuid, shard_id);
      shard.checkpoint = "";
      SaveCheckpoint(*mapping, shard_id, "");
    } else {
      mapping->last_result = "PROBLEM: " + read.status().message();
    }
    return;
  }
  std::vector<table::StreamRecord>& records = *read;
  if (records.empty()) {
    if (!shard.info.ending_sequence_number.empty()) {
      shard.finished = true;
      for (auto& [id, other] : mapping->shards) {
        if (other.info.parent_shard_id == shard_id) Pump(mapping, id);
      }
    }
    return;
  }
  int64_t now = options_.clock();
  if (records.size() < limit && config.maximum_batching_window_seconds > 0) {
    if (shard.window_start_ms == 0) shard.window_start_ms = now;
    int64_t remaining = shard.window_start_ms + config.maximum_batching_window_seconds * 1000LL - now;
    if (remaining > 0) {
      std::weak_ptr<Mapping> weak = mapping;
      shard.timer->Start(std::chrono::milliseconds(remaining), [this, weak, shard_id] {
        auto locked = weak.lock();
        if (locked && !locked->stopped) Pump(locked, shard_id);
      });
      return;
    }
  }
  shard.window_start_ms = 0;

  size_t partitions = static_cast<size_t>(std::max(1, config.parallelization_factor));
  shard.partitions.assign(partitions, {});
  shard.group_end = records.back().sequence_number;
  std::vector<Batch> by_partition(partitions);
  for (table::StreamRecord& raw : records) {
    Json json = Json::parse(raw.json, nullptr, false);
    if (!json.is_object()) continue;
    json["eventSourceARN"] = config.event_source_arn;
    if (!mapping->filters.empty()) {
      bool keep = false;
      for (const EventPattern& filter : mapping->filters) {
        if (filter.Matches(json)) {
          keep = true;
          break;
        }
      }
      if (!keep) continue;
    }
    size_t index = 0;
    if (partitions > 1) {
      const Json* dynamodb = json.contains("dynamodb") ? &json["dynamodb"] : nullptr;
      std::string keys = dynamodb && dynamodb->contains("Keys") ? (*dynamodb)["Keys"].dump() : "";
      index = std::hash<std::string>{}(keys) % partitions;
    }
    by_partition[index].push_back(Record{raw.sequence_number, raw.approximate_creation_ms,
                                         std::move(json)});
  }
  bool any = false;
  for (size_t p = 0; p < partitions; ++p) {
    Batch& all = by_partition[p];
    for (size_t start = 0; start < all.size(); start += config.batch_size) {
      size_t end = std::min(all.size(), start + static_cast<size_t>(config.batch_size));
      shard.partitions[p].pending.emplace_back(std::make_move_iterator(all.begin() + start),
                                               std::make_move_iterator(all.begin() + end));
      any = true;
    }
  }
  shard.busy = true;
  if (!any) {
    // Every record was filtered out: nothing to invoke, the checkpoint still moves past them.
    RunPartition(mapping, shard_id, 0);
    return;
  }
  for (size_t p = 0; p < partitions; ++p) RunPartition(mapping, shard_id, p);
}

void DynamoDbStreamSource::RunPartition(const std::shared_ptr<Mapping>& mapping,
                                        const std::string& shard_id, size_t index) {
  if (mapping->stopped) return;
  Mapping::Shard& shard = mapping->shards.at(shard_id);
  Mapping::Partition& partition = shard.partitions[index];
  if (partition.in_flight) return;
  if (partition.pending.empty()) {
    for (const Mapping::Partition& other : shard.partitions) {
      if (other.in_flight || !other.pending.empty()) return;
    }
    // The group is done: checkpoint after the last record read, then look for more.
    shard.checkpoint = shard.group_end;
    SaveCheckpoint(*mapping, shard_id, shard.checkpoint);
    shard.busy = false;
    shard.partitions.clear();
    if (mapping->last_result == "No records processed" ||
        mapping->last_result.starts_with("PROBLEM")) {
      mapping->last_result = "OK";
    }
    std::weak_ptr<Mapping> weak = mapping;
    loop_.Post([this, weak, shard_id] {
      auto locked = weak.lock();
      if (locked && !locked->stopped) Pump(locked, shard_id);
    });
    return;
  }
  const MappingConfig& config = mapping->config;
  Batch& batch = partition.pending.front();
  if (config.maximum_record_age_seconds != -1 &&
      options_.clock() - batch.front().arrival_ms > config.maximum_record_age_seconds * 1000LL) {
    GiveUp(mapping, shard_id, index, "RecordAgeExceeded", nullptr);
    return;
  }
  Json payload = {{"Records", Json::array()}};
  for (const Record& record : batch) payload["Records"].push_back(record.json);
  partition.in_flight = true;
  std::weak_ptr<Mapping> weak = mapping;
  invoker_.Invoke(config.function_arn, payload.dump(),
                  [this, weak, shard_id, index](HttpResponse response) {
                    auto locked = weak.lock();
                    if (!locked || locked->stopped) return;
                    OnAnswer(locked, shard_id, index, std::move(response));
                  });
}

void DynamoDbStreamSource::OnAnswer(const std::shared_ptr<Mapping>& mapping,
                                    const std::string& shard_id, size_t index,
                                    HttpResponse response) {
  Mapping::Shard& shard = mapping->shards.at(shard_id);
  Mapping::Partition& partition = shard.partitions[index];
  partition.in_flight = false;
  const MappingConfig& config = mapping->config;
  Batch& batch = partition.pending.front();
  bool function_error = response.status == 200 && response.headers.Has("X-Amz-Function-Error");
  bool ok = response.status == 200 && !function_error;
  if (ok && config.report_batch_item_failures) {
    // {"batchItemFailures":[{"itemIdentifier":"<SequenceNumber>"}]}: resume at the lowest failed
    // record. An identifier that is empty or names no record of the batch fails the whole batch.
    Json answer = Json::parse(response.body, nullptr, false);
    const Json* failures = nullptr;
    if (answer.is_object() && answer.contains("batchItemFailures")) {
      failures = &answer["batchItemFailures"];
    }
    if (failures && failures->is_array() && !failures->empty()) {
      size_t first = batch.size();
      bool valid = true;
      for (const Json& failure : *failures) {
        const Json* id = failure.is_object() && failure.contains("itemIdentifier")
                             ? &failure["itemIdentifier"] : nullptr;
        if (!id || !id->is_string() || id->get_ref<const std::string&>().empty()) {
          valid = false;
          break;
        }
        size_t at = batch.size();
        for (size_t i = 0; i < batch.size(); ++i) {
          if (batch[i].sequence == id->get_ref<const std::string&>()) at = i;
        }
        if (at == batch.size()) {
          valid = false;
          break;
        }
        first = std::min(first, at);
      }
      if (valid) batch.erase(batch.begin(), batch.begin() + static_cast<ptrdiff_t>(first));
      ok = false;
    }
  }
  if (ok) {
    partition.pending.pop_front();
    partition.attempts = 0;
    RunPartition(mapping, shard_id, index);
    return;
  }
  mapping->last_result = "PROBLEM: Function call failed";
  if (function_error && config.bisect_batch_on_function_error && batch.size() > 1) {
    // Halves retry on their own; splitting does not use up the retry budget.
    Batch second(std::make_move_iterator(batch.begin() + static_cast<ptrdiff_t>(batch.size() / 2)),
                 std::make_move_iterator(batch.end()));
    batch.resize(batch.size() / 2);
    partition.pending.insert(partition.pending.begin() + 1, std::move(second));
    partition.attempts = 0;
    RunPartition(mapping, shard_id, index);
    return;
  }
  ++partition.attempts;
  if (config.maximum_retry_attempts != -1 && partition.attempts > config.maximum_retry_attempts) {
    GiveUp(mapping, shard_id, index, "RetryAttemptsExhausted", &response);
    return;
  }
  int64_t delay = options_.retry_base_delay_ms;
  for (int i = 1; i < partition.attempts && delay < options_.retry_max_delay_ms; ++i) delay *= 2;
  delay = std::min(delay, options_.retry_max_delay_ms);
  std::weak_ptr<Mapping> weak = mapping;
  // One timer per shard: with several partitions failing, the latest backoff wins and every
  // partition not in flight is re-run (RunPartition ignores those in flight).
  shard.timer->Start(std::chrono::milliseconds(delay), [this, weak, shard_id] {
    auto locked = weak.lock();
    if (!locked || locked->stopped) return;
    auto& partitions = locked->shards.at(shard_id).partitions;
    for (size_t p = 0; p < partitions.size(); ++p) {
      if (!partitions[p].pending.empty()) RunPartition(locked, shard_id, p);
    }
  });
}

void DynamoDbStreamSource::GiveUp(const std::shared_ptr<Mapping>& mapping,
                                  const std::string& shard_id, size_t index,
                                  const std::string& condition, const HttpResponse* response) {
  Mapping::Shard& shard = mapping->shards.at(shard_id);
  Mapping::Partition& partition = shard.partitions[index];
  Batch batch = std::move(partition.pending.front());
  partition.pending.pop_front();
  int attempts = partition.attempts;
  partition.attempts = 0;
  const MappingConfig& config = mapping->config;
  int64_t now = options_.clock();
  Json record = {
      {"requestContext",
       {{"requestId", NewUuid()},
        {"functionArn", config.function_arn},
        {"condition", condition},
        {"approximateInvokeCount", attempts}}},
      {"responseContext",
       {{"statusCode", response ? response->status : 0},
        {"executedVersion",
         response ? std::string(response->headers.Get("X-Amz-Executed-Version")) : ""},
        {"functionError",
         response ? std::string(response->headers.Get("X-Amz-Function-Error")) : ""}}},
      {"version", "1.0"},
      {"timestamp", IsoTimestamp(now)},
      {"DDBStreamBatchInfo",
       {{"shardId", shard_id},
        {"startSequenceNumber", batch.front().sequence},
        {"endSequenceNumber", batch.back().sequence},
        {"approximateArrivalOfFirstRecord", IsoSeconds(batch.front().arrival_ms)},
        {"approximateArrivalOfLastRecord", IsoSeconds(batch.back().arrival_ms)},
        {"batchSize", batch.size()},
        {"streamArn", config.event_source_arn}}}};
  spdlog::warn("event source mapping {}: gave up on {} record(s) of {} ({})", config.uuid,
               batch.size(), shard_id, condition);
  if (!config.on_failure_destination.empty() && options_.destination_writer) {
    // S3 destinations also carry the batch itself, as Lambda writes them.
    Json payload = {{"Records", Json::array()}};
    for (const Record& item : batch) payload["Records"].push_back(item.json);
    record["payload"] = payload.dump();
    std::string stamp = IsoTimestamp(now);  // 2024-01-02T03:04:05.678Z
    std::string key = "aws/lambda/" + config.uuid + "/" + shard_id + "/" + stamp.substr(0, 4) +
                      "/" + stamp.substr(5, 2) + "/" + stamp.substr(8, 2) + "/" +
                      stamp.substr(0, 13) + "." + stamp.substr(14, 2) + "." +
                      stamp.substr(17, 2) + "-" + NewUuid();
    Status written = options_.destination_writer(config.on_failure_destination, key, record.dump());
    if (!written.ok()) {
      spdlog::warn("event source mapping {}: on-failure record not written to {}: {}",
                   config.uuid, config.on_failure_destination, written.message());
    }
  }
  RunPartition(mapping, shard_id, index);
}

}  // namespace haneul::triggers
