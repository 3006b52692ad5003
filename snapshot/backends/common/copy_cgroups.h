// Cgroups of snapshot copies, shared by the fork-server and criu backends: a copy is restored
// in its template's cgroup (or none) and moved into one of its own, with the function's limits,
// by a thread of the pool (see CgroupPool). Without the namespace sandbox (no cgroup tree) the
// types are empty and copies have no cgroup.
// Thread-safety: CgroupPool is thread-safe; a CopyCgroup is read by its worker on the loop only
// once `joined` says the pool's thread is done with it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "haneul/snapshot/snapshotter.h"
#ifdef HANEUL_SNAPSHOT_WITH_CGROUPS
#include "namespace/cgroup.h"
#endif

namespace haneul::snapshot {

#ifdef HANEUL_SNAPSHOT_WITH_CGROUPS
using CgroupPtr = std::unique_ptr<sandbox::Cgroup>;

// A copy's cgroup, shared by its ForkedWorker (loop thread) and the pool's thread: the worker
// uses it only once `joined` says the copy is in it.
struct CopyCgroup {
  CgroupPtr cgroup;
  std::atomic<bool> joined{false};
};

// Copies' cgroups, made, joined and removed on a thread of their own: creating a v1 cgroup and
// moving a task into one each took 10-25 ms on the loaded test machine (a cgroup migration waits
// for an RCU grace period per hierarchy), which a restore must not wait for (the namespace
// sandbox pre-creates and pre-joins its slots for the same reason). So a copy starts in its
// template's cgroup and moves into its own a moment later; its memory limit applies from then.
// Thread-safe; the thread ends with the pool (jobs are done in order, so a copy's cgroup is
// removed only after its join).
class CgroupPool {
 public:
  CgroupPool(std::unique_ptr<sandbox::CgroupManager> manager, size_t ready)
      : manager_(std::move(manager)), target_(ready), thread_([this] { Run(); }) {}
  ~CgroupPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
    for (auto& cgroup : ready_) (void)cgroup->Destroy();
    for (auto& job : jobs_) {
      if (job.retire && job.copy->cgroup) {
        (void)job.copy->cgroup->KillAll();
        (void)job.copy->cgroup->Destroy();
      }
    }
  }

  // Moves pid into a ready cgroup with limits, soon; nullptr when none is ready.
  std::shared_ptr<CopyCgroup> Join(pid_t pid, const sandbox::CgroupLimits& limits) {
    auto copy = std::make_shared<CopyCgroup>();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (ready_.empty()) return nullptr;
      copy->cgroup = std::move(ready_.front());
      ready_.pop_front();
      jobs_.push_back({copy, pid, limits, false});
    }
    wake_.notify_all();
    return copy;
  }

  // Removes the copy's cgroup once its tasks are gone (killing what is left).
  void Retire(std::shared_ptr<CopyCgroup> copy) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back({std::move(copy), 0, {}, true});
    }
    wake_.notify_all();
  }

 private:
  struct Job {
    std::shared_ptr<CopyCgroup> copy;
    pid_t pid;
    sandbox::CgroupLimits limits;
    bool retire;
  };

  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      if (!jobs_.empty()) {
        Job job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        sandbox::Cgroup& cgroup = *job.copy->cgroup;
        if (!job.retire) {
          if (cgroup.Apply(job.limits).ok() && cgroup.AddProcess(job.pid).ok()) {
            job.copy->joined.store(true, std::memory_order_release);
          }
        } else {
          // The copy was killed; its last task may need a moment to leave.
          for (int attempt = 0; attempt < 50 && !cgroup.Destroy().ok(); ++attempt) {
            (void)cgroup.KillAll();
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }
        lock.lock();
        continue;
      }
      if (ready_.size() < target_ && failures_ < 3) {
        lock.unlock();
        // Named like the sandbox's slots, so a later server removes those of a crashed one.
        auto cgroup = manager_->Create(sandbox::SlotCgroupName(getpid(), 1000000000ull + ++made_));
        lock.lock();
        if (cgroup.ok()) {
          ready_.push_back(std::move(*cgroup));
          failures_ = 0;
        } else {
          ++failures_;  // no cgroups to be had: copies stay in their template's
        }
        continue;
      }
      wake_.wait(lock);
    }
  }

  std::unique_ptr<sandbox::CgroupManager> manager_;
  size_t target_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<CgroupPtr> ready_;
  std::deque<Job> jobs_;
  uint64_t made_ = 0;
  int failures_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// The limits a copy's cgroup gets.
inline sandbox::CgroupLimits CopyLimits(const CopySpec& spec) {
  sandbox::CgroupLimits limits;
  limits.memory_bytes = spec.memory_limit_bytes;
  limits.memory_mb = spec.memory_mb;
  limits.pids = 1024;
  return limits;
}

// The copy's cgroup once the pool's thread moved the copy into it, else nullptr.
inline sandbox::Cgroup* Joined(const std::shared_ptr<CopyCgroup>& copy) {
  return copy && copy->joined.load(std::memory_order_acquire) ? copy->cgroup.get() : nullptr;
}

// A pool for copies of backends made with options.cgroups (nullptr when the cgroup tree cannot
// be opened: copies then stay where they were restored).
inline std::shared_ptr<CgroupPool> MakeCgroupPool(const SnapshotterOptions& options) {
  if (!options.cgroups) return nullptr;
  auto manager = sandbox::OpenCgroupManager(options.cgroup_root, options.cgroup_subtree);
  if (!manager.ok()) return nullptr;
  return std::make_shared<CgroupPool>(std::move(*manager), 2);
}
#else
struct CopyCgroup {};
class CgroupPool {};
inline std::shared_ptr<CgroupPool> MakeCgroupPool(const SnapshotterOptions&) { return nullptr; }
#endif

}  // namespace haneul::snapshot
