// LogStore: the log groups and streams of functions (CloudWatch Logs' model), kept in the data
// directory's KvStore. Events are keyed by group and timestamp, so reading a time range is a
// seek. Not thread-safe: used from the loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "haneul/common/event_loop.h"
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

// Appends are buffered and written in one batch kFlushDelay after the first of them, on `loop`
// (or at once when no loop is given), and whenever a burst passes a few MB. Reads flush first,
// so they see every append. A crash may lose the last kFlushDelay of log lines: they are not
// acknowledged writes, and one write-ahead-log record per invocation was a tenth of the cost of
// a warm invoke (bench/invoke_warm).
class LogStore {
 public:
  static constexpr std::chrono::milliseconds kFlushDelay{50};
  explicit LogStore(KvStore& store, EventLoop* loop = nullptr);
  ~LogStore();
  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;

  void Append(const std::string& group, const std::string& stream, int64_t timestamp_ms,
              std::string_view message);
  bool GroupExists(const std::string& group);
  std::vector<std::string> Groups(const std::string& prefix);
  std::vector<LogStreamInfo> Streams(const std::string& group);
  // Events of group with start <= timestamp < end (end 0: no end), optionally of one stream,
  // starting after the event whose key is after_token (empty: from the start). At most limit
  // events; *next_token is set when more remain.
  // `keep` (when given) selects events by message; skipped events do not count against limit.
  // Events older than the group's retention are never returned.
  std::vector<LogEvent> Read(const std::string& group, const std::string& stream_filter,
                             int64_t start_ms, int64_t end_ms, const std::string& after_token,
                             size_t limit, std::string* next_token,
                             const std::function<bool(std::string_view)>& keep = nullptr);
  // A group's retention in days (0: never expire), durable. SetRetention deletes what is already
  // older than it; ExpireAll does that for every group (the server calls it hourly).
  int RetentionDays(const std::string& group);
  void SetRetention(const std::string& group, int days);
  void ExpireAll(int64_t now_ms);
  int64_t CreationTime(const std::string& group);
  // CreateLogGroup: false when it exists. DeleteGroup removes its streams, events and retention.
  bool CreateGroup(const std::string& group);
  void DeleteGroup(const std::string& group);
  // Writes the buffered appends.
  void Flush();

 private:
  KvStore& store_;
  void Expire(const std::string& group, int64_t cutoff_ms);
  void ScheduleExpiry();

  std::set<std::string> known_groups_;
  std::map<std::string, int> retention_days_;  // cache of logs/r/<group>; absent: not loaded
  std::set<std::string> known_streams_;
  // The group and stream of the last append, known to exist: most appends repeat them.
  std::string last_group_, last_stream_;
  uint64_t sequence_;
  std::unique_ptr<Timer> flush_timer_;
  std::unique_ptr<Timer> expiry_timer_;  // hourly ExpireAll, with a loop
  bool flush_scheduled_ = false;
  size_t pending_bytes_ = 0;
  std::vector<std::pair<std::string, std::string>> pending_;
};

}  // namespace haneul::invoker
