// OpenCgroupManager (probing the host for cgroup v2, then v1) and the helpers that both
// implementations share: control-file I/O and formats, bounded waits, the SIGKILL loop.
// Thread-safety: free functions without shared state.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "namespace/cgroup.h"
#include "namespace/cgroup_internal.h"

namespace haneul::sandbox {
namespace cgroup_internal {

CpuShare CpuShareForMemory(int memory_mb) {
  CpuShare share;
  if (memory_mb <= 0) return share;
  int64_t mb = memory_mb;
  share.v1_shares = static_cast<uint64_t>(std::max<int64_t>(2, 1024 * mb / kMegabytesPerVcpu));
  share.v2_weight =
      static_cast<uint64_t>(std::clamp<int64_t>(100 * mb / kMegabytesPerVcpu, 1, 10000));
  share.quota_micros = std::max(kMinCfsQuotaMicros, kCfsPeriodMicros * mb / kMegabytesPerVcpu);
  return share;
}

std::string JoinPath(std::string_view directory, std::string_view name) {
  std::string path(directory);
  if (!path.empty() && path.back() != '/') path += '/';
  path += name;
  return path;
}

bool PathExists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

int WriteFileErrno(const std::string& path, std::string_view value, bool append) {
  // No O_CREAT: a control file that does not exist is an error, never a new file.
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC | (append ? O_APPEND : O_TRUNC));
  if (fd < 0) return errno;
  // One write: a cgroup control file parses each write(2) on its own.
  ssize_t written = write(fd, value.data(), value.size());
  int error_number = written < 0 ? errno : 0;
  if (written >= 0 && static_cast<size_t>(written) != value.size()) error_number = EIO;
  close(fd);
  return error_number;
}

Status FailedWrite(const std::string& path, std::string_view value, int error_number) {
  std::string context = "write '";
  for (char c : value) context += c == '\n' ? ' ' : c;
  while (!context.empty() && context.back() == ' ') context.pop_back();
  context += "' to " + path;
  return Status::FromErrno(context, error_number);
}

Status WriteFile(const std::string& path, std::string_view value) {
  int error_number = WriteFileErrno(path, value, /*append=*/false);
  return error_number == 0 ? Status::Ok() : FailedWrite(path, value, error_number);
}

Status AppendFile(const std::string& path, std::string_view value) {
  int error_number = WriteFileErrno(path, value, /*append=*/true);
  return error_number == 0 ? Status::Ok() : FailedWrite(path, value, error_number);
}

Result<std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + path);
  std::string text;
  char buffer[4096];
  while (true) {
    ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got < 0) {
      if (errno == EINTR) continue;
      int error_number = errno;
      close(fd);
      return Status::FromErrno("read " + path, error_number);
    }
    if (got == 0) break;
    text.append(buffer, static_cast<size_t>(got));
  }
  close(fd);
  return text;
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) {
      std::string_view word = text.substr(start, i - start);
      if (word.front() == '+') word.remove_prefix(1);
      if (!word.empty()) words.emplace_back(word);
    }
  }
  return words;
}

namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

Result<uint64_t> ParseUint(std::string_view text, const std::string& path) {
  std::string_view trimmed = Trim(text);
  uint64_t value = 0;
  auto [end, error] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), value);
  if (trimmed.empty() || error != std::errc() || end != trimmed.data() + trimmed.size()) {
    return Status::Corruption(path + ": expected a number, read '" + std::string(trimmed) + "'");
  }
  return value;
}

Result<uint64_t> ReadUint(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseUint(*text, path);
}

Result<uint64_t> ReadKeyedValue(const std::string& path, std::string_view key) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::string_view rest = *text;
  while (!rest.empty()) {
    size_t newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    line = Trim(line);
    size_t space = line.find(' ');
    if (space == std::string_view::npos || line.substr(0, space) != key) continue;
    return ParseUint(line.substr(space + 1), path + " (" + std::string(key) + ")");
  }
  return Status::NotFound(path + " has no '" + std::string(key) + "' line");
}

Result<std::vector<pid_t>> ReadPids(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::vector<pid_t> pids;
  for (const std::string& word : Words(*text)) {
    auto value = ParseUint(word, path);
    // A pid of 0 would make kill(2) signal our own process group: never accept it.
    if (!value.ok() || *value == 0 || *value > static_cast<uint64_t>(INT32_MAX)) {
      return Status::Corruption(path + ": not a pid: '" + word + "'");
    }
    pids.push_back(static_cast<pid_t>(*value));
  }
  return pids;
}

Result<std::vector<std::string>> ListDirectories(const std::string& directory) {
  std::vector<std::string> names;
  DIR* listing = opendir(directory.c_str());
  if (listing == nullptr) {
    if (errno == ENOENT) return names;
    return Status::FromErrno("opendir " + directory);
  }
  while (dirent* entry = readdir(listing)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (IsDirectory(JoinPath(directory, name))) names.push_back(std::move(name));
  }
  closedir(listing);
  std::sort(names.begin(), names.end());
  return names;
}

Status MakeDirectory(const std::string& path, bool* created) {
  if (created != nullptr) *created = false;
  if (mkdir(path.c_str(), 0755) == 0) {
    if (created != nullptr) *created = true;
    return Status::Ok();
  }
  if (errno == EEXIST && IsDirectory(path)) return Status::Ok();
  return Status::FromErrno("mkdir " + path);
}

Status RemoveDirectory(const std::string& path) {
  // EBUSY: the kernel still counts a task that is exiting; it goes within milliseconds.
  for (int attempt = 0;; ++attempt) {
    if (rmdir(path.c_str()) == 0 || errno == ENOENT) return Status::Ok();
    if (errno != EBUSY || attempt >= 50) return Status::FromErrno("rmdir " + path);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

Status WaitUntil(const std::function<Result<bool>()>& done, int timeout_ms, std::string_view what) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto pause = std::chrono::microseconds(50);
  while (true) {
    auto result = done();
    if (!result.ok()) return result.status();
    if (*result) return Status::Ok();
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable(std::string(what) + " did not happen within " +
                                 std::to_string(timeout_ms) + " ms");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(5000));
  }
}

Status KillListedProcesses(const std::string& procs_path) {
  auto pause = std::chrono::microseconds(100);
  for (int round = 0; round < kMaxKillRounds; ++round) {
    auto pids = ReadPids(procs_path);
    if (!pids.ok()) return pids.status();
    if (pids->empty()) return Status::Ok();
    for (pid_t pid : *pids) {
      if (pid == getpid()) {
        return Status::Internal(procs_path + " lists haneul itself (pid " + std::to_string(pid) +
                                "); refusing to kill it");
      }
      // SIGKILL by pid from cgroup.procs: the kernel offers no atomic "kill this cgroup" on v1
      // (and on v2 before 5.14), so a pid may be gone (ESRCH) or, rarely, reused in between.
      if (kill(pid, SIGKILL) != 0 && errno != ESRCH) {
        return Status::FromErrno("kill " + std::to_string(pid) + " listed in " + procs_path);
      }
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(10000));
  }
  return Status::Unavailable(procs_path + " still lists tasks after " +
                             std::to_string(kMaxKillRounds) + " rounds of SIGKILL");
}

Status CheckName(std::string_view name, bool allow_slashes) {
  auto invalid = [&](std::string_view why) {
    return Status::InvalidArgument("invalid cgroup name '" + std::string(name) +
                                   "': " + std::string(why));
  };
  if (name.empty()) return invalid("empty");
  if (name.find('\n') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    return invalid("control character");
  }
  if (!allow_slashes && name.find('/') != std::string_view::npos) return invalid("contains '/'");
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    std::string_view part = name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return invalid("bad path component");
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return Status::Ok();
}

}  // namespace cgroup_internal

namespace {

using cgroup_internal::IsDirectory;
using cgroup_internal::JoinPath;

}  // namespace

Result<std::unique_ptr<CgroupManager>> OpenCgroupManager(const std::string& root,
                                                         const std::string& subtree) {
  HANEUL_RETURN_IF_ERROR(cgroup_internal::CheckName(subtree, /*allow_slashes=*/true));

  // v2 first: a host with the unified hierarchy at `root` lists its controllers there.
  std::string v2_problem;
  std::string controllers_path = JoinPath(root, "cgroup.controllers");
  auto controllers = cgroup_internal::ReadFile(controllers_path);
  if (controllers.ok()) {
    std::vector<std::string> words = cgroup_internal::Words(*controllers);
    std::string missing;
    for (const char* wanted : {"memory", "pids"}) {
      if (std::find(words.begin(), words.end(), wanted) == words.end()) {
        missing += missing.empty() ? wanted : std::string(", ") + wanted;
      }
    }
    if (missing.empty()) return MakeCgroupV2Manager(root, subtree);
    v2_problem = "cgroup v2 at " + root + " lacks the " + missing + " controller(s)";
  } else {
    v2_problem = "no cgroup v2 at " + root + " (" + controllers.status().message() + ")";
  }

  // v1 (or a hybrid host: v1 controllers beside an unused unified mount).
  std::string missing;
  for (const char* controller : {"memory", "pids", "freezer", "cpu"}) {
    std::string path = JoinPath(root, controller);
    bool found = IsDirectory(path) ||
                 (std::string_view(controller) == "cpu" && IsDirectory(path + ",cpuacct"));
    if (!found) missing += missing.empty() ? path : ", " + path;
  }
  if (missing.empty()) return MakeCgroupV1Manager(root, subtree);
  return Status::Unavailable(v2_problem + "; and no cgroup v1 hierarchy at " + missing);
}

std::string SlotCgroupName(pid_t server, uint64_t n) {
  return "slot-" + std::to_string(server) + "-" + std::to_string(n);
}

std::vector<std::string> StaleSlotCgroups(const std::vector<std::string>& names, pid_t self,
                                          const std::function<bool(pid_t)>& alive) {
  std::vector<std::string> stale;
  for (const std::string& name : names) {
    if (!name.starts_with("slot-")) continue;
    std::string_view rest = std::string_view(name).substr(5);
    pid_t server = 0;
    auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), server);
    if (error != std::errc() || server <= 0 || end == rest.data() + rest.size() || *end != '-') {
      continue;
    }
    if (server == self || alive(server)) continue;
    stale.push_back(name);
  }
  return stale;
}

void RemoveStaleSlotCgroups(CgroupManager& cgroups) {
  auto names = cgroups.List();
  if (!names.ok()) {
    spdlog::warn("sandbox: listing cgroups: {}", names.status().message());
    return;
  }
  auto alive = [](pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; };
  for (const std::string& name : StaleSlotCgroups(*names, getpid(), alive)) {
    auto cgroup = cgroups.Create(name);
    if (!cgroup.ok()) continue;
    (void)(*cgroup)->KillAll();
    Status removed = (*cgroup)->Destroy();
    if (!removed.ok()) {
      spdlog::warn("sandbox: removing stale cgroup {}: {}", name, removed.message());
    }
  }
}

}  // namespace haneul::sandbox
