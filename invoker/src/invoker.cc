// Invoker: environment pools. Environments are owned by live_; idle_ lists those ready for work
// per pool, most recently used last (taken first, so a burst's extra environments go cold and
// are reaped); lru_ orders all idle environments for eviction under the memory budget.
#include "invoker.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace haneul::invoker {

Invoker::Invoker(EnvironmentContext context, PoolOptions options)
    : context_(std::move(context)), options_(options) {}

Invoker::~Invoker() {
  // Environments' callbacks point here: detach them before the environments die.
  for (auto& [raw, live] : live_) {
    live.environment->on_idle = nullptr;
    live.environment->on_dead = nullptr;
    // A frozen process does not die from SIGKILL until thawed.
    if (live.frozen) live.environment->Thaw();
  }
  for (auto& [key, entry] : snapshots_) {
    if (entry.template_environment) {
      entry.template_environment->on_idle = nullptr;
      entry.template_environment->on_dead = nullptr;
    }
  }
}

size_t Invoker::idle_environments(const std::string& pool_key) const {
  auto it = idle_.find(pool_key);
  return it == idle_.end() ? 0 : it->second.size();
}

size_t Invoker::frozen_environments() const {
  size_t frozen = 0;
  for (const auto& [raw, live] : live_) frozen += live.frozen ? 1 : 0;
  return frozen;
}

void Invoker::Unidle(Live& live) {
  live.idle = false;
  live.freeze_timer.reset();
  live.reap_timer.reset();
  Environment* environment = live.environment.get();
  lru_.remove(environment);
  auto& idle = idle_[environment->function().PoolKey()];
  idle.erase(std::remove(idle.begin(), idle.end(), environment), idle.end());
  if (live.frozen) {
    environment->Thaw();
    live.frozen = false;
  }
}

bool Invoker::MakeRoom(int64_t memory_mb) {
  auto over = [&] {
    return live_.size() >= options_.max_environments ||
           (options_.memory_budget_mb > 0 &&
            memory_in_use_mb_ + memory_mb > options_.memory_budget_mb);
  };
  while (over() && !lru_.empty()) Drop(lru_.front());
  return !over();
}

bool Invoker::Invoke(std::shared_ptr<const FunctionConfig> function,
                     const std::string& code_directory, runtime_api::Invocation invocation,
                     bool want_tail, Environment::Done done) {
  std::string key = function->PoolKey();
  revisions_[key] = function->revision;
  auto& idle = idle_[key];
  while (!idle.empty()) {
    Environment* environment = idle.back();
    auto it = live_.find(environment);
    if (it == live_.end()) {
      idle.pop_back();
      continue;
    }
    Unidle(it->second);
    if (environment->function().revision != function->revision || !environment->idle()) {
      Drop(environment);
      continue;
    }
    environment->Invoke(std::move(invocation), want_tail, std::move(done));
    return true;
  }
  // An environment still initialising off the request path (provisioned or prewarmed) takes
  // the invocation when its init is over, sooner than a new cold start would.
  for (auto& [raw, live] : live_) {
    if (live.warming && raw->function().PoolKey() == key &&
        raw->function().revision == function->revision && !raw->dead()) {
      live.warming = false;
      raw->Invoke(std::move(invocation), want_tail, std::move(done));
      return true;
    }
  }
  if (!MakeRoom(function->memory_mb)) return false;
  auto environment = std::make_shared<Environment>(context_, function, code_directory);
  environment->on_idle = [this](Environment* e) { Park(e); };
  environment->on_dead = [this](Environment* e) { Drop(e); };
  UseSnapshot(*environment, *function);
  std::string error_type;
  std::string error_message;
  if (!environment->Start(&error_type, &error_message)) {
    InvokeOutcome outcome;
    outcome.function_error = true;
    outcome.executed_version = function->version;
    outcome.payload = nlohmann::json{{"errorType", error_type},
                                     {"errorMessage",
                                      "RequestId: " + invocation.request_id + " " + error_message}}
                          .dump();
    context_.loop->Post([done = std::move(done), outcome = std::move(outcome)]() mutable {
      done(std::move(outcome));
    });
    return true;
  }
  memory_in_use_mb_ += function->memory_mb;
  Live& live = live_[environment.get()];
  live.environment = environment;
  environment->Invoke(std::move(invocation), want_tail, std::move(done));
  return true;
}

void Invoker::SetRevision(const std::string& pool_key, uint64_t revision) {
  revisions_[pool_key] = revision;
  if (auto target = provisioned_.find(pool_key);
      target != provisioned_.end() && target->second.function->revision != revision) {
    provisioned_.erase(target);
  }
  auto it = idle_.find(pool_key);
  if (it == idle_.end()) return;
  auto list = it->second;
  for (Environment* environment : list) Drop(environment);
  idle_.erase(pool_key);
}

void Invoker::RetireFunction(const std::string& name) {
  std::vector<std::string> keys;
  for (const auto& [key, revision] : revisions_) {
    if (key.compare(0, name.size() + 1, name + ":") == 0) keys.push_back(key);
  }
  for (const auto& key : keys) SetRevision(key, 0);
}

void Invoker::Park(Environment* environment) {
  auto it = live_.find(environment);
  if (it == live_.end()) return;
  std::string key = environment->function().PoolKey();
  auto revision = revisions_.find(key);
  if (revision == revisions_.end() || revision->second != environment->function().revision) {
    Drop(environment);
    return;
  }
  Live& live = it->second;
  live.idle = true;
  live.warming = false;
  idle_[key].push_back(environment);
  if (!live.provisioned) lru_.push_back(environment);
  // Freeze only after the environment stayed idle a moment: a busy pool never pays for it.
  // A zero freeze_after turns freezing off.
  if (options_.freeze_after.count() > 0)
    live.freeze_timer = std::make_unique<Timer>(*context_.loop);
  if (live.freeze_timer)
    live.freeze_timer->Start(options_.freeze_after, [this, environment] {
      auto found = live_.find(environment);
      if (found == live_.end() || !found->second.idle) return;
      found->second.frozen = environment->Freeze();
    });
  if (live.provisioned) return;  // kept until deprovisioned
  live.reap_timer = std::make_unique<Timer>(*context_.loop);
  live.reap_timer->Start(options_.keep_alive, [this, environment] {
    auto found = live_.find(environment);
    if (found != live_.end() && found->second.idle) Drop(environment);
  });
}

void Invoker::Drop(Environment* environment) {
  auto it = live_.find(environment);
  if (it == live_.end()) return;
  Live live = std::move(it->second);
  live_.erase(it);
  live.freeze_timer.reset();
  live.reap_timer.reset();
  auto& idle = idle_[environment->function().PoolKey()];
  idle.erase(std::remove(idle.begin(), idle.end(), environment), idle.end());
  lru_.remove(environment);
  memory_in_use_mb_ -= environment->function().memory_mb;
  auto owned = std::move(live.environment);
  if (live.provisioned) {
    std::string key = owned->function().PoolKey();
    auto target = provisioned_.find(key);
    if (target != provisioned_.end() &&
        target->second.function->revision == owned->function().revision) {
      // Died during init: do not loop restarting a function that cannot start.
      if (!owned->ready_once()) target->second.failed = true;
      context_.loop->Post([this, key] { Replenish(key); });
    }
  }
  owned->on_idle = nullptr;
  owned->on_dead = nullptr;
  if (live.frozen) owned->Thaw();  // SIGKILL does not end a frozen process
  // Destroy from the loop, never from inside one of the environment's own call stacks.
  context_.loop->Post([owned = std::move(owned)]() mutable { owned.reset(); });
}

Environment* Invoker::StartIdle(const std::shared_ptr<const FunctionConfig>& function,
                                const std::string& code_directory, bool provisioned) {
  if (!MakeRoom(function->memory_mb)) return nullptr;
  revisions_.try_emplace(function->PoolKey(), function->revision);
  auto environment = std::make_shared<Environment>(context_, function, code_directory);
  environment->on_idle = [this](Environment* e) { Park(e); };
  environment->on_dead = [this](Environment* e) { Drop(e); };
  environment->MarkProvisioned();
  UseSnapshot(*environment, *function);
  std::string error_type;
  std::string error_message;
  if (!environment->Start(&error_type, &error_message)) return nullptr;
  memory_in_use_mb_ += function->memory_mb;
  Live& live = live_[environment.get()];
  live.environment = environment;
  live.provisioned = provisioned;
  live.warming = true;
  return environment.get();
}

size_t Invoker::ProvisionedLive(const std::string& pool_key) const {
  size_t count = 0;
  for (const auto& [raw, live] : live_) {
    if (live.provisioned && raw->function().PoolKey() == pool_key) ++count;
  }
  return count;
}

size_t Invoker::provisioned_ready(const std::string& pool_key) const {
  size_t count = 0;
  for (const auto& [raw, live] : live_) {
    if (live.provisioned && raw->function().PoolKey() == pool_key && raw->ready_once()) ++count;
  }
  return count;
}

bool Invoker::provisioned_failed(const std::string& pool_key) const {
  auto it = provisioned_.find(pool_key);
  return it != provisioned_.end() && it->second.failed;
}

void Invoker::Replenish(const std::string& pool_key) {
  auto it = provisioned_.find(pool_key);
  if (it == provisioned_.end() || it->second.failed) return;
  Provisioned& target = it->second;
  size_t live = ProvisionedLive(pool_key);
  while (live < target.count) {
    if (!StartIdle(target.function, target.code_directory, /*provisioned=*/true)) {
      target.failed = true;
      return;
    }
    ++live;
  }
}

void Invoker::SetProvisioned(std::shared_ptr<const FunctionConfig> function,
                             const std::string& code_directory, size_t count) {
  std::string key = function->PoolKey();
  // Shrinking (or stopping): surplus provisioned environments become ordinary ones, reaped
  // after the keep-alive like any other.
  size_t live = ProvisionedLive(key);
  for (auto& [raw, entry] : live_) {
    if (live <= count) break;
    if (entry.provisioned && raw->function().PoolKey() == key) {
      entry.provisioned = false;
      --live;
      if (entry.idle) {
        lru_.push_back(raw);
        Environment* environment = raw;
        entry.reap_timer = std::make_unique<Timer>(*context_.loop);
        entry.reap_timer->Start(options_.keep_alive, [this, environment] {
          auto found = live_.find(environment);
          if (found != live_.end() && found->second.idle) Drop(environment);
        });
      }
    }
  }
  if (count == 0) {
    provisioned_.erase(key);
    return;
  }
  provisioned_[key] = Provisioned{std::move(function), code_directory, count, false};
  Replenish(key);
}

void Invoker::Prewarm(std::shared_ptr<const FunctionConfig> function,
                      const std::string& code_directory) {
  StartIdle(function, code_directory, /*provisioned=*/false);
}

// ---- SnapStart ----------------------------------------------------------------------------

void Invoker::UseSnapshot(Environment& environment, const FunctionConfig& function) {
  auto it = snapshots_.find(function.PoolKey());
  if (it == snapshots_.end() || !it->second.snapshot || it->second.revision != function.revision) {
    return;
  }
  environment.RestoreFrom(it->second.snapshot.get());
}

void Invoker::TakeSnapshot(std::shared_ptr<const FunctionConfig> function,
                           const std::string& code_directory, SnapshotDone done) {
  std::string key = function->PoolKey();
  auto fail = [this, &done](std::string reason) {
    context_.loop->Post([done = std::move(done), reason = std::move(reason)] {
      done(Status::Unavailable(reason));
    });
  };
  if (!snapshotter_) return fail("Runtime.Unknown: no snapshot backend is available");
  DropSnapshot(key);
  auto environment = std::make_shared<Environment>(context_, function, code_directory);
  environment->BecomeTemplate(snapshotter_.get());
  environment->MarkProvisioned();
  environment->on_idle = [this, key](Environment*) {
    context_.loop->Post([this, key] { OnTemplateReady(key); });
  };
  environment->on_dead = [this, key](Environment*) {
    context_.loop->Post([this, key] { OnTemplateDead(key); });
  };
  std::string error_type;
  std::string error_message;
  if (!environment->Start(&error_type, &error_message)) {
    return fail(error_type + ": " + error_message);
  }
  Snapshot& entry = snapshots_[key];
  entry.template_environment = std::move(environment);
  entry.revision = function->revision;
  entry.done = std::move(done);
}

void Invoker::OnTemplateReady(const std::string& pool_key) {
  auto it = snapshots_.find(pool_key);
  if (it == snapshots_.end() || !it->second.template_environment || it->second.snapshot) return;
  Snapshot& entry = it->second;
  auto captured = entry.template_environment->CaptureTemplate();
  auto done = std::move(entry.done);
  entry.done = nullptr;
  if (!captured.ok()) {
    spdlog::warn("SnapStart {}: capturing the template failed: {}", pool_key,
                 captured.status().message());
    auto owned = std::move(entry.template_environment);
    owned->on_idle = nullptr;
    owned->on_dead = nullptr;
    snapshots_.erase(it);
    context_.loop->Post([owned = std::move(owned)]() mutable { owned.reset(); });
    if (done) done(Status::Unavailable("Runtime.Unknown: " + captured.status().message()));
    return;
  }
  entry.snapshot = std::move(*captured);
  spdlog::info("SnapStart {}: snapshot ready", pool_key);
  if (done) done(Status::Ok());
}

void Invoker::OnTemplateDead(const std::string& pool_key) {
  auto it = snapshots_.find(pool_key);
  if (it == snapshots_.end() || !it->second.template_environment) return;
  Snapshot& entry = it->second;
  auto owned = std::move(entry.template_environment);
  owned->on_idle = nullptr;
  owned->on_dead = nullptr;
  std::string reason = owned->InitFailure();
  context_.loop->Post([owned = std::move(owned)]() mutable { owned.reset(); });
  if (entry.snapshot) {
    // Its copies fail to restore from now on and cold-start instead, saying so in their logs.
    spdlog::warn("SnapStart {}: the template died; new environments cold-start", pool_key);
    return;
  }
  auto done = std::move(entry.done);
  snapshots_.erase(it);
  if (done) done(Status::Unavailable(reason));
}

void Invoker::DropSnapshot(const std::string& pool_key) {
  auto it = snapshots_.find(pool_key);
  if (it == snapshots_.end()) return;
  auto owned = std::move(it->second.template_environment);
  snapshots_.erase(it);
  if (!owned) return;
  owned->on_idle = nullptr;
  owned->on_dead = nullptr;
  context_.loop->Post([owned = std::move(owned)]() mutable { owned.reset(); });
}

}  // namespace haneul::invoker
