// AsyncQueue: events under "lambda/async/<20-digit sequence>", dead letters under
// "lambda/dlq/<queue>/<20-digit sequence>", both JSON. Sequences start from the clock (in
// microseconds) so they keep growing across restarts without a stored counter.
#include "async_queue.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <nlohmann/json.hpp>

namespace haneul::invoker {

namespace {

constexpr std::string_view kEventPrefix = "lambda/async/";
constexpr std::string_view kDeadLetterPrefix = "lambda/dlq/";

std::string SequenceKey(uint64_t sequence) {
  char buffer[24];
  std::snprintf(buffer, sizeof(buffer), "%020llu", static_cast<unsigned long long>(sequence));
  return buffer;
}

nlohmann::json ToJson(const AsyncEvent& event) {
  return {{"request_id", event.request_id},   {"function", event.function},
          {"qualifier", event.qualifier},     {"payload", event.payload},
          {"enqueued_ms", event.enqueued_ms}, {"next_attempt_ms", event.next_attempt_ms},
          {"attempts", event.attempts}};
}

}  // namespace

AsyncNext DecideAfterAttempt(const AsyncEvent& event, bool failed, int max_retries,
                             int max_age_seconds, int64_t base_delay_ms, int64_t now_ms,
                             int64_t* next_attempt_ms) {
  if (!failed) return AsyncNext::kSucceeded;
  if (event.attempts > max_retries) return AsyncNext::kRetriesExhausted;
  int64_t next = now_ms + base_delay_ms * event.attempts;
  if (next - event.enqueued_ms > int64_t{max_age_seconds} * 1000) {
    return AsyncNext::kEventAgeExceeded;
  }
  *next_attempt_ms = next;
  return AsyncNext::kRetry;
}

Status AsyncQueue::Load(int64_t now_ms) {
  last_sequence_ = static_cast<uint64_t>(now_ms) * 1000;
  Status status = store_.Scan(kEventPrefix, "", [&](std::string_view key, std::string_view value) {
    auto json = nlohmann::json::parse(value, nullptr, false);
    AsyncEvent event;
    try {
      event.sequence = std::stoull(std::string(key.substr(kEventPrefix.size())));
      event.request_id = json.at("request_id").get<std::string>();
      event.function = json.at("function").get<std::string>();
      event.qualifier = json.at("qualifier").get<std::string>();
      event.payload = json.at("payload").get<std::string>();
      event.enqueued_ms = json.at("enqueued_ms").get<int64_t>();
      event.next_attempt_ms = json.at("next_attempt_ms").get<int64_t>();
      event.attempts = json.at("attempts").get<int>();
    } catch (const std::exception&) {
      spdlog::error("skipping a corrupt async event record");
      return true;
    }
    if (event.sequence > last_sequence_) last_sequence_ = event.sequence;
    events_[event.sequence] = std::move(event);
    return true;
  });
  HANEUL_RETURN_IF_ERROR(status);
  return store_.Scan(kDeadLetterPrefix, "", [&](std::string_view key, std::string_view) {
    auto slash = key.rfind('/');
    uint64_t sequence = std::strtoull(std::string(key.substr(slash + 1)).c_str(), nullptr, 10);
    if (sequence > last_sequence_) last_sequence_ = sequence;
    return true;
  });
}

uint64_t AsyncQueue::NextSequence() { return ++last_sequence_; }

Status AsyncQueue::Enqueue(AsyncEvent& event) {
  event.sequence = NextSequence();
  HANEUL_RETURN_IF_ERROR(store_.Put(std::string(kEventPrefix) + SequenceKey(event.sequence),
                                    ToJson(event).dump(), /*sync=*/true));
  events_[event.sequence] = event;
  return Status::Ok();
}

Status AsyncQueue::Update(const AsyncEvent& event) {
  in_flight_.erase(event.sequence);
  events_[event.sequence] = event;
  return store_.Put(std::string(kEventPrefix) + SequenceKey(event.sequence), ToJson(event).dump(),
                    /*sync=*/true);
}

Status AsyncQueue::Remove(uint64_t sequence) {
  in_flight_.erase(sequence);
  events_.erase(sequence);
  return store_.Delete(std::string(kEventPrefix) + SequenceKey(sequence), /*sync=*/true);
}

std::vector<AsyncEvent> AsyncQueue::TakeDue(int64_t now_ms) {
  std::vector<AsyncEvent> due;
  for (auto& [sequence, event] : events_) {
    if (event.next_attempt_ms <= now_ms && !in_flight_.count(sequence)) {
      in_flight_.insert(sequence);
      due.push_back(event);
    }
  }
  return due;
}

void AsyncQueue::Return(uint64_t sequence, int64_t next_attempt_ms) {
  in_flight_.erase(sequence);
  auto it = events_.find(sequence);
  if (it != events_.end()) it->second.next_attempt_ms = next_attempt_ms;
}

std::optional<int64_t> AsyncQueue::NextDue() const {
  std::optional<int64_t> next;
  for (const auto& [sequence, event] : events_) {
    if (in_flight_.count(sequence)) continue;
    if (!next || event.next_attempt_ms < *next) next = event.next_attempt_ms;
  }
  return next;
}

std::optional<int64_t> AsyncQueue::oldest_enqueued_ms() const {
  std::optional<int64_t> oldest;
  for (const auto& [sequence, event] : events_) {
    if (!oldest || event.enqueued_ms < *oldest) oldest = event.enqueued_ms;
  }
  return oldest;
}

std::map<std::string, size_t> AsyncQueue::DepthByFunction() const {
  std::map<std::string, size_t> depth;
  for (const auto& [sequence, event] : events_) ++depth[event.function];
  return depth;
}

Status AsyncQueue::AppendDeadLetter(const std::string& queue, const std::string& record) {
  return store_.Put(std::string(kDeadLetterPrefix) + queue + "/" + SequenceKey(NextSequence()),
                    record, /*sync=*/true);
}

std::map<std::string, size_t> AsyncQueue::DeadLetterQueues() {
  std::map<std::string, size_t> queues;
  (void)store_.Scan(kDeadLetterPrefix, "", [&](std::string_view key, std::string_view) {
    auto rest = key.substr(kDeadLetterPrefix.size());
    ++queues[std::string(rest.substr(0, rest.rfind('/')))];
    return true;
  });
  return queues;
}

std::vector<std::string> AsyncQueue::ReadDeadLetters(const std::string& queue) {
  std::vector<std::string> records;
  (void)store_.Scan(std::string(kDeadLetterPrefix) + queue + "/", "",
                    [&](std::string_view, std::string_view value) {
                      records.emplace_back(value);
                      return true;
                    });
  return records;
}

}  // namespace haneul::invoker
