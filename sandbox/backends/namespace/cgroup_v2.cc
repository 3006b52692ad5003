// cgroup v2: one directory in the unified hierarchy, <root>/<subtree>/<name>. The manager enables
// the memory, pids and cpu controllers for the subtree (root's and subtree's
// cgroup.subtree_control) on first use; a controller the host lacks is logged once and its
// files are then missing (cpu limits are skipped; memory and pids limits fail, since running
// without them would silently drop a limit). Freezing is built in (cgroup.freeze), killing uses
// cgroup.kill (kernel >= 5.14) or a SIGKILL loop, OOM kills are memory.events oom_kill.
//
// Peak memory: memory.peak is the lifetime peak; from kernel 6.12 writing to it resets the peak
// seen *through that file descriptor* only. So a Cgroup keeps one descriptor of memory.peak
// open, read and written through it. Where the write is refused (older kernels: the file is
// read-only), ResetPeakMemory records the lifetime peak and memory.current at that moment, and
// PeakMemoryBytes answers the lifetime peak if it has grown since (so it was reached after the
// reset), else the larger of the recorded and the present memory.current: a lower bound.
// Thread-safety: see cgroup.h (a Cgroup is used from one thread at a time).
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "namespace/cgroup.h"
#include "namespace/cgroup_internal.h"

namespace haneul::sandbox {
namespace {

using namespace cgroup_internal;  // NOLINT: the helpers of this backend

constexpr int kFreezeTimeoutMs = 2000;
const std::vector<std::string> kWantedControllers = {"memory", "pids", "cpu"};

class CgroupV2 : public Cgroup {
 public:
  explicit CgroupV2(std::string directory) : directory_(std::move(directory)) {}
  ~CgroupV2() override { ClosePeak(); }

  Status Apply(const CgroupLimits& limits) override {
    HANEUL_RETURN_IF_ERROR(
        WriteFile(File("memory.max"),
                  limits.memory_bytes == 0 ? "max" : std::to_string(limits.memory_bytes)));
    std::string swap = File("memory.swap.max");
    if (PathExists(swap)) HANEUL_RETURN_IF_ERROR(WriteFile(swap, "0"));
    HANEUL_RETURN_IF_ERROR(
        WriteFile(File("pids.max"), limits.pids == 0 ? "max" : std::to_string(limits.pids)));
    // Without the cpu controller (logged when the subtree was set up) there is nothing to set.
    CpuShare share = CpuShareForMemory(limits.memory_mb);
    std::string weight = File("cpu.weight");
    if (PathExists(weight)) {
      HANEUL_RETURN_IF_ERROR(WriteFile(weight, std::to_string(share.v2_weight)));
    }
    std::string max = File("cpu.max");
    if (PathExists(max)) {
      std::string quota = share.quota_micros < 0 ? "max" : std::to_string(share.quota_micros);
      HANEUL_RETURN_IF_ERROR(WriteFile(max, quota + " " + std::to_string(kCfsPeriodMicros)));
    }
    return Status::Ok();
  }

  std::vector<std::string> ProcsFiles() const override { return {File("cgroup.procs")}; }

  Status AddProcess(pid_t pid) override {
    if (pid <= 0) return Status::InvalidArgument("AddProcess: bad pid " + std::to_string(pid));
    return AppendFile(File("cgroup.procs"), std::to_string(pid) + "\n");
  }

  Status Freeze() override {
    HANEUL_RETURN_IF_ERROR(WriteFile(File("cgroup.freeze"), "1"));
    // Freezing completes asynchronously; cgroup.events says "frozen 1" when every task stopped.
    std::string events = File("cgroup.events");
    return WaitUntil(
        [&]() -> Result<bool> {
          auto frozen = ReadKeyedValue(events, "frozen");
          if (!frozen.ok()) return frozen.status();
          return *frozen == 1;
        },
        kFreezeTimeoutMs, "freezing " + directory_);
  }

  Status Thaw() override { return WriteFile(File("cgroup.freeze"), "0"); }

  Status KillAll() override {
    std::string kill = File("cgroup.kill");
    if (PathExists(kill)) {
      // cgroup.kill reaches frozen tasks too; kill first so nothing runs again, then thaw so
      // that the cgroup does not freeze whatever joins it next.
      HANEUL_RETURN_IF_ERROR(WriteFile(kill, "1"));
      HANEUL_RETURN_IF_ERROR(Thaw());
    } else {
      HANEUL_RETURN_IF_ERROR(Thaw());  // before 5.14 a frozen task ignores SIGKILL until thawed
    }
    // With cgroup.kill this only waits for the tasks to exit (and catches any forked meanwhile).
    return KillListedProcesses(File("cgroup.procs"));
  }

  Result<uint64_t> PeakMemoryBytes() override {
    HANEUL_RETURN_IF_ERROR(OpenPeak());
    auto peak = ReadPeak();
    if (!peak.ok() || peak_resettable_ || !have_floor_ || *peak > peak_at_reset_) return peak;
    auto current = ReadUint(File("memory.current"));
    if (!current.ok()) return current.status();
    return std::max(floor_, *current);
  }

  Status ResetPeakMemory() override {
    HANEUL_RETURN_IF_ERROR(OpenPeak());
    std::string path = File("memory.peak");
    if (peak_resettable_) {
      static constexpr std::string_view kReset = "reset\n";
      if (pwrite(peak_fd_, kReset.data(), kReset.size(), 0) ==
          static_cast<ssize_t>(kReset.size())) {
        return Status::Ok();
      }
      spdlog::info("cgroup v2: {} cannot be reset ({}); using memory.current as a floor", path,
                   std::strerror(errno));
      peak_resettable_ = false;
    }
    auto peak = ReadPeak();
    if (!peak.ok()) return peak.status();
    auto current = ReadUint(File("memory.current"));
    if (!current.ok()) return current.status();
    peak_at_reset_ = *peak;
    floor_ = *current;
    have_floor_ = true;
    return Status::Ok();
  }

  Result<uint64_t> OomKillCount() override {
    return ReadKeyedValue(File("memory.events"), "oom_kill");
  }

  Status Destroy() override {
    ClosePeak();
    return RemoveDirectory(directory_);
  }

 private:
  std::string File(std::string_view name) const { return JoinPath(directory_, name); }

  Status OpenPeak() {
    if (peak_fd_ >= 0) return Status::Ok();
    std::string path = File("memory.peak");
    // Read-write from 6.12 on; before, the kernel refuses to open it for writing (EACCES).
    peak_fd_ = open(path.c_str(), O_RDWR | O_CLOEXEC);
    peak_resettable_ = peak_fd_ >= 0;
    if (peak_fd_ < 0) peak_fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (peak_fd_ < 0) return Status::FromErrno("open " + path);
    return Status::Ok();
  }

  Result<uint64_t> ReadPeak() {
    std::string path = File("memory.peak");
    char buffer[64];
    // pread at 0 makes the kernel render the file afresh, through the same (reset) descriptor.
    ssize_t got = pread(peak_fd_, buffer, sizeof(buffer) - 1, 0);
    if (got < 0) return Status::FromErrno("read " + path);
    return ParseUint(std::string_view(buffer, static_cast<size_t>(got)), path);
  }

  void ClosePeak() {
    if (peak_fd_ >= 0) close(peak_fd_);
    peak_fd_ = -1;
  }

  std::string directory_;
  int peak_fd_ = -1;
  bool peak_resettable_ = false;
  // The fallback for kernels without a resettable memory.peak (see the file comment).
  bool have_floor_ = false;
  uint64_t peak_at_reset_ = 0;
  uint64_t floor_ = 0;
};

class CgroupV2Manager : public CgroupManager {
 public:
  CgroupV2Manager(std::string root, std::string subtree)
      : root_(std::move(root)), subtree_(std::move(subtree)) {}

  int version() const override { return 2; }

  Result<std::unique_ptr<Cgroup>> Create(const std::string& name) override {
    HANEUL_RETURN_IF_ERROR(CheckName(name, /*allow_slashes=*/false));
    if (!subtree_ready_) {
      HANEUL_RETURN_IF_ERROR(PrepareSubtree());
      subtree_ready_ = true;
    }
    std::string directory = JoinPath(JoinPath(root_, subtree_), name);
    HANEUL_RETURN_IF_ERROR(MakeDirectory(directory));
    return std::unique_ptr<Cgroup>(std::make_unique<CgroupV2>(std::move(directory)));
  }

  Result<std::vector<std::string>> List() override {
    return ListDirectories(JoinPath(root_, subtree_));
  }

 private:
  // Enables the wanted controllers that `root` offers from the root down to the subtree, so
  // that each cgroup of the subtree gets memory.*, pids.* and cpu.* files.
  Status PrepareSubtree() {
    HANEUL_RETURN_IF_ERROR(CheckName(subtree_, /*allow_slashes=*/true));
    auto available = ReadFile(JoinPath(root_, "cgroup.controllers"));
    if (!available.ok()) return available.status();
    std::vector<std::string> offered = Words(*available);
    std::vector<std::string> enable;
    std::string missing;
    for (const std::string& controller : kWantedControllers) {
      if (std::find(offered.begin(), offered.end(), controller) != offered.end()) {
        enable.push_back(controller);
      } else {
        missing += (missing.empty() ? "" : ", ") + controller;
      }
    }
    if (!missing.empty()) {
      spdlog::warn(
          "cgroup v2: {} does not offer the {} controller(s); their limits are not "
          "applied",
          root_, missing);
    }
    // root, then each level of the subtree: a controller reaches a child only when its parent
    // enables it in cgroup.subtree_control.
    std::string directory = root_;
    HANEUL_RETURN_IF_ERROR(EnableControllers(directory, enable));
    size_t start = 0;
    while (start != std::string::npos) {
      size_t slash = subtree_.find('/', start);
      directory = JoinPath(
          directory,
          subtree_.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
      start = slash == std::string::npos ? std::string::npos : slash + 1;
      HANEUL_RETURN_IF_ERROR(MakeDirectory(directory));
      HANEUL_RETURN_IF_ERROR(EnableControllers(directory, enable));
    }
    return Status::Ok();
  }

  static Status EnableControllers(const std::string& directory,
                                  const std::vector<std::string>& controllers) {
    std::string path = JoinPath(directory, "cgroup.subtree_control");
    auto enabled_text = ReadFile(path);
    if (!enabled_text.ok()) return enabled_text.status();
    std::vector<std::string> enabled = Words(*enabled_text);
    std::string request;
    for (const std::string& controller : controllers) {
      if (std::find(enabled.begin(), enabled.end(), controller) != enabled.end()) continue;
      request += (request.empty() ? "+" : " +") + controller;
    }
    if (request.empty()) return Status::Ok();
    // One write for all: the kernel applies the list atomically. EBUSY here means `directory`
    // holds processes itself (the "no internal processes" rule) and haneul must run elsewhere.
    return WriteFile(path, request);
  }

  std::string root_;
  std::string subtree_;
  bool subtree_ready_ = false;
};

}  // namespace

std::unique_ptr<CgroupManager> MakeCgroupV2Manager(const std::string& root,
                                                   const std::string& subtree) {
  return std::make_unique<CgroupV2Manager>(root, subtree);
}

}  // namespace haneul::sandbox
