// Invoker: the execution-environment pools, one per function version ("NAME:VERSION"). Takes the
// most recently used idle environment of the version's current revision or cold-starts one;
// freezes idle environments after a short grace (cgroup freezer, so they cost no CPU) and thaws
// them on reuse; reaps those idle longer than the keep-alive; keeps the sum of the environments'
// MemorySize within a host budget by evicting idle ones least recently used first; retires
// environments whose function changed or was deleted. Concurrency limits are the caller's
// (ConcurrencyLimiter); max_environments is only a safety cap.
// Not thread-safe: loop thread only.
#pragma once

#include <chrono>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "environment.h"
#include "haneul/common/event_loop.h"

namespace haneul::invoker {

struct PoolOptions {
  size_t max_environments = 4096;                // safety cap on live environments
  std::chrono::milliseconds keep_alive{600000};  // idle environments are reaped after this
  std::chrono::milliseconds freeze_after{100};   // idle this long: frozen (if the backend can)
  int64_t memory_budget_mb = 0;                  // sum of MemorySize of live environments
};

class Invoker {
 public:
  Invoker(EnvironmentContext context, PoolOptions options);
  ~Invoker();

  // Runs one invocation of function (whose code is unpacked at code_directory). done fires once.
  // Returns false, without calling done, when no environment can be had (the memory budget or
  // the safety cap; the caller answers TooManyRequestsException).
  bool Invoke(std::shared_ptr<const FunctionConfig> function, const std::string& code_directory,
              runtime_api::Invocation invocation, bool want_tail, Environment::Done done);
  // The pool's configuration changed (revision) or is gone (revision 0): idle environments of
  // older revisions stop now, busy ones when their invocation ends.
  void SetRevision(const std::string& pool_key, uint64_t revision);
  // Retires every pool of the function (it was deleted).
  void RetireFunction(const std::string& name);

  // Keeps count initialised environments of function (a published version) ready: started now,
  // never reaped or evicted, replaced when one dies after init. count 0 stops provisioning.
  void SetProvisioned(std::shared_ptr<const FunctionConfig> function,
                      const std::string& code_directory, size_t count);
  // Provisioned environments of the pool that finished init, and whether provisioning failed
  // (an environment died during init; it is not retried until SetProvisioned is called again).
  size_t provisioned_ready(const std::string& pool_key) const;
  bool provisioned_failed(const std::string& pool_key) const;
  // Starts one environment of function without an invocation (prewarming); it joins the pool.
  void Prewarm(std::shared_ptr<const FunctionConfig> function, const std::string& code_directory);

  // SnapStart. The backend that snapshots initialised environments (none: SnapStart versions
  // cold-start like any other, and TakeSnapshot fails at once).
  void SetSnapshotter(std::unique_ptr<snapshot::Snapshotter> snapshotter) {
    snapshotter_ = std::move(snapshotter);
  }
  bool has_snapshotter() const { return snapshotter_ != nullptr; }
  // Initialises function (a published version) off the request path and keeps it as the
  // version's snapshot template; done fires once from the loop: ok when the snapshot is ready, else
  // the reason ("Runtime.ExitError: ..."). From then on, new environments of the version are
  // restored copies of it (and cold starts, logged, when the template is gone).
  using SnapshotDone = std::function<void(Status)>;
  void TakeSnapshot(std::shared_ptr<const FunctionConfig> function,
                    const std::string& code_directory, SnapshotDone done);
  // Ends the version's template (its version was deleted). done of a pending one never fires.
  void DropSnapshot(const std::string& pool_key);

  size_t live_environments() const { return live_.size(); }
  size_t idle_environments(const std::string& pool_key) const;
  size_t frozen_environments() const;
  int64_t memory_in_use_mb() const { return memory_in_use_mb_; }

 private:
  struct Live {
    std::shared_ptr<Environment> environment;
    std::unique_ptr<Timer> freeze_timer;
    std::unique_ptr<Timer> reap_timer;
    bool frozen = false;
    bool idle = false;
    bool provisioned = false;
    bool warming = false;  // started without an invocation, init not over yet
  };
  struct Provisioned {
    std::shared_ptr<const FunctionConfig> function;
    std::string code_directory;
    size_t count = 0;
    bool failed = false;
  };
  // Starts an environment without an invocation; nullptr when it could not be had.
  Environment* StartIdle(const std::shared_ptr<const FunctionConfig>& function,
                         const std::string& code_directory, bool provisioned);
  void Replenish(const std::string& pool_key);
  size_t ProvisionedLive(const std::string& pool_key) const;
  void Park(Environment* environment);
  void Drop(Environment* environment);
  void Unidle(Live& live);
  bool MakeRoom(int64_t memory_mb);

  EnvironmentContext context_;
  PoolOptions options_;
  std::map<Environment*, Live> live_;
  std::map<std::string, std::vector<Environment*>> idle_;  // most recently used last
  std::list<Environment*> lru_;  // idle environments, least recently used first
  std::map<std::string, uint64_t> revisions_;
  std::map<std::string, Provisioned> provisioned_;  // by pool key
  // SnapStart templates by pool key.
  struct Snapshot {
    std::shared_ptr<Environment> template_environment;  // null once it died
    std::unique_ptr<snapshot::Template> snapshot;         // null until captured
    uint64_t revision = 0;
    SnapshotDone done;
  };
  void OnTemplateReady(const std::string& pool_key);
  void OnTemplateDead(const std::string& pool_key);
  // Makes a new environment of function restore from its version's template, if there is one.
  void UseSnapshot(Environment& environment, const FunctionConfig& function);
  std::unique_ptr<snapshot::Snapshotter> snapshotter_;
  std::map<std::string, Snapshot> snapshots_;
  int64_t memory_in_use_mb_ = 0;
};

}  // namespace haneul::invoker
