// TableService: the DynamoDB-compatible table service (JSON 1.0 protocol, `X-Amz-Target:
// DynamoDB_20120810.<Op>`) over its own RocksDB instance, one column family per table and per
// secondary index. Control plane (CreateTable, DescribeTable, ListTables, UpdateTable,
// DeleteTable, tags, DescribeEndpoints, DescribeLimits) and data plane (Put/Get/Update/
// DeleteItem, Query, Scan, batch and transactional operations) with DynamoDB's expressions,
// limits and error messages.
// Durability: every write is one RocksDB WriteBatch through the write-ahead log, index
// maintenance included; with TableOptions::sync (the default) it is fsynced before the answer.
// Streams (dynamodbstreams, `X-Amz-Target: DynamoDBStreams_20120810.<Op>`), TTL, on-demand
// backups and point-in-time recovery are served by the same object (docs/table.md), and so are
// ExportTableToPointInTime / ImportTable, whose jobs run on threads of their own against
// TableOptions::objects.
// Thread-safety: not thread-safe; call Handle on the server's event-loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "haneul/common/event_loop.h"
#include "haneul/common/http.h"
#include "haneul/common/status.h"

namespace haneul::table {

// The object store as table exports and imports see it: whole objects by bucket and key. Every
// callback is called on the loop thread only (the export and import threads post to it). A
// failure's message starts with S3's error code ("NoSuchBucket: ..."), which becomes the job's
// FailureCode.
struct TableObjectStore {
  struct Listed {
    std::string key;
    int64_t size = 0;
  };
  // Stores body at key; answers the object's ETag (hex MD5, unquoted).
  std::function<Result<std::string>(const std::string& bucket, const std::string& key,
                                    std::string body)>
      put;
  std::function<Result<std::string>(const std::string& bucket, const std::string& key)> get;
  // Every object whose key starts with prefix, in key order.
  std::function<Result<std::vector<Listed>>(const std::string& bucket, const std::string& prefix)>
      list;
};

struct TableOptions {
  // fsync the write-ahead log before acknowledging a write (survives power loss, not only a
  // process crash). false: acknowledged writes survive a process crash (SIGKILL) only.
  bool sync = true;
  // With sync and a loop: group commit. Writes go to the WAL at once, their answers wait for one
  // fsync (on a background thread) that covers every write made before it started; answers are
  // sent on the loop. Without a loop every write is fsynced on the caller's thread.
  // Reads may see a write before its fsync (and so before it is acknowledged).
  EventLoop* loop = nullptr;
  std::string region = "us-east-1";
  std::string account = "000000000000";
  // The wall clock (unix milliseconds) of streams, TTL and point-in-time recovery: record
  // times, 24-hour retention, iterator expiry, TTL expiry, restore windows. Empty: the real
  // clock. Tests inject a fake one (see ClockFromFile) so nothing waits for real time.
  std::function<int64_t()> now_ms;
  // The read cache for eventually consistent reads (GetItem items, Query and Scan pages), off
  // unless a table carries the tag `haneul:read-cache` = "on" (this lifetime) or a number of
  // seconds. Entries are dropped by the table's own writes, so it never serves an item older
  // than the last acknowledged write; it saves the storage read and the page assembly.
  int64_t read_cache_ttl_ms = 5 * 60 * 1000;
  size_t read_cache_entries = 100000;  // beyond this the cache is emptied and refilled
  // The bucket store ExportTableToPointInTime writes to and ImportTable reads from (serve.cc
  // wires the bundled object store). Unset: exports and imports fail (FAILED, not refused).
  TableObjectStore objects;
};

// Hit and miss counts of one table's read cache.
struct ReadCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
};

// A clock read from a file holding unix milliseconds (decimal), re-read on every call; the
// real clock while the file is missing or empty. `haneul serve --test-clock-file PATH` (or
// HANEUL_TEST_CLOCK_FILE) wires it, so integration tests move time by rewriting the file.
std::function<int64_t()> ClockFromFile(std::string path);

// One shard of a table's stream, as DescribeStream lists it.
struct StreamShardInfo {
  std::string shard_id;
  std::string parent_shard_id;            // empty for the first shard
  std::string starting_sequence_number;
  std::string ending_sequence_number;     // empty while the shard is open
};

// One change record of a stream, as dynamodbstreams GetRecords returns it.
struct StreamRecord {
  std::string sequence_number;  // decimal digits, increasing within a shard
  int64_t approximate_creation_ms = 0;
  int64_t size_bytes = 0;
  // The whole record object exactly as an element of GetRecords' `Records` (eventID,
  // eventName, eventVersion, eventSource, awsRegion, dynamodb{...}, userIdentity when a TTL
  // deletion) - what a Lambda event source mapping puts in `Records[]`, plus eventSourceARN.
  std::string json;
};

class TableService {
 public:
  // Opens (creating if needed) the RocksDB instance at directory with every table in it.
  static Result<std::unique_ptr<TableService>> Open(const std::string& directory,
                                                    TableOptions options = {});
  ~TableService();
  TableService(const TableService&) = delete;
  TableService& operator=(const TableService&) = delete;

  // False when the request is not for this service (no DynamoDB X-Amz-Target); otherwise the
  // request is answered (synchronously) and true is returned.
  bool Handle(HttpRequest& request, const std::shared_ptr<Responder>& responder);

  // Answers one request body for an operation name: the JSON 1.0 response (for tests, fuzzing
  // and benchmarks without HTTP).
  HttpResponse Execute(const std::string& operation, const std::string& body);

  // ---- streams, for in-process consumers (Lambda event source mappings) ----------------
  // The shards of a stream (a table's LatestStreamArn, or an older stream ARN still retained).
  // NotFound for an unknown stream.
  Result<std::vector<StreamShardInfo>> StreamShards(const std::string& stream_arn);
  // Up to `limit` records of a shard after `after_sequence` ("" = from the oldest retained
  // record, TRIM_HORIZON), in order. Unavailable when records after `after_sequence` were
  // trimmed (older than 24 hours) so a consumer can tell it lost data.
  Result<std::vector<StreamRecord>> ReadStream(const std::string& stream_arn,
                                               const std::string& shard_id,
                                               const std::string& after_sequence, size_t limit);
  // The newest sequence number in a shard ("" when it has none): StartingPosition LATEST.
  Result<std::string> LatestSequenceNumber(const std::string& stream_arn,
                                           const std::string& shard_id);
  // Called on the loop thread with a stream's ARN after writes to it are acknowledged, so a
  // consumer can poll at once instead of on a timer. Listeners live as long as the service.
  void AddStreamListener(std::function<void(const std::string& stream_arn)> listener);

  // The read cache counters of a table since it was opened; NotFound for an unknown table.
  Result<ReadCacheStats> ReadCacheStatsOf(const std::string& table_name);
  // Prometheus text (format 0.0.4) of every table's read-cache counters
  // (haneul_table_read_cache_hits_total / _misses_total{table=...}), for GET /metrics.
  std::string ReadCacheMetricsText();

 private:
  struct Impl;
  explicit TableService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace haneul::table
