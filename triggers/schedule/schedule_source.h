// ScheduleSource: EventBridge scheduled rules (the `events` API subset, JSON 1.1 with
// `X-Amz-Target: AWSEvents.<Op>`: PutRule, DescribeRule, ListRules, DeleteRule, EnableRule,
// DisableRule, PutTargets, RemoveTargets, ListTargetsByRule) and their delivery: when a rule's
// schedule comes due, each Lambda target gets EventBridge's "Scheduled Event" (or the target's
// Input / InputPath) as a durable Event invocation (LambdaService::InvokeAsync).
// Durability: rules, targets and the scheduled time of each rule's last firing live in the
// KvStore ("triggers/rule/<name>"). A firing is recorded before it is delivered, so firings
// missed while the server was down are delivered at most once (the latest one) on restart.
// Time comes from an injected clock; with `recheck_ms` > 0 (test clocks) the clock is re-read
// that often instead of sleeping until the next firing.
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

namespace haneul::triggers {

struct ScheduleOptions {
  std::string region = "us-east-1";
  std::string account = "000000000000";
  Clock clock;              // default: wall clock
  int64_t recheck_ms = 0;   // > 0: poll the clock this often (test clocks)
};

class ScheduleSource final : public EventSource {
 public:
  ScheduleSource(EventLoop& loop, KvStore& store, FunctionInvoker& invoker,
                 ScheduleOptions options);
  ~ScheduleSource() override;

  std::string_view name() const override { return "schedule"; }
  Status Start() override;
  void Stop() override;

  // True when the request is an AWSEvents.* call; then it is answered.
  bool Handle(HttpRequest& request, const std::shared_ptr<Responder>& responder);
  // Fires every rule that is due at the clock's now (the timer calls this; tests may too).
  void Tick();

  struct Rule;

 private:
  HttpResponse Dispatch(const std::string& operation, const std::string& body);
  Status Save(const Rule& rule);
  void Arm();
  void Fire(Rule& rule, int64_t scheduled_ms);

  EventLoop& loop_;
  KvStore& store_;
  FunctionInvoker& invoker_;
  ScheduleOptions options_;
  std::map<std::string, std::unique_ptr<Rule>> rules_;  // by name
  std::unique_ptr<Timer> timer_;
  bool stopped_ = false;
};

}  // namespace haneul::triggers
