// DynamoDbStreamSource: the poll-based source behind event source mappings whose
// EventSourceArn is a table stream. Per mapping and per shard, in order:
//   read up to BatchSize x ParallelizationFactor records after the durable checkpoint, drop
//   those no FilterCriteria pattern matches, split the rest into ParallelizationFactor
//   partitions by item-key hash (so per-key order holds), invoke each partition's batches
//   synchronously, and advance the checkpoint (KvStore WAL) only when every batch of the
//   group succeeded or was given up. A failing batch is retried with backoff and BLOCKS its
//   shard, as Lambda's does, until MaximumRetryAttempts or MaximumRecordAgeInSeconds run out;
//   BisectBatchOnFunctionError splits a batch that failed with a function error;
//   ReportBatchItemFailures retries from the first failed record. A batch given up is sent to
//   the on-failure destination (an S3 bucket) as Lambda's stream invocation record.
// Delivery is at-least-once, as Lambda's: a crash between a successful invocation and its
// checkpoint redelivers that group.
// Latency: the table's stream listener wakes the mapping at once; a poll timer is the fallback
// (and finds new shards).
// Thread-safety: loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "event_source.h"
#include "haneul/common/event_loop.h"
#include "haneul/common/kv_store.h"
#include "haneul/table/table_service.h"

namespace haneul::triggers {

// The stream interface of table::TableService, behind a seam for fakes.
class StreamReader {
 public:
  virtual ~StreamReader() = default;
  virtual Result<std::vector<table::StreamShardInfo>> Shards(const std::string& stream_arn) = 0;
  virtual Result<std::vector<table::StreamRecord>> Read(const std::string& stream_arn,
                                                        const std::string& shard_id,
                                                        const std::string& after_sequence,
                                                        size_t limit) = 0;
  virtual Result<std::string> Latest(const std::string& stream_arn,
                                     const std::string& shard_id) = 0;
};

struct StreamSourceOptions {
  int64_t poll_interval_ms = 500;
  int64_t retry_base_delay_ms = 100;  // doubles per attempt
  int64_t retry_max_delay_ms = 5000;
  Clock clock;                         // default: wall clock
  DestinationWriter destination_writer;  // unset: S3 destinations are refused
};

class DynamoDbStreamSource final : public MappingSource {
 public:
  DynamoDbStreamSource(EventLoop& loop, KvStore& store, StreamReader& streams,
                       FunctionInvoker& invoker, StreamSourceOptions options);
  ~DynamoDbStreamSource() override;

  std::string_view name() const override { return "dynamodb-stream"; }
  Status Start() override { return Status::Ok(); }
  void Stop() override;

  bool Accepts(const std::string& event_source_arn) const override;
  std::optional<AwsError> Validate(const MappingConfig& config) override;
  void Attach(const MappingConfig& config, bool created) override;
  void Detach(const std::string& uuid, bool forget) override;
  std::string LastProcessingResult(const std::string& uuid) const override;

  // New records were written to this stream: poll its mappings now.
  void Wake(const std::string& stream_arn);

  // The durable checkpoint of a shard ("" = none yet): for tests.
  std::string CheckpointForTest(const std::string& uuid, const std::string& shard_id);

  struct Mapping;

 private:
  void ArmPoll(const std::shared_ptr<Mapping>& mapping);
  void Refresh(const std::shared_ptr<Mapping>& mapping);
  void Pump(const std::shared_ptr<Mapping>& mapping, const std::string& shard_id);
  void RunPartition(const std::shared_ptr<Mapping>& mapping, const std::string& shard_id,
                    size_t partition);
  void OnAnswer(const std::shared_ptr<Mapping>& mapping, const std::string& shard_id,
                size_t partition, HttpResponse response);
  void GiveUp(const std::shared_ptr<Mapping>& mapping, const std::string& shard_id,
              size_t partition, const std::string& condition, const HttpResponse* response);
  void SaveCheckpoint(const Mapping& mapping, const std::string& shard_id,
                      const std::string& sequence);

  EventLoop& loop_;
  KvStore& store_;
  StreamReader& streams_;
  FunctionInvoker& invoker_;
  StreamSourceOptions options_;
  std::map<std::string, std::shared_ptr<Mapping>> mappings_;  // by UUID
};

}  // namespace haneul::triggers
