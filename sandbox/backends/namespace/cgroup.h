// Cgroups for execution environments, behind one interface with a v1 and a v2 implementation,
// chosen at start-up by probing the host (the machines here mount v1 for memory, pids, freezer
// and cpu; most users' hosts mount the unified v2 hierarchy).
//
// A CgroupManager owns haneul's subtree (v1: /sys/fs/cgroup/<controller>/haneul/..., v2:
// /sys/fs/cgroup/haneul/...). Each execution environment gets one Cgroup, created before the
// worker starts (slots can be pre-created so that a start only joins one).
// Thread-safety: a Cgroup is used from one thread at a time; the manager is thread-compatible.
// Failure: every call returns a Status naming the file it could not read or write.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "haneul/common/status.h"

namespace haneul::sandbox {

struct CgroupLimits {
  uint64_t memory_bytes = 0;  // hard limit, no swap on top (0: no limit)
  uint64_t pids = 0;          // max tasks (0: no limit)
  int memory_mb = 128;        // CPU share follows memory as on Lambda: 1769 MB = one vCPU
};

class Cgroup {
 public:
  virtual ~Cgroup() = default;
  Cgroup() = default;
  Cgroup(const Cgroup&) = delete;
  Cgroup& operator=(const Cgroup&) = delete;

  virtual Status Apply(const CgroupLimits& limits) = 0;
  // Moves a process (and so its future children) into this cgroup.
  virtual Status AddProcess(pid_t pid) = 0;
  // The cgroup.procs files into which a process writes "0" to join this cgroup itself (what a
  // worker cloned with CLONE_VM does, without allocating).
  virtual std::vector<std::string> ProcsFiles() const = 0;
  virtual Status Freeze() = 0;
  virtual Status Thaw() = 0;
  // Kills every process in the cgroup (thawing first where needed: a frozen task does not die).
  virtual Status KillAll() = 0;
  // Peak memory since the last ResetPeakMemory (v1 memory.max_usage_in_bytes, v2 memory.peak).
  virtual Result<uint64_t> PeakMemoryBytes() = 0;
  virtual Status ResetPeakMemory() = 0;
  // How many times the kernel's OOM killer killed a task of this cgroup (v1 memory.oom_control
  // oom_kill, v2 memory.events oom_kill). Compare before and after an invocation.
  virtual Result<uint64_t> OomKillCount() = 0;
  // Removes the cgroup directories (the cgroup must be empty: KillAll and reap first).
  virtual Status Destroy() = 0;
};

class CgroupManager {
 public:
  virtual ~CgroupManager() = default;
  CgroupManager() = default;
  CgroupManager(const CgroupManager&) = delete;
  CgroupManager& operator=(const CgroupManager&) = delete;

  virtual int version() const = 0;  // 1 or 2
  // Creates (or re-uses) the cgroup named `name` under haneul's subtree.
  virtual Result<std::unique_ptr<Cgroup>> Create(const std::string& name) = 0;
  // The names of the cgroups under haneul's subtree (v1: in any controller's hierarchy), sorted.
  // An absent subtree is an empty list.
  virtual Result<std::vector<std::string>> List() = 0;
};

// The cgroup of the n-th environment slot of the server with process id `server`:
// "slot-<server>-<n>". The server's pid in the name lets a later server find those of a crashed one.
std::string SlotCgroupName(pid_t server, uint64_t n);
// The slot cgroups among `names` whose server is gone: not `self`, and `alive(pid)` false.
std::vector<std::string> StaleSlotCgroups(const std::vector<std::string>& names, pid_t self,
                                          const std::function<bool(pid_t)>& alive);
// Kills the tasks of and removes the slot cgroups of servers that are gone (a crash leaves them
// behind). Those of servers still running, other servers on this host included, stay. Logs what
// it cannot remove.
void RemoveStaleSlotCgroups(CgroupManager& cgroups);

// Probes `root` (normally /sys/fs/cgroup; tests pass a fake tree) and returns the v2 manager when
// root is a cgroup2 mount with the memory and pids controllers available, else the v1 manager
// when memory, pids, freezer and cpu hierarchies exist, else an error saying what is missing.
// `subtree` is the name of haneul's folder ("haneul").
Result<std::unique_ptr<CgroupManager>> OpenCgroupManager(const std::string& root,
                                                         const std::string& subtree);
// The two implementations, for tests that drive a fake filesystem directly.
std::unique_ptr<CgroupManager> MakeCgroupV1Manager(const std::string& root,
                                                   const std::string& subtree);
std::unique_ptr<CgroupManager> MakeCgroupV2Manager(const std::string& root,
                                                   const std::string& subtree);

}  // namespace haneul::sandbox
