// AsyncQueue: the durable queue of accepted `Event` invocations and Lambda's retry policy for
// them. Every event is written to the KvStore (fsynced) before Enqueue returns, so the 202 that
// follows is a promise that survives a crash; events are removed only once delivered to the end
// (success, or the failure destination). Load() at start re-reads what a previous process left,
// so every accepted event is delivered at least once.
// Also the dead-letter queues (records kept in the KvStore under a queue name).
// Not thread-safe: loop thread only. The clock is passed in (now_ms) so tests can fake time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "haneul/common/kv_store.h"
#include "haneul/common/status.h"

namespace haneul::invoker {

struct AsyncEvent {
  uint64_t sequence = 0;  // the queue order and the key; assigned by Enqueue
  std::string request_id;
  std::string function;   // name
  std::string qualifier;  // as invoked: "" for unqualified, a version or an alias
  std::string payload;
  int64_t enqueued_ms = 0;
  int64_t next_attempt_ms = 0;
  int attempts = 0;  // invocations made so far
};

// What happens to an event after one attempt.
enum class AsyncNext { kSucceeded, kRetry, kRetriesExhausted, kEventAgeExceeded };

// Lambda's policy: up to max_retries retries after a function error, the n-th after about n times
// the base delay (AWS: ~1 min, then ~2 min); an event older than max_age_seconds when its next
// attempt would start is dropped to the failure destination instead. *next_attempt_ms is set
// for kRetry.
AsyncNext DecideAfterAttempt(const AsyncEvent& event, bool failed, int max_retries,
                             int max_age_seconds, int64_t base_delay_ms, int64_t now_ms,
                             int64_t* next_attempt_ms);

class AsyncQueue {
 public:
  explicit AsyncQueue(KvStore& store) : store_(store) {}

  // Reads the events and dead-letter sequence numbers a previous run left.
  Status Load(int64_t now_ms);
  // Persists event (fsynced) and queues it; assigns its sequence.
  Status Enqueue(AsyncEvent& event);
  // Persists a changed event (after a failed attempt: attempts and next_attempt_ms).
  Status Update(const AsyncEvent& event);
  Status Remove(uint64_t sequence);

  // Events due at now_ms that are not being delivered, oldest first; marks them in flight.
  std::vector<AsyncEvent> TakeDue(int64_t now_ms);
  // An event taken by TakeDue whose attempt ended without Update/Remove (e.g. throttled): it is
  // due again at next_attempt_ms.
  void Return(uint64_t sequence, int64_t next_attempt_ms);
  // The earliest next_attempt_ms of events not in flight.
  std::optional<int64_t> NextDue() const;

  size_t depth() const { return events_.size(); }
  std::optional<int64_t> oldest_enqueued_ms() const;
  // Depth per function name (for metrics).
  std::map<std::string, size_t> DepthByFunction() const;

  // Dead-letter queues: records appended under a queue name, listed and read back in order.
  Status AppendDeadLetter(const std::string& queue, const std::string& record);
  std::map<std::string, size_t> DeadLetterQueues();
  std::vector<std::string> ReadDeadLetters(const std::string& queue);

 private:
  uint64_t NextSequence();

  KvStore& store_;
  uint64_t last_sequence_ = 0;
  std::map<uint64_t, AsyncEvent> events_;
  std::set<uint64_t> in_flight_;
};

}  // namespace haneul::invoker
