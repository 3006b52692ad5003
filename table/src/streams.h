// Table streams, TTL and point-in-time restore: the pure parts, kept apart from the service so
// they can be unit-tested without storage. Sequence numbers, stream labels and ARNs, shard ids,
// building a change record exactly as DynamoDB Streams writes it, the wire form GetRecords
// answers, and the opaque shard iterators.
// Pure functions; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "storage.h"
#include "value.h"

namespace haneul::table {

// Records are kept 24 hours, iterators live 15 minutes, as on DynamoDB Streams.
constexpr int64_t kStreamRetentionMs = 24 * 3600 * 1000LL;
constexpr int64_t kIteratorLifetimeMs = 15 * 60 * 1000LL;
// Point-in-time recovery window (DynamoDB's default and maximum).
constexpr int64_t kPitrWindowMs = 35LL * 24 * 3600 * 1000;

// A sequence number as DynamoDB Streams shows it: 21 decimal digits ("1" then the counter
// zero-padded to 20), so string order is numeric order.
std::string FormatSequence(uint64_t counter);
// The counter of a sequence number (any run of 1..21 digits is accepted as a number).
std::optional<uint64_t> ParseSequence(const std::string& text);

// "2026-11-24T23:45:00.000": a stream's label (UTC, milliseconds).
std::string StreamLabel(int64_t unix_millis);
// "shardId-00000001732492345000-1a2b3c4d".
std::string NewShardId(int64_t unix_millis);

// The change record (the Lambda event form: lower-case userIdentity members) for one write.
// old_item / new_item nullopt when absent; by_ttl marks a TTL deletion.
struct ChangeRecord {
  std::string json;  // the record object
  int64_t size_bytes = 0;
};
ChangeRecord BuildChangeRecord(const KeySchema& key, const std::string& view_type,
                               const std::string& region, const std::optional<json>& old_item,
                               const std::optional<json>& new_item, const std::string& sequence,
                               int64_t unix_millis, bool by_ttl);

// The record as dynamodbstreams GetRecords puts it on the wire: the same object with
// userIdentity's members named as the service model names them (Type, PrincipalId).
json WireRecord(json record);

// A shard iterator: the next sequence number to read (inclusive) and when it was issued.
struct ShardIterator {
  std::string stream_arn;
  std::string shard_id;
  uint64_t next = 0;
  int64_t issued_ms = 0;
};
std::string EncodeIterator(const ShardIterator& iterator);
std::optional<ShardIterator> DecodeIterator(const std::string& text);

}  // namespace haneul::table
