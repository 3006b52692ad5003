// LogStore over KvStore. Keys:
//   logs/g/<group>                          → creation time
//   logs/s/<group>\x01<stream>             → creation time
//   logs/e/<group>\x01<ts:13 digits><seq:16 hex> → <stream>\0<ingestion ms>\0<message>
//   logs/r/<group>                          → retention in days (absent: never expire)
// Log writes are not fsynced: a log line is not an acknowledged write.
#include "haneul/invoker/log_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "haneul/common/ids.h"

namespace haneul::invoker {

namespace {

// Appends `digits` characters of value in base 10 or 16, zero-padded (the key parts below are
// fixed-width so that key order is time order).
void AppendFixed(std::string& out, uint64_t value, int digits, int base) {
  static const char kDigits[] = "0123456789abcdef";
  size_t end = out.size() + digits;
  out.resize(end);
  for (int i = 1; i <= digits; ++i) {
    out[end - i] = kDigits[value % base];
    value /= base;
  }
}

std::string TimeKey(int64_t ms) {
  std::string key;
  AppendFixed(key, static_cast<uint64_t>(ms < 0 ? 0 : ms), 13, 10);
  return key;
}

}  // namespace

// A burst of output (a handler printing 100 MB) is written in batches of about this size.
constexpr size_t kMaxPendingBytes = 4 << 20;

LogStore::LogStore(KvStore& store, EventLoop* loop)
    : store_(store), sequence_(static_cast<uint64_t>(NowUnixMillis()) << 20) {
  if (loop) {
    flush_timer_ = std::make_unique<Timer>(*loop);
    expiry_timer_ = std::make_unique<Timer>(*loop);
    ScheduleExpiry();
  }
}

void LogStore::ScheduleExpiry() {
  expiry_timer_->Start(std::chrono::hours(1), [this] {
    ExpireAll(NowUnixMillis());
    ScheduleExpiry();
  });
}

LogStore::~LogStore() { Flush(); }

void LogStore::Flush() {
  flush_scheduled_ = false;
  if (flush_timer_) flush_timer_->Cancel();
  if (pending_.empty()) return;
  Status status = store_.PutBatch(pending_, false);
  if (!status.ok()) spdlog::error("log lines lost: {}", status.message());
  pending_.clear();
  pending_bytes_ = 0;
}

void LogStore::Append(const std::string& group, const std::string& stream, int64_t timestamp_ms,
                      std::string_view message) {
  int64_t now = NowUnixMillis();
  if (group != last_group_ || stream != last_stream_) {
    if (!known_groups_.count(group)) {
      if (!store_.Get("logs/g/" + group).ok()) {
        (void)store_.Put("logs/g/" + group, std::to_string(now), false);
      }
      known_groups_.insert(group);
    }
    std::string stream_key = "logs/s/" + group + "\x01" + stream;
    if (!known_streams_.count(stream_key)) {
      (void)store_.Put(stream_key, std::to_string(now), false);
      known_streams_.insert(stream_key);
    }
    last_group_ = group;
    last_stream_ = stream;
  }
  std::string value;
  value.reserve(stream.size() + message.size() + 16);
  value.append(stream);
  value.push_back('\0');
  value.append(std::to_string(now));
  value.push_back('\0');
  value.append(message);
  std::string key;
  key.reserve(group.size() + 37);
  key.append("logs/e/").append(group).push_back('\x01');
  AppendFixed(key, static_cast<uint64_t>(timestamp_ms < 0 ? 0 : timestamp_ms), 13, 10);
  AppendFixed(key, ++sequence_, 16, 16);
  pending_bytes_ += value.size() + key.size();
  pending_.emplace_back(std::move(key), std::move(value));
  if (!flush_timer_ || pending_bytes_ >= kMaxPendingBytes) {
    Flush();
  } else if (!flush_scheduled_) {
    flush_scheduled_ = true;
    flush_timer_->Start(kFlushDelay, [this] { Flush(); });
  }
}

bool LogStore::GroupExists(const std::string& group) {
  return known_groups_.count(group) || store_.Get("logs/g/" + group).ok();
}

std::vector<std::string> LogStore::Groups(const std::string& prefix) {
  Flush();
  std::vector<std::string> groups;
  (void)store_.Scan("logs/g/" + prefix, "", [&](std::string_view key, std::string_view) {
    groups.emplace_back(key.substr(7));
    return true;
  });
  return groups;
}

std::vector<LogStreamInfo> LogStore::Streams(const std::string& group) {
  Flush();
  std::vector<LogStreamInfo> streams;
  std::string prefix = "logs/s/" + group + "\x01";
  (void)store_.Scan(prefix, "", [&](std::string_view key, std::string_view value) {
    LogStreamInfo info;
    info.name = std::string(key.substr(prefix.size()));
    info.creation_ms = std::atoll(std::string(value).c_str());
    streams.push_back(std::move(info));
    return true;
  });
  return streams;
}

std::vector<LogEvent> LogStore::Read(const std::string& group, const std::string& stream_filter,
                                     int64_t start_ms, int64_t end_ms,
                                     const std::string& after_token, size_t limit,
                                     std::string* next_token,
                                     const std::function<bool(std::string_view)>& keep) {
  Flush();
  if (int days = RetentionDays(group); days > 0) {
    start_ms = std::max(start_ms, NowUnixMillis() - int64_t{days} * 86400000);
  }
  std::vector<LogEvent> events;
  next_token->clear();
  std::string prefix = "logs/e/" + group + "\x01";
  std::string start = prefix + TimeKey(start_ms);
  if (!after_token.empty() && prefix + after_token > start) start = prefix + after_token;
  (void)store_.Scan(prefix, start, [&](std::string_view key, std::string_view value) {
    std::string suffix(key.substr(prefix.size()));
    if (!after_token.empty() && suffix == after_token) return true;  // resume after it
    int64_t timestamp = std::atoll(suffix.substr(0, 13).c_str());
    if (end_ms > 0 && timestamp >= end_ms) return false;
    auto first = value.find('\0');
    auto second = first == std::string_view::npos ? first : value.find('\0', first + 1);
    if (second == std::string_view::npos) return true;  // not a record of this format
    std::string_view stream = value.substr(0, first);
    if (!stream_filter.empty() && stream != stream_filter) return true;
    if (keep && !keep(value.substr(second + 1))) return true;
    if (events.size() >= limit) {
      *next_token = events.back().event_id;
      return false;
    }
    LogEvent event;
    event.stream = std::string(stream);
    event.timestamp_ms = timestamp;
    event.ingestion_ms = std::atoll(std::string(value.substr(first + 1, second - first - 1)).c_str());
    event.message = std::string(value.substr(second + 1));
    event.event_id = suffix;
    events.push_back(std::move(event));
    return true;
  });
  return events;
}

int LogStore::RetentionDays(const std::string& group) {
  auto cached = retention_days_.find(group);
  if (cached != retention_days_.end()) return cached->second;
  auto stored = store_.Get("logs/r/" + group);
  int days = stored.ok() ? std::atoi(stored->c_str()) : 0;
  retention_days_[group] = days;
  return days;
}

void LogStore::SetRetention(const std::string& group, int days) {
  Status status = days > 0 ? store_.Put("logs/r/" + group, std::to_string(days), true)
                           : store_.Delete("logs/r/" + group, true);
  if (!status.ok()) spdlog::error("log retention of {} not saved: {}", group, status.message());
  retention_days_[group] = days;
  if (days > 0) Expire(group, NowUnixMillis() - int64_t{days} * 86400000);
}

void LogStore::ExpireAll(int64_t now_ms) {
  for (const std::string& group : Groups("")) {
    if (int days = RetentionDays(group); days > 0) Expire(group, now_ms - int64_t{days} * 86400000);
  }
}

void LogStore::Expire(const std::string& group, int64_t cutoff_ms) {
  Flush();
  std::string prefix = "logs/e/" + group + "\x01";
  std::vector<std::string> old;
  (void)store_.Scan(prefix, prefix, [&](std::string_view key, std::string_view) {
    if (std::atoll(std::string(key.substr(prefix.size(), 13)).c_str()) >= cutoff_ms) return false;
    old.emplace_back(key);
    return true;
  });
  for (const std::string& key : old) (void)store_.Delete(key, false);
  if (!old.empty()) spdlog::info("logs: {} events of {} past retention deleted", old.size(), group);
}

bool LogStore::CreateGroup(const std::string& group) {
  if (GroupExists(group)) return false;
  (void)store_.Put("logs/g/" + group, std::to_string(NowUnixMillis()), true);
  known_groups_.insert(group);
  return true;
}

void LogStore::DeleteGroup(const std::string& group) {
  Flush();
  std::vector<std::string> keys;
  for (std::string prefix : {"logs/e/" + group + "\x01", "logs/s/" + group + "\x01"}) {
    (void)store_.Scan(prefix, prefix, [&](std::string_view key, std::string_view) {
      keys.emplace_back(key);
      return true;
    });
  }
  for (const std::string& key : keys) {
    (void)store_.Delete(key, false);
    known_streams_.erase(key);
  }
  (void)store_.Delete("logs/r/" + group, false);
  (void)store_.Delete("logs/g/" + group, true);
  known_groups_.erase(group);
  retention_days_.erase(group);
  last_group_.clear();
  last_stream_.clear();
}

int64_t LogStore::CreationTime(const std::string& group) {
  auto stored = store_.Get("logs/g/" + group);
  return stored.ok() ? std::atoll(stored->c_str()) : 0;
}

}  // namespace haneul::invoker
