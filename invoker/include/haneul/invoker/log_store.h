// LogStore: the log groups and streams of functions (CloudWatch Logs' model), kept in the data
// directory's KvStore. Events are keyed by group and timestamp, so reading a time range is a
// seek. Not thread-safe: used from the loop thread.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "haneul/common/kv_store.h"

namespace haneul::invoker {

// CloudWatch Logs' limit on one event; longer lines are split.
inline constexpr size_t kMaxLogEventBytes = 256 * 1024 - 26;

struct LogEvent {
  std::string stream;
  int64_t timestamp_ms = 0;
  int64_t ingestion_ms = 0;
  std::string message;
  std::string event_id;
};

struct LogStreamInfo {
  std::string name;
  int64_t creation_ms = 0;
};

class LogStore {
 public:
  explicit LogStore(KvStore& store);

  void Append(const std::string& group, const std::string& stream, int64_t timestamp_ms,
              std::string_view message);
  bool GroupExists(const std::string& group);
  std::vector<std::string> Groups(const std::string& prefix);
  std::vector<LogStreamInfo> Streams(const std::string& group);
  // Events of group with start <= timestamp < end (end 0: no end), optionally of one stream,
  // starting after the event whose key is after_token (empty: from the start). At most limit
  // events; *next_token is set when more remain.
  std::vector<LogEvent> Read(const std::string& group, const std::string& stream_filter,
                             int64_t start_ms, int64_t end_ms, const std::string& after_token,
                             size_t limit, std::string* next_token);

 private:
  KvStore& store_;
  std::set<std::string> known_groups_;
  std::set<std::string> known_streams_;
  uint64_t sequence_;
};

}  // namespace haneul::invoker
