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

// Paths in a WorkerSpec's argv and environment are as the worker sees them: build them from
// Sandbox::task_root() and runtime_root(). The backend adds AWS_LAMBDA_RUNTIME_API itself.
struct WorkerSpec {
  std::vector<std::string> argv;         // argv[0] is the program path, as the worker sees it
  std::vector<std::string> environment;  // "NAME=value", the whole environment
  std::string code_directory;            // host path of the function code (shown read-only)
  std::string runtimes_directory;        // host path of runtimes/ (shown read-only)
  std::string scratch_directory;         // host path of a folder of this environment's own
  std::string name;                      // unique name of the environment (cgroup, hostname)
  uint64_t memory_limit_bytes = 0;       // MemorySize; backends that cannot enforce it ignore it
  uint64_t ephemeral_storage_bytes = 0;  // size of /tmp
  int memory_mb = 128;
  // An image function's unpacked root filesystem (host path, shared read-only by every environment
  // of the image); empty for zip packages, whose root is built from the host's /usr. With a
  // rootfs, code_directory and runtimes_directory are not mounted: the image holds its code.
  // Only the namespace backend runs images (the process backend refuses them).
  std::string rootfs;
  std::string working_directory;  // where the program starts, as the worker sees it (/var/task)
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
  // A listening TCP socket that the worker reaches as AWS_LAMBDA_RUNTIME_API (owned by the
  // Worker; the invoker serves the Runtime API on it).
  virtual int runtime_api_fd() const = 0;
  // A listening TCP socket at 127.0.0.1:4747 inside the worker's private network, where the
  // invoker serves the bundled services (S3, DynamoDB, Lambda, ...) to the handler's SDK; -1 when
  // the worker shares the host's network and reaches the server's own endpoint instead.
  virtual int services_fd() const { return -1; }
  // True when the worker's last death was the memory limit's OOM killer.
  virtual bool OomKilled() = 0;
  // Kills every process of the worker (thawing first where the backend freezes).
  virtual void Kill() = 0;
  // Reaps the worker if it has exited; returns false while it runs. *wait_status as waitpid's.
  virtual bool TryReap(int* wait_status) = 0;
  // Resets the peak-memory counter (called before each invocation).
  virtual void ResetPeakMemory() = 0;
  // Peak memory use since the last reset, in bytes.
  virtual uint64_t PeakMemoryBytes() = 0;
  // Stops every process of the worker so an idle environment costs no CPU (cgroup freezer), and
  // resumes them. Backends without a freezer return false and do nothing. Kill() works on a
  // frozen worker.
  virtual bool Freeze() { return false; }
  virtual bool Thaw() { return false; }
};

class Sandbox {
 public:
  virtual ~Sandbox() = default;
  Sandbox() = default;
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  virtual std::string name() const = 0;
  // Where the worker sees the function code and the runtimes folder.
  virtual std::string task_root(const std::string& code_directory) const = 0;
  virtual std::string runtime_root(const std::string& runtimes_directory) const = 0;
  // True when each worker has a network of its own (then Worker::services_fd is a socket inside
  // it); false when workers share the host's network.
  virtual bool private_network() const { return false; }
  // Starts a worker. A program that does not exist or cannot be executed is a NotFound /
  // InvalidArgument status (the invoker reports Runtime.InvalidEntrypoint).
  virtual Result<std::unique_ptr<Worker>> Start(const WorkerSpec& spec) = 0;
};

struct SandboxOptions {
  uid_t uid = 993;  // the unprivileged user handlers run as (Lambda's sbx_user1051 is 993)
  gid_t gid = 990;
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string cgroup_subtree = "haneul";
  // Workers the namespace backend keeps started ahead, waiting for a function (0: none; each
  // start then pays for namespaces and the cgroup join itself).
  size_t ready_slots = 2;
  // An empty host folder on which each worker mounts its root inside its own mount namespace.
  std::string root_mountpoint = "/run/haneul-sandbox/root";
  // false (Lambda's default here): each worker has a network namespace of its own with only
  // loopback, so no outbound network. true: workers share the host's network (internet and host
  // ports reachable, DNS from the host's /etc/resolv.conf); the Runtime API then listens on a free
  // host loopback port, and environments can reach each other's.
  bool host_network = false;
  // The same for image functions: each worker mounts an overlay of the image there.
  std::string image_mountpoint = "/run/haneul-sandbox/image";
};

// The backends built into this binary, by name: "process", "namespace".
std::vector<std::string> SandboxBackends();
Result<std::unique_ptr<Sandbox>> MakeSandbox(const std::string& name,
                                             const SandboxOptions& options = {});

}  // namespace haneul::sandbox
