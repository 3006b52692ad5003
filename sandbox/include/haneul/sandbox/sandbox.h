// Sandbox: starts and confines the worker process of one execution environment.
//
// A Sandbox backend (process today; namespace next) turns a WorkerSpec into a running Worker.
// Backends are picked by name from an explicit table (MakeSandbox), never self-registered.
// Thread-safety: Start() may be called from one thread at a time; a Worker is owned by one thread.
// Failure: Start() returns an error Status and leaves nothing running.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "haneul/common/status.h"

namespace haneul::sandbox {

struct WorkerSpec {
  std::vector<std::string> argv;         // argv[0] is the program path
  std::vector<std::string> environment;  // "NAME=value", the whole environment
  std::string working_directory;         // LAMBDA_TASK_ROOT, the function code (read-only)
  std::string scratch_directory;         // the environment's own writable /tmp
  uint64_t memory_limit_bytes = 0;       // MemorySize; backends that cannot enforce it ignore it
  uint64_t ephemeral_storage_bytes = 0;  // size of /tmp
};

// A running worker. Destroying it kills the whole process tree and reaps it.
class Worker {
 public:
  virtual ~Worker() = default;
  Worker() = default;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  virtual pid_t pid() const = 0;
  // Read ends of the worker's stdout and stderr pipes (non-blocking; the Worker keeps ownership).
  virtual int stdout_fd() const = 0;
  virtual int stderr_fd() const = 0;
  // A pidfd that becomes readable when the worker exits (-1 if the kernel has none).
  virtual int exit_fd() const = 0;
  // Kills every process of the worker (thawing first where the backend freezes).
  virtual void Kill() = 0;
  // Reaps the worker if it has exited; returns false while it runs. *wait_status as waitpid's.
  virtual bool TryReap(int* wait_status) = 0;
  // Resets the peak-memory counter (called before each invocation).
  virtual void ResetPeakMemory() = 0;
  // Peak memory use since the last reset, in bytes.
  virtual uint64_t PeakMemoryBytes() = 0;
};

class Sandbox {
 public:
  virtual ~Sandbox() = default;
  Sandbox() = default;
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  virtual std::string name() const = 0;
  virtual Result<std::unique_ptr<Worker>> Start(const WorkerSpec& spec) = 0;
};

// The backends built into this binary, by name: "process".
std::vector<std::string> SandboxBackends();
Result<std::unique_ptr<Sandbox>> MakeSandbox(const std::string& name);

}  // namespace haneul::sandbox
