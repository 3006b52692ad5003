// Private helpers shared by the cgroup v1 and v2 implementations: reading and writing control
// files, parsing their formats, bounded waits and the SIGKILL loop, and the Lambda CPU formula.
// Stateless free functions; thread-safe. Every failure is a Status naming the file.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "haneul/common/status.h"

namespace haneul::sandbox::cgroup_internal {

// Lambda allots one full vCPU at 1769 MB and CPU in proportion to memory below and above that.
inline constexpr int kMegabytesPerVcpu = 1769;
inline constexpr int64_t kCfsPeriodMicros = 100000;
inline constexpr int64_t kMinCfsQuotaMicros = 1000;  // the kernel rejects quotas under 1 ms

struct CpuShare {
  uint64_t v1_shares = 1024;  // cpu.shares, at least 2
  uint64_t v2_weight = 100;   // cpu.weight, 1..10000
  int64_t quota_micros = -1;  // per kCfsPeriodMicros; -1: no quota
};
// memory_mb <= 0 means "no CPU limit": default shares/weight and no quota.
CpuShare CpuShareForMemory(int memory_mb);

std::string JoinPath(std::string_view directory, std::string_view name);
bool PathExists(const std::string& path);
bool IsDirectory(const std::string& path);

// Writes `value` in one write(2), as the kernel wants (a control file parses each write alone).
// O_TRUNC for values (so a fake tree reads back what was written), O_APPEND for cgroup.procs.
// Returns 0 or the errno of the failed open/write, for callers that react to a specific errno.
int WriteFileErrno(const std::string& path, std::string_view value, bool append);
Status WriteFile(const std::string& path, std::string_view value);
Status AppendFile(const std::string& path, std::string_view value);
Status FailedWrite(const std::string& path, std::string_view value, int error_number);
Result<std::string> ReadFile(const std::string& path);

// Whitespace-separated words, each with a leading '+' removed (cgroup.controllers and
// cgroup.subtree_control of a real kernel list "cpu memory", a fake may hold "+cpu +memory").
std::vector<std::string> Words(std::string_view text);

Result<uint64_t> ParseUint(std::string_view text, const std::string& path);
Result<uint64_t> ReadUint(const std::string& path);
// The value of the "key N" line of a flat keyed file (memory.events, memory.oom_control,
// cgroup.events). NotFound when the file has no such line.
Result<uint64_t> ReadKeyedValue(const std::string& path, std::string_view key);
Result<std::vector<pid_t>> ReadPids(const std::string& path);

// The names of the subdirectories of `directory` (none when it does not exist).
Result<std::vector<std::string>> ListDirectories(const std::string& directory);

// mkdir that accepts an existing directory. *created tells whether this call made it.
Status MakeDirectory(const std::string& path, bool* created = nullptr);
// rmdir that accepts a missing directory and retries EBUSY briefly (the last tasks of a cgroup
// may still be exiting right after KillAll).
Status RemoveDirectory(const std::string& path);

// Polls `done` with a growing sleep (50 µs up to 5 ms) until it returns true, fails, or
// `timeout_ms` passes; then Unavailable("<what> ...").
Status WaitUntil(const std::function<Result<bool>()>& done, int timeout_ms, std::string_view what);

// SIGKILLs every pid listed in `procs_path` and re-reads it until it is empty, for at most
// kMaxKillRounds rounds (tasks forked meanwhile are caught by the next round). Refuses to kill
// the calling process. The caller thaws first where a frozen task would not die.
inline constexpr int kMaxKillRounds = 100;
Status KillListedProcesses(const std::string& procs_path);

// A cgroup or subtree name must be one or more path components without "." or ".." (the
// subtree may be nested, a name may not).
Status CheckName(std::string_view name, bool allow_slashes);

}  // namespace haneul::sandbox::cgroup_internal
