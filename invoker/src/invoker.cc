// Invoker: environment pools. Environments are owned by live_; idle_ lists those ready for work,
// most recently used last (taken first, so a burst's extra environments go cold and can be reaped).
#include "invoker.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace haneul::invoker {

Invoker::Invoker(EnvironmentContext context, size_t max_environments)
    : context_(std::move(context)), max_environments_(max_environments) {}

Invoker::~Invoker() {
  // Environments' callbacks point here: detach them before the environments die.
  for (auto& [raw, environment] : live_) {
    environment->on_idle = nullptr;
    environment->on_dead = nullptr;
  }
}

size_t Invoker::idle_environments(const std::string& name) const {
  auto it = idle_.find(name);
  return it == idle_.end() ? 0 : it->second.size();
}

bool Invoker::Invoke(std::shared_ptr<const FunctionConfig> function,
                     const std::string& code_directory, runtime_api::Invocation invocation,
                     bool want_tail, Environment::Done done) {
  revisions_[function->name] = function->revision;
  auto& idle = idle_[function->name];
  while (!idle.empty()) {
    Environment* environment = idle.back();
    idle.pop_back();
    if (environment->function().revision != function->revision || !environment->idle()) {
      Drop(environment);
      continue;
    }
    environment->Invoke(std::move(invocation), want_tail, std::move(done));
    return true;
  }
  if (live_.size() >= max_environments_) {
    // Make room from other functions' idle environments before refusing.
    for (auto& [name, list] : idle_) {
      if (list.empty()) continue;
      Environment* victim = list.front();
      list.erase(list.begin());
      Drop(victim);
      break;
    }
    if (live_.size() >= max_environments_) return false;
  }
  auto environment = std::make_shared<Environment>(context_, function, code_directory);
  environment->on_idle = [this](Environment* e) { Park(e); };
  environment->on_dead = [this](Environment* e) { Drop(e); };
  std::string error_type;
  std::string error_message;
  if (!environment->Start(&error_type, &error_message)) {
    InvokeOutcome outcome;
    outcome.function_error = true;
    outcome.payload = nlohmann::json{{"errorType", error_type},
                                     {"errorMessage", "RequestId: " + invocation.request_id + " " +
                                                          error_message}}
                          .dump();
    context_.loop->Post([done = std::move(done), outcome = std::move(outcome)]() mutable {
      done(std::move(outcome));
    });
    return true;
  }
  live_[environment.get()] = environment;
  environment->Invoke(std::move(invocation), want_tail, std::move(done));
  return true;
}

void Invoker::SetRevision(const std::string& name, uint64_t revision) {
  revisions_[name] = revision;
  auto it = idle_.find(name);
  if (it == idle_.end()) return;
  auto list = std::move(it->second);
  idle_.erase(it);
  for (Environment* environment : list) Drop(environment);
}

void Invoker::Park(Environment* environment) {
  if (!live_.count(environment)) return;
  const std::string& name = environment->function().name;
  auto revision = revisions_.find(name);
  if (revision == revisions_.end() || revision->second != environment->function().revision) {
    Drop(environment);
    return;
  }
  idle_[name].push_back(environment);
}

void Invoker::Drop(Environment* environment) {
  auto it = live_.find(environment);
  if (it == live_.end()) return;
  auto& idle = idle_[environment->function().name];
  idle.erase(std::remove(idle.begin(), idle.end(), environment), idle.end());
  auto owned = std::move(it->second);
  live_.erase(it);
  owned->on_idle = nullptr;
  owned->on_dead = nullptr;
  // Destroy from the loop, never from inside one of the environment's own call stacks.
  context_.loop->Post([owned = std::move(owned)]() mutable { owned.reset(); });
}

}  // namespace haneul::invoker
