// cgroup v1: one directory per controller hierarchy, <root>/<controller>/<subtree>/<name>, for
// memory, pids, freezer and cpu (cpu may be mounted as "cpu,cpuacct"). Memory limits cover swap
// through memory.memsw.* when the kernel accounts swap; OOM kills are counted by the oom_kill
// line of memory.oom_control (kernel >= 4.13), peak memory by memory.max_usage_in_bytes.
// Thread-safety: see cgroup.h (a Cgroup is used from one thread at a time).
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <set>
#include <string>
#include <string_view>

#include "namespace/cgroup.h"
#include "namespace/cgroup_internal.h"

namespace haneul::sandbox {
namespace {

using namespace cgroup_internal;  // NOLINT: the helpers of this backend

constexpr size_t kMemory = 0, kPids = 1, kFreezer = 2, kCpu = 3;
constexpr std::array<const char*, 4> kControllers = {"memory", "pids", "freezer", "cpu"};
constexpr int kFreezeTimeoutMs = 2000;

class CgroupV1 : public Cgroup {
 public:
  explicit CgroupV1(std::array<std::string, 4> directories)
      : directories_(std::move(directories)) {}

  Status Apply(const CgroupLimits& limits) override {
    HANEUL_RETURN_IF_ERROR(SetMemoryLimit(limits.memory_bytes));
    std::string swappiness = File(kMemory, "memory.swappiness");
    if (PathExists(swappiness)) HANEUL_RETURN_IF_ERROR(WriteFile(swappiness, "0"));
    HANEUL_RETURN_IF_ERROR(
        WriteFile(File(kPids, "pids.max"), limits.pids == 0 ? "max" : std::to_string(limits.pids)));
    CpuShare share = CpuShareForMemory(limits.memory_mb);
    HANEUL_RETURN_IF_ERROR(WriteFile(File(kCpu, "cpu.shares"), std::to_string(share.v1_shares)));
    HANEUL_RETURN_IF_ERROR(
        WriteFile(File(kCpu, "cpu.cfs_period_us"), std::to_string(kCfsPeriodMicros)));
    return WriteFile(File(kCpu, "cpu.cfs_quota_us"), std::to_string(share.quota_micros));
  }

  std::vector<std::string> ProcsFiles() const override {
    std::vector<std::string> files;
    for (size_t i = 0; i < kControllers.size(); ++i) files.push_back(File(i, "cgroup.procs"));
    return files;
  }

  Status AddProcess(pid_t pid) override {
    if (pid <= 0) return Status::InvalidArgument("AddProcess: bad pid " + std::to_string(pid));
    std::string line = std::to_string(pid) + "\n";
    for (size_t i = 0; i < kControllers.size(); ++i) {
      HANEUL_RETURN_IF_ERROR(AppendFile(File(i, "cgroup.procs"), line));
    }
    return Status::Ok();
  }

  Status Freeze() override {
    std::string state = File(kFreezer, "freezer.state");
    HANEUL_RETURN_IF_ERROR(WriteFile(state, "FROZEN"));
    // The write starts freezing (the file reads FREEZING); it is done when it reads FROZEN.
    return WaitUntil(
        [&]() -> Result<bool> {
          auto text = ReadFile(state);
          if (!text.ok()) return text.status();
          return Words(*text) == std::vector<std::string>{"FROZEN"};
        },
        kFreezeTimeoutMs, "freezing " + directories_[kFreezer]);
  }

  Status Thaw() override { return WriteFile(File(kFreezer, "freezer.state"), "THAWED"); }

  Status KillAll() override {
    // A frozen task does not act on SIGKILL until thawed.
    HANEUL_RETURN_IF_ERROR(Thaw());
    return KillListedProcesses(File(kMemory, "cgroup.procs"));
  }

  // Read and reset around every invocation: through one descriptor kept open, not a path
  // lookup in cgroupfs each time.
  Result<uint64_t> PeakMemoryBytes() override {
    if (!OpenPeak()) return ReadUint(File(kMemory, "memory.max_usage_in_bytes"));
    char text[64];
    ssize_t got = pread(peak_fd_, text, sizeof(text), 0);
    if (got <= 0) return ReadUint(File(kMemory, "memory.max_usage_in_bytes"));
    return ParseUint(std::string_view(text, static_cast<size_t>(got)),
                     File(kMemory, "memory.max_usage_in_bytes"));
  }

  Status ResetPeakMemory() override {
    if (OpenPeak() && pwrite(peak_fd_, "0", 1, 0) == 1) {
      // cgroupfs takes the write as the new value; a plain file (a test's fake tree) also needs
      // the old digits cut off. Harmless where truncation means nothing.
      (void)!ftruncate(peak_fd_, 1);
      return Status::Ok();
    }
    return WriteFile(File(kMemory, "memory.max_usage_in_bytes"), "0");
  }

  ~CgroupV1() override {
    if (peak_fd_ >= 0) close(peak_fd_);
  }

  Result<uint64_t> OomKillCount() override {
    std::string path = File(kMemory, "memory.oom_control");
    auto count = ReadKeyedValue(path, "oom_kill");
    if (!count.ok() && count.status().IsNotFound()) {
      return Status::Unavailable(count.status().message() +
                                 " (the kernel counts OOM kills there from 4.13 on)");
    }
    return count;
  }

  Status Destroy() override {
    Status first;
    for (const std::string& directory : directories_) {
      Status removed = RemoveDirectory(directory);
      if (first.ok() && !removed.ok()) first = removed;
    }
    return first;
  }

 private:
  std::string File(size_t controller, std::string_view name) const {
    return JoinPath(directories_[controller], name);
  }

  Status SetMemoryLimit(uint64_t bytes) {
    std::string value = bytes == 0 ? "-1" : std::to_string(bytes);
    std::string limit = File(kMemory, "memory.limit_in_bytes");
    std::string memsw = File(kMemory, "memory.memsw.limit_in_bytes");
    if (!PathExists(memsw)) return WriteFile(limit, value);
    // The kernel keeps limit_in_bytes <= memsw.limit_in_bytes at every step: lowering goes
    // limit first, raising goes memsw first (the limit write then fails with EINVAL).
    int error_number = WriteFileErrno(limit, value, /*append=*/false);
    if (error_number == 0) return WriteFile(memsw, value);
    if (error_number != EINVAL) return FailedWrite(limit, value, error_number);
    HANEUL_RETURN_IF_ERROR(WriteFile(memsw, value));
    return WriteFile(limit, value);
  }

  bool OpenPeak() {
    if (peak_fd_ < 0) {
      peak_fd_ = open(File(kMemory, "memory.max_usage_in_bytes").c_str(), O_RDWR | O_CLOEXEC);
    }
    return peak_fd_ >= 0;
  }

  std::array<std::string, 4> directories_;
  int peak_fd_ = -1;  // indexed by kMemory, kPids, kFreezer, kCpu
};

class CgroupV1Manager : public CgroupManager {
 public:
  CgroupV1Manager(std::string root, std::string subtree)
      : root_(std::move(root)), subtree_(std::move(subtree)) {}

  int version() const override { return 1; }

  Result<std::unique_ptr<Cgroup>> Create(const std::string& name) override {
    HANEUL_RETURN_IF_ERROR(CheckName(subtree_, /*allow_slashes=*/true));
    HANEUL_RETURN_IF_ERROR(CheckName(name, /*allow_slashes=*/false));
    std::array<std::string, 4> directories;
    std::array<bool, 4> created = {false, false, false, false};
    for (size_t i = 0; i < kControllers.size(); ++i) {
      std::string hierarchy = JoinPath(root_, kControllers[i]);
      // Some hosts mount cpu and cpuacct together without the "cpu" symlink.
      if (i == kCpu && !IsDirectory(hierarchy) && IsDirectory(hierarchy + ",cpuacct")) {
        hierarchy += ",cpuacct";
      }
      Status made = MakeDirectories(hierarchy, subtree_);
      std::string directory = JoinPath(JoinPath(hierarchy, subtree_), name);
      if (made.ok()) made = MakeDirectory(directory, &created[i]);
      if (!made.ok()) {
        // Leave nothing half-made behind: remove what this call created.
        for (size_t j = 0; j < i; ++j) {
          if (created[j]) (void)RemoveDirectory(directories[j]);
        }
        return made;
      }
      directories[i] = std::move(directory);
    }
    return std::unique_ptr<Cgroup>(std::make_unique<CgroupV1>(std::move(directories)));
  }

  Result<std::vector<std::string>> List() override {
    std::set<std::string> names;
    for (size_t i = 0; i < kControllers.size(); ++i) {
      std::string hierarchy = JoinPath(root_, kControllers[i]);
      if (i == kCpu && !IsDirectory(hierarchy) && IsDirectory(hierarchy + ",cpuacct")) {
        hierarchy += ",cpuacct";
      }
      auto listed = ListDirectories(JoinPath(hierarchy, subtree_));
      if (!listed.ok()) return listed.status();
      names.insert(listed->begin(), listed->end());
    }
    return std::vector<std::string>(names.begin(), names.end());
  }

 private:
  // mkdir -p of `relative` (one or more components) under `base`, which must exist.
  static Status MakeDirectories(const std::string& base, const std::string& relative) {
    if (!IsDirectory(base)) return Status::Unavailable("no cgroup v1 hierarchy at " + base);
    size_t end = 0;
    while (end != std::string::npos) {
      end = relative.find('/', end + 1);
      HANEUL_RETURN_IF_ERROR(MakeDirectory(JoinPath(base, relative.substr(0, end))));
    }
    return Status::Ok();
  }

  std::string root_;
  std::string subtree_;
};

}  // namespace

std::unique_ptr<CgroupManager> MakeCgroupV1Manager(const std::string& root,
                                                   const std::string& subtree) {
  return std::make_unique<CgroupV1Manager>(root, subtree);
}

}  // namespace haneul::sandbox
