// Invoker: the execution-environment pools. Takes a warm idle environment of the function's
// current revision or cold-starts one, caps the number of live environments, and retires
// environments whose function changed or was deleted.
// Not thread-safe: loop thread only.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "environment.h"

namespace haneul::invoker {

class Invoker {
 public:
  Invoker(EnvironmentContext context, size_t max_environments);
  ~Invoker();

  // Runs one invocation of function (whose code is unpacked at code_directory). done fires once.
  // Returns false, without calling done, when no environment can be had (the caller answers
  // TooManyRequestsException).
  bool Invoke(std::shared_ptr<const FunctionConfig> function, const std::string& code_directory,
              runtime_api::Invocation invocation, bool want_tail, Environment::Done done);
  // The function changed (revision) or is gone (revision 0): idle environments of older revisions
  // stop now, busy ones when their invocation ends.
  void SetRevision(const std::string& name, uint64_t revision);

  size_t live_environments() const { return live_.size(); }
  size_t idle_environments(const std::string& name) const;

 private:
  void Park(Environment* environment);
  void Drop(Environment* environment);

  EnvironmentContext context_;
  size_t max_environments_;
  std::map<Environment*, std::shared_ptr<Environment>> live_;
  std::map<std::string, std::vector<Environment*>> idle_;
  std::map<std::string, uint64_t> revisions_;
};

}  // namespace haneul::invoker
