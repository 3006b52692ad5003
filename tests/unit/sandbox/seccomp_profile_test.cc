// The worker's privilege drop and seccomp filter, exercised for real. Both are process-wide and
// irreversible, so every test forks a child that drops privileges (and installs the filter),
// tries what a function must not do, and reports each surprise to the parent through a pipe.
// Needs root (skipped otherwise), as the sandbox does.
#include "namespace/seccomp_profile.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>

namespace haneul::sandbox {
namespace {

constexpr uid_t kNobody = 65534;

// What a child found; every failed expectation adds a line.
class ChildReport {
 public:
  void Expect(bool condition, const std::string& what) {
    if (!condition) failures_ += what + "\n";
  }
  // `result` is a syscall's return value; it must be -1 with `error`.
  void ExpectFails(long result, int error, const std::string& what) {
    int actual = errno;
    if (result != -1 || actual != error) {
      failures_ += what + ": returned " + std::to_string(result) + ", errno " +
                   std::strerror(actual) + ", wanted " + std::strerror(error) + "\n";
    }
  }
  void ExpectOk(const Status& status, const std::string& what) {
    if (!status.ok()) failures_ += what + ": " + status.ToString() + "\n";
  }
  const std::string& failures() const { return failures_; }

 private:
  std::string failures_;
};

struct ChildOutcome {
  int wait_status = 0;
  std::string failures;  // empty when every expectation held
};

// Runs `body` in a forked child and collects its report. The child leaves with _exit, so no
// gtest or static destructor runs twice.
ChildOutcome RunInChild(const std::function<void(ChildReport&)>& body) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return {0, std::string("pipe: ") + std::strerror(errno)};
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    ChildReport report;
    body(report);
    const std::string& text = report.failures();
    size_t written = 0;
    while (written < text.size()) {
      ssize_t n = write(fds[1], text.data() + written, text.size() - written);
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
    _exit(text.empty() ? 0 : 1);
  }
  close(fds[1]);
  ChildOutcome outcome;
  if (pid < 0) {
    close(fds[0]);
    outcome.failures = std::string("fork: ") + std::strerror(errno);
    return outcome;
  }
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof buffer)) > 0) outcome.failures.append(buffer, n);
  close(fds[0]);
  waitpid(pid, &outcome.wait_status, 0);
  return outcome;
}

void ExpectChildPassed(const ChildOutcome& outcome) {
  EXPECT_EQ(outcome.failures, "");
  EXPECT_TRUE(WIFEXITED(outcome.wait_status) && WEXITSTATUS(outcome.wait_status) == 0)
      << "child wait status " << outcome.wait_status;
}

// The sandbox's order: privileges first, the filter last before execve.
void Confine(ChildReport& report) {
  report.ExpectOk(DropPrivileges(kNobody, kNobody), "DropPrivileges");
  report.ExpectOk(InstallSeccompProfile(), "InstallSeccompProfile");
}

// One field ("CapEff", "Seccomp", ...) of /proc/self/status, or "" when absent.
std::string StatusField(const std::string& name) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(name + ":", 0) == 0) {
      size_t start = line.find_first_not_of(" \t", name.size() + 1);
      return start == std::string::npos ? "" : line.substr(start);
    }
  }
  return "";
}

// Forks a grandchild that runs `body` and returns its wait status (-1 when fork fails).
int WaitStatusOf(const std::function<void()>& body) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    body();
    _exit(0);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return status;
}

// A raw clone with `flags` (no new stack: the child returns from the syscall like fork). A
// child that appears despite the filter leaves at once; the parent then reaps it.
long RawClone(unsigned long flags) {
  long result = syscall(SYS_clone, flags | SIGCHLD, 0, nullptr, nullptr, 0);
  if (result == 0) _exit(0);
  if (result > 0) waitpid(static_cast<pid_t>(result), nullptr, 0);
  return result;
}

class SeccompProfile : public testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: the sandbox drops privileges from root";
  }
};

using DropPrivilegesTest = SeccompProfile;

TEST_F(DropPrivilegesTest, LeavesNoCapabilitiesAndNoWayBackToRoot) {
  ExpectChildPassed(RunInChild([](ChildReport& report) {
    report.ExpectOk(DropPrivileges(kNobody, kNobody), "DropPrivileges");
    for (const char* set : {"CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"}) {
      report.Expect(StatusField(set) == "0000000000000000",
                    std::string(set) + " is " + StatusField(set));
    }
    report.Expect(StatusField("NoNewPrivs") == "1", "NoNewPrivs is " + StatusField("NoNewPrivs"));
    report.Expect(getuid() == kNobody && geteuid() == kNobody, "uid is not nobody");
    report.Expect(getgid() == kNobody && getegid() == kNobody, "gid is not nogroup");
    report.Expect(getgroups(0, nullptr) == 0, "supplementary groups left");
    report.ExpectFails(setuid(0), EPERM, "setuid(0)");
    report.ExpectFails(setgid(0), EPERM, "setgid(0)");
    // No filter yet: whatever fails below fails for lack of capabilities.
    report.Expect(StatusField("Seccomp") == "0", "a filter is installed already");
  }));
}

TEST_F(DropPrivilegesTest, AloneAlreadyStopsMountNamespacesAndMounts) {
  // The layers: without the filter, the missing CAP_SYS_ADMIN already refuses these.
  ExpectChildPassed(RunInChild([](ChildReport& report) {
    report.ExpectOk(DropPrivileges(kNobody, kNobody), "DropPrivileges");
    report.ExpectFails(unshare(CLONE_NEWNS), EPERM, "unshare(CLONE_NEWNS) without the filter");
    report.ExpectFails(mount("tmpfs", "/mnt", "tmpfs", 0, nullptr), EPERM,
                       "mount without the filter");
  }));
}

TEST_F(DropPrivilegesTest, RefusesRootAsTarget) {
  ExpectChildPassed(RunInChild([](ChildReport& report) {
    Status status = DropPrivileges(0, 0);
    report.Expect(status.code() == Status::Code::kInvalidArgument,
                  "DropPrivileges(0, 0): " + status.ToString());
  }));
}

TEST_F(SeccompProfile, IsInstalledInFilterMode) {
  ExpectChildPassed(RunInChild([](ChildReport& report) {
    Confine(report);
    report.Expect(StatusField("Seccomp") == "2", "Seccomp is " + StatusField("Seccomp"));
    report.Expect(StatusField("CapEff") == "0000000000000000", "CapEff is not empty");
    report.ExpectFails(setuid(0), EPERM, "setuid(0)");
  }));
}

TEST_F(SeccompProfile, DeniesMountsAndNamespaces) {
  ExpectChildPassed(RunInChild([](ChildReport& report) {
    Confine(report);
    report.ExpectFails(mount("tmpfs", "/mnt", "tmpfs", 0, nullptr), EPERM, "mount");
    report.ExpectFails(umount2("/proc", MNT_DETACH), EPERM, "umount2");
    report.ExpectFails(unshare(CLONE_NEWNS), EPERM, "unshare(CLONE_NEWNS)");
    report.ExpectFails(setns(0, 0), EPERM, "setns");
    report.ExpectFails(syscall(SYS_pivot_root, "/", "/"), EPERM, "pivot_root");
    report.ExpectFails(chroot("/"), EPERM, "chroot");
    report.ExpectFails(syscall(SYS_open_tree, AT_FDCWD, "/", 0), EPERM, "open_tree");
    report.ExpectFails(syscall(SYS_fsopen, "tmpfs", 0), EPERM, "fsopen");
    report.ExpectFails(syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, nullptr, 0), EPERM,
                       "mount_setattr");
    report.ExpectFails(syscall(SYS_open_by_handle_at, AT_FDCWD, nullptr, 0), EPERM,
                       "open_by_handle_at");
  }));
}

TEST_F(SeccompProfile, StopsRootEvenWithoutTheCapabilityDrop) {
  // The filter as a layer of its own: root with every capability, only the filter in the way.
  ExpectChildPassed(RunInChild([](ChildReport& report) {
    // A private mount namespace first, so a mount that slipped through would stay in it.
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr)) {
      report.Expect(false, std::string("private mount namespace: ") + std::strerror(errno));
      return;
    }
    pid_t sleeper = fork();
    if (sleeper == 0) {
      pause();
      _exit(0);
    }
    report.ExpectOk(InstallSeccompProfile(), "InstallSeccompProfile");
    report.ExpectFails(mount("tmpfs", "/mnt", "tmpfs", 0, nullptr), EPERM, "mount as root");
    report.ExpectFails(umount2("/proc", MNT_DETACH), EPERM, "umount2 as root");
    report.ExpectFails(unshare(CLONE_NEWNS), EPERM, "unshare(CLONE_NEWNS) as root");
    report.ExpectFails(RawClone(CLONE_NEWPID), EPERM, "clone(CLONE_NEWPID) as root");
    report.ExpectFails(chroot("/"), EPERM, "chroot as root");
    report.ExpectFails(ptrace(PTRACE_ATTACH, sleeper, nullptr, nullptr), EPERM,
                       "ptrace(PTRACE_ATTACH) as root");
    char buffer[8];
    iovec local{buffer, sizeof buffer};
    report.ExpectFails(process_vm_readv(sleeper, &local, 1, &local, 1, 0), EPERM,
                       "process_vm_readv as root");
    // SYSLOG_ACTION_SIZE_BUFFER, and reboot with a wrong magic (EINVAL for root otherwise).
    report.ExpectFails(syscall(SYS_syslog, 10, nullptr, 0), EPERM, "syslog as root");
    report.ExpectFails(syscall(SYS_reboot, 0, 0, 0, nullptr), EPERM, "reboot as root");
    kill(sleeper, SIGKILL);
    waitpid(sleeper, nullptr, 0);
  }));
}

TEST_F(SeccompProfile, DeniesUserNamespacesThatNeedNoCapability) {
  // Where the host lets unprivileged users create user namespaces, the capability drop alone
  // does not stop them; the filter does.
  ChildOutcome alone = RunInChild([](ChildReport& report) {
    report.ExpectOk(DropPrivileges(kNobody, kNobody), "DropPrivileges");
    report.Expect(unshare(CLONE_NEWUSER) == 0, "unprivileged unshare(CLONE_NEWUSER) refused");
  });
  ExpectChildPassed(RunInChild([](ChildReport& report) {
    Confine(report);
    report.ExpectFails(unshare(CLONE_NEWUSER), EPERM, "unshare(CLONE_NEWUSER)");
    report.ExpectFails(RawClone(CLONE_NEWUSER), EPERM, "clone(CLONE_NEWUSER)");
  }));
  if (!alone.failures.empty()) {
    GTEST_SKIP() << "this host refuses unprivileged user namespaces anyway: " << alone.failures;
  }
}

TEST_F(SeccompProfile, DeniesCloneWithAnyNamespaceFlag) {
  ExpectChildPassed(RunInChild([](ChildReport& report) {
    Confine(report);
    const std::pair<unsigned long, const char*> flags[] = {
        {CLONE_NEWNS, "CLONE_NEWNS"},         {CLONE_NEWUTS, "CLONE_NEWUTS"},
        {CLONE_NEWIPC, "CLONE_NEWIPC"},       {CLONE_NEWUSER, "CLONE_NEWUSER"},
        {CLONE_NEWPID, "CLONE_NEWPID"},       {CLONE_NEWNET, "CLONE_NEWNET"},
        {CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
    };
    for (const auto& [flag, name] : flags) {
      report.ExpectFails(RawClone(flag), EPERM, std::string("clone(") + name + ")");
      // Hidden among harmless flags, and with junk in the high half the kernel ignores.
      report.ExpectFails(RawClone(flag | CLONE_FILES | CLONE_FS | (1UL << 40)), EPERM,
                         std::string("clone(") + name + " | others)");
    }
    // A clone without namespace flags is how fork works.
    long child = RawClone(0);
    report.Expect(child > 0, "clone without namespace flags failed: " + std::to_string(child));
  }));
}

TEST_F(SeccompProfile, AnswersClone3WithEnosysSoGlibcFallsBackToClone) {
  ExpectChildPassed(RunInChild([](ChildReport& report) {
    Confine(report);
    clone_args args{};
    args.flags = CLONE_NEWPID;
    args.exit_signal = SIGCHLD;
    report.ExpectFails(syscall(SYS_clone3, &args, sizeof args), ENOSYS, "clone3(CLONE_NEWPID)");
    args.flags = 0;
    report.ExpectFails(syscall(SYS_clone3, &args, sizeof args), ENOSYS, "clone3(0)");
    // glibc's pthread_create tries clone3 first and must fall back to clone.
    pthread_t thread;
    int created = pthread_create(
        &thread, nullptr, [](void*) -> void* { return nullptr; }, nullptr);
    report.Expect(created == 0, std::string("pthread_create: ") + std::strerror(created));
    if (created == 0) pthread_join(thread, nullptr);
  }));
}

TEST_F(SeccompProfile, DeniesTracingOtherProcesses) {
  ExpectChildPassed(RunInChild([](ChildReport& report) {
    Confine(report);
    report.ExpectFails(ptrace(PTRACE_ATTACH, getppid(), nullptr, nullptr), EPERM,
                       "ptrace(PTRACE_ATTACH, parent)");
    report.ExpectFails(ptrace(PTRACE_TRACEME, 0, nullptr, nullptr), EPERM, "ptrace(TRACEME)");
    char buffer[8];
    iovec local{buffer, sizeof buffer};
    iovec remote{buffer, sizeof buffer};
    report.ExpectFails(process_vm_readv(getppid(), &local, 1, &remote, 1, 0), EPERM,
                       "process_vm_readv");
    report.ExpectFails(process_vm_writev(getppid(), &local, 1, &remote, 1, 0), EPERM,
                       "process_vm_writev");
    report.ExpectFails(syscall(SYS_pidfd_getfd, 0, 0, 0), EPERM, "pidfd_getfd");
    report.ExpectFails(syscall(SYS_kcmp, getpid(), getppid(), 0, 0, 0), EPERM, "kcmp");
  }));
}

TEST_F(SeccompProfile, DeniesKernelAttackSurface) {
  ExpectChildPassed(RunInChild([](ChildReport& report) {
    Confine(report);
    // KEYCTL_GET_KEYRING_ID of the session keyring: allowed to anyone without the filter.
    report.ExpectFails(syscall(SYS_keyctl, 0, -3, 0), EPERM, "keyctl");
    report.ExpectFails(syscall(SYS_add_key, "user", "k", "v", 1, -3), EPERM, "add_key");
    report.ExpectFails(syscall(SYS_bpf, 0, nullptr, 0), EPERM, "bpf");
    report.ExpectFails(syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0), EPERM,
                       "perf_event_open");
    report.ExpectFails(syscall(SYS_userfaultfd, 0), EPERM, "userfaultfd");
    report.ExpectFails(syscall(SYS_io_uring_setup, 1, nullptr), EPERM, "io_uring_setup");
    report.ExpectFails(syscall(SYS_init_module, nullptr, 0, ""), EPERM, "init_module");
    report.ExpectFails(syscall(SYS_kexec_load, 0, 0, nullptr, 0), EPERM, "kexec_load");
    // A wrong magic: EINVAL without the filter, so EPERM proves the filter answered.
    report.ExpectFails(syscall(SYS_reboot, 0, 0, 0, nullptr), EPERM, "reboot");
    report.ExpectFails(syscall(SYS_clock_settime, -1, nullptr), EPERM, "clock_settime");
    report.ExpectFails(syscall(SYS_syslog, 10, nullptr, 0), EPERM, "syslog");
    report.ExpectFails(syscall(SYS_modify_ldt, 0, nullptr, 0), EPERM, "modify_ldt");
    report.ExpectFails(syscall(SYS_iopl, 0), EPERM, "iopl");
    report.ExpectFails(syscall(SYS_get_mempolicy, nullptr, nullptr, 0, nullptr, 0), EPERM,
                       "get_mempolicy");
  }));
}

TEST_F(SeccompProfile, AllowsOnlyTheDefaultPersonalityAndTheQuery) {
  ExpectChildPassed(RunInChild([](ChildReport& report) {
    Confine(report);
    report.Expect(personality(0xffffffff) == PER_LINUX, "personality query failed");
    report.Expect(personality(PER_LINUX) != -1, "personality(PER_LINUX) failed");
    report.ExpectFails(personality(ADDR_NO_RANDOMIZE), EPERM, "personality(ADDR_NO_RANDOMIZE)");
    report.ExpectFails(personality(READ_IMPLIES_EXEC), EPERM, "personality(READ_IMPLIES_EXEC)");
    report.ExpectFails(personality(PER_LINUX32), EPERM, "personality(PER_LINUX32)");
    report.ExpectFails(personality(0xfffffffe), EPERM, "personality(all but one bit)");
    report.ExpectFails(personality(0x7fffffff), EPERM, "personality(all but the top bit)");
    // The kernel reads an unsigned int: junk in the high half must not hide ADDR_NO_RANDOMIZE.
    report.ExpectFails(syscall(SYS_personality, (1UL << 32) | ADDR_NO_RANDOMIZE), EPERM,
                       "personality(ADDR_NO_RANDOMIZE with high bits)");
    report.Expect(syscall(SYS_personality, ~0UL) == PER_LINUX, "64-bit personality query failed");
  }));
}

TEST_F(SeccompProfile, AllowsWhatRuntimesNeed) {
  ExpectChildPassed(RunInChild([](ChildReport& report) {
    Confine(report);
    int forked = WaitStatusOf([] { _exit(7); });
    report.Expect(WIFEXITED(forked) && WEXITSTATUS(forked) == 7, "fork + waitpid failed");
    int executed = WaitStatusOf([] {
      char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
      char* const envp[] = {nullptr};
      execve("/bin/true", argv, envp);
      _exit(127);
    });
    report.Expect(WIFEXITED(executed) && WEXITSTATUS(executed) == 0,
                  "execve(/bin/true) wait status " + std::to_string(executed));
    int pipe_fds[2];
    report.Expect(pipe(pipe_fds) == 0, "pipe failed");
    report.Expect(StatusField("Seccomp") == "2", "cannot read /proc/self/status");
  }));
}

#if defined(__x86_64__)
// An i386 syscall through int 0x80: getpid is 20 there (39 natively).
long Int80Getpid() {
  long result;
  asm volatile("int $0x80" : "=a"(result) : "a"(20L) : "memory");
  return result;
}

TEST_F(SeccompProfile, KillsSyscallsOfForeignAbis) {
  // Whether this kernel runs 32-bit syscalls at all (CONFIG_IA32_EMULATION).
  int unfiltered = WaitStatusOf([] { _exit(Int80Getpid() == getpid() ? 0 : 1); });
  ExpectChildPassed(RunInChild([unfiltered](ChildReport& report) {
    Confine(report);
    int x32 = WaitStatusOf([] { syscall(0x40000000L | SYS_getpid); });
    report.Expect(WIFSIGNALED(x32) && WTERMSIG(x32) == SIGSYS,
                  "x32 getpid not killed: wait status " + std::to_string(x32));
    if (WIFEXITED(unfiltered) && WEXITSTATUS(unfiltered) == 0) {
      int i386 = WaitStatusOf([] { Int80Getpid(); });
      report.Expect(WIFSIGNALED(i386) && WTERMSIG(i386) == SIGSYS,
                    "int 0x80 getpid not killed: wait status " + std::to_string(i386));
    }
  }));
}
#endif

// A sandbox slot loads the profile in two stacked parts: while it waits, everything but the
// denial of the mount syscalls its start still makes (so those still reach the kernel, where the
// effective capabilities decide), and right before exec the rest. Stacked, the two deny what the
// whole profile denies.
TEST_F(SeccompProfile, StagesStackToTheWholeProfile) {
  auto stages = BuildSeccompStages();
  ASSERT_TRUE(stages.ok()) << stages.status().ToString();
  ASSERT_FALSE(stages->waiting.empty());
  ASSERT_FALSE(stages->start.empty());
  ASSERT_LT(stages->start.size(), stages->waiting.size());
  ExpectChildPassed(RunInChild([&](ChildReport& report) {
    report.ExpectOk(DropPrivileges(kNobody, kNobody), "DropPrivileges");
    report.Expect(LoadSeccompProgram(stages->waiting) == 0, "loading the waiting part");
    report.ExpectFails(unshare(CLONE_NEWNS), EPERM, "unshare(CLONE_NEWNS) while waiting");
    report.ExpectFails(syscall(SYS_open_tree, AT_FDCWD, "/", 0), EPERM, "open_tree while waiting");
    // Not the filter's EPERM: the kernel's own answer to a bad pointer.
    errno = 0;
    long mounted = syscall(SYS_mount, nullptr, nullptr, nullptr, 0, nullptr);
    report.Expect(mounted == -1 && errno != EPERM,
                  "mount reaches the kernel while waiting (errno " + std::to_string(errno) + ")");
    report.Expect(LoadSeccompProgram(stages->start) == 0, "loading the start part");
    report.ExpectFails(mount("tmpfs", "/mnt", "tmpfs", 0, nullptr), EPERM, "mount after start");
    report.ExpectFails(umount2("/proc", MNT_DETACH), EPERM, "umount2 after start");
    report.ExpectFails(syscall(SYS_move_mount, -1, "", AT_FDCWD, "/", 0), EPERM,
                       "move_mount after start");
    report.ExpectFails(syscall(SYS_pivot_root, "/", "/"), EPERM, "pivot_root after start");
    report.ExpectFails(unshare(CLONE_NEWNS), EPERM, "unshare(CLONE_NEWNS) after start");
  }));
}


}  // namespace
}  // namespace haneul::sandbox
