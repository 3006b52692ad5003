// The privilege drop and seccomp filter of a namespace-sandbox worker.
//
// The filter allows by default and denies a table of syscalls. A Lambda runtime is an arbitrary
// Linux program (any language, any native extension), so an allow list would break functions in
// ways users cannot debug; the namespaces, the cgroup and the capability drop are the boundary,
// and the deny list removes the kernel surface that a function never needs and that escapes
// and kernel exploits use: Docker's default denials, and more (io_uring, modify_ldt, chroot,
// pidfd_getfd, ...). Every denied syscall carries its reason in the tables below.
//
// Syscalls that stricter profiles deny but this one allows on purpose:
//   - clone without CLONE_NEW* flags, fork, vfork, execve: runtimes start threads and helpers.
//   - seccomp: a process can only add filters; the kernel applies the strictest answer, so a
//     function cannot loosen this filter.
//   - personality(0) and the query personality(0xffffffff): see kPersonalityReason.
//   - adjtimex: reading the clock state is harmless; setting it needs CAP_SYS_TIME, dropped.
//   - mknod/mknodat: FIFOs are harmless; device nodes need CAP_MKNOD, dropped.
//   - landlock_*, memfd_*, prctl, prlimit64: only ever restrict or act on the caller itself.
//
// Thread-safety: both functions run in the single-threaded child between fork and execve; they
// change process-wide, irreversible state.
#include "namespace/seccomp_profile.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace haneul::sandbox {
namespace {

// ---------------------------------------------------------------------------------------------
// Privileges.

// The highest capability number this kernel knows. /proc/sys/kernel/cap_last_cap can be newer
// than CAP_LAST_CAP of the headers we were built with, so it comes first. Without /proc (the
// worker's mount namespace may not have it yet) the bounding set is probed instead:
// PR_CAPBSET_READ fails with EINVAL past the last capability.
int ReadLastCapability() {
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buffer[16];
    ssize_t length = read(fd, buffer, sizeof buffer);
    close(fd);
    int value = -1;
    if (length > 0 && std::from_chars(buffer, buffer + length, value).ec == std::errc() &&
        value >= 0 && value < 64) {
      return value;
    }
  }
  int last = 0;
  while (last < 63 && prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0) ++last;
  return last;
}

struct CapabilitySets {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
};

// Checks the end state through the kernel rather than trusting the calls above: a securebit
// such as SECBIT_NO_SETUID_FIXUP or SECBIT_KEEP_CAPS set by a parent would keep capabilities
// across setresuid without any call failing.
Status VerifyNoPrivileges(uid_t uid, gid_t gid, int last_capability) {
  CapabilitySets sets;
  if (syscall(SYS_capget, &sets.header, sets.data) != 0) return Status::FromErrno("capget");
  for (const auto& word : sets.data) {
    if (word.effective != 0 || word.permitted != 0 || word.inheritable != 0) {
      return Status::Internal("capabilities left after dropping privileges");
    }
  }
  for (int cap = 0; cap <= last_capability; ++cap) {
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) > 0) {
      return Status::Internal("capability " + std::to_string(cap) + " left in the bounding set");
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) > 0) {
      return Status::Internal("capability " + std::to_string(cap) + " left in the ambient set");
    }
  }
  uid_t real_uid, effective_uid, saved_uid;
  gid_t real_gid, effective_gid, saved_gid;
  if (getresuid(&real_uid, &effective_uid, &saved_uid) != 0) return Status::FromErrno("getresuid");
  if (getresgid(&real_gid, &effective_gid, &saved_gid) != 0) return Status::FromErrno("getresgid");
  if (real_uid != uid || effective_uid != uid || saved_uid != uid || real_gid != gid ||
      effective_gid != gid || saved_gid != gid) {
    return Status::Internal("user or group ids differ from the requested ones");
  }
  if (getgroups(0, nullptr) != 0) return Status::Internal("supplementary groups left");
  // The proof that matters: the way back to root is closed.
  if (setuid(0) == 0) return Status::Internal("setuid(0) succeeded after dropping privileges");
  if (setgid(0) == 0) return Status::Internal("setgid(0) succeeded after dropping privileges");
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return Status::Internal("no_new_privs not set");
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Seccomp.

struct DeniedSyscall {
  const char* name;
  int error;           // errno the caller sees
  const char* reason;  // why a Lambda function never needs it, or why it is dangerous
};

// Denied outright. Names unknown on this architecture (vm86 on x86_64, ...) are skipped.
constexpr DeniedSyscall kDeniedSyscalls[] = {
    // Mounts and the filesystem tree: the sandbox builds the worker's view before execve.
    {"mount", EPERM, "mounting could reveal or replace what the sandbox's mounts hide"},
    {"umount", EPERM, "unmounting could uncover host paths under the sandbox's mounts"},
    {"umount2", EPERM, "unmounting could uncover host paths under the sandbox's mounts"},
    {"mount_setattr", EPERM, "could clear ro/nosuid/nodev/noexec on the sandbox's mounts"},
    {"open_tree", EPERM, "new mount API: clones mounts, the same power as mount --bind"},
    {"move_mount", EPERM, "new mount API: attaches mounts, the same power as mount"},
    {"fsopen", EPERM, "new mount API: creates a filesystem context for mounting"},
    {"fsconfig", EPERM, "new mount API: configures a filesystem context for mounting"},
    {"fsmount", EPERM, "new mount API: turns a filesystem context into a mount"},
    {"fspick", EPERM, "new mount API: reconfigures an existing mount"},
    {"pivot_root", EPERM, "replaces the root filesystem; only the sandbox set-up does that"},
    {"chroot", EPERM, "not needed by runtimes; chroot with an open directory is a classic escape"},
    {"name_to_handle_at", EPERM, "file handles are the first half of open_by_handle_at"},
    {"open_by_handle_at", EPERM,
     "opens any inode of a mount by handle, escaping the root (shocker)"},
    {"quotactl", EPERM, "disk quotas of the host's filesystems"},
    {"quotactl_fd", EPERM, "disk quotas of the host's filesystems"},
    {"swapon", EPERM, "host swap configuration"},
    {"swapoff", EPERM, "host swap configuration"},
    {"nfsservctl", EPERM, "kernel NFS server control (removed in Linux 3.1)"},
    {"ustat", EPERM, "obsolete; reports on host devices by device number"},
    {"sysfs", EPERM, "obsolete filesystem type query, never needed"},
    {"uselib", EPERM, "obsolete a.out library loader and a past exploit vector"},
    {"fanotify_init", EPERM, "filesystem-wide event monitoring, not needed by functions"},

    // Namespaces. clone with CLONE_NEW* flags is in kCloneNamespaceFlags below.
    {"unshare", EPERM,
     "a new user namespace needs no capability and gives root-like powers inside it, reaching "
     "kernel code (netfilter, mounts) otherwise out of reach; the sandbox unshares before exec"},
    {"setns", EPERM, "joining another namespace would leave the sandbox"},
    {"clone3", ENOSYS,
     "its flags sit in memory that seccomp cannot read, so CLONE_NEW* cannot be filtered; "
     "ENOSYS makes glibc fall back to clone, whose flags are filtered (as Docker does)"},

    // Other processes: a function may only see itself and its children through the kernel's
    // normal process interfaces.
    {"ptrace", EPERM, "reads and writes other processes' memory; a frequent source of kernel bugs"},
    {"process_vm_readv", EPERM, "reads another process's memory"},
    {"process_vm_writev", EPERM, "writes another process's memory"},
    {"process_madvise", EPERM, "acts on another process's memory"},
    {"pidfd_getfd", EPERM, "takes a file descriptor out of another process"},
    {"kcmp", EPERM, "compares kernel objects of two processes, leaking kernel pointer order"},

    // NUMA placement belongs to the host (Docker: CAP_SYS_NICE only).
    {"get_mempolicy", EPERM, "NUMA policy is the host's; denied as in Docker"},
    {"set_mempolicy", EPERM, "NUMA policy is the host's; denied as in Docker"},
    {"set_mempolicy_home_node", EPERM, "NUMA policy is the host's; denied as in Docker"},
    {"mbind", EPERM, "NUMA policy is the host's; denied as in Docker"},
    {"migrate_pages", EPERM, "moves a process's pages between NUMA nodes"},
    {"move_pages", EPERM, "moves a process's pages between NUMA nodes"},

    // The kernel itself.
    {"init_module", EPERM, "loads kernel code"},
    {"finit_module", EPERM, "loads kernel code"},
    {"delete_module", EPERM, "unloads kernel code"},
    {"create_module", EPERM, "obsolete module loader (removed in Linux 2.6)"},
    {"query_module", EPERM, "obsolete module query (removed in Linux 2.6)"},
    {"get_kernel_syms", EPERM, "obsolete; lists kernel symbols (removed in Linux 2.6)"},
    {"kexec_load", EPERM, "replaces the running kernel"},
    {"kexec_file_load", EPERM, "replaces the running kernel"},
    {"reboot", EPERM, "reboots or halts the host"},
    {"bpf", EPERM, "eBPF programs and maps: a large verifier attack surface"},
    {"perf_event_open", EPERM, "performance counters: many kernel bugs and side channels"},
    {"userfaultfd", EPERM, "stalls kernel page faults at will, widening kernel race windows"},
    {"io_uring_setup", EPERM,
     "io_uring operations are not syscalls, so seccomp cannot filter them; and many kernel "
     "exploits (Docker and Google block it too)"},
    {"io_uring_enter", EPERM, "see io_uring_setup"},
    {"io_uring_register", EPERM, "see io_uring_setup"},
    {"keyctl", EPERM, "kernel keyrings are not namespaced: shared with the host"},
    {"add_key", EPERM, "kernel keyrings are not namespaced: shared with the host"},
    {"request_key", EPERM, "kernel keyrings are not namespaced: shared with the host"},
    {"lookup_dcookie", EPERM, "profiling interface that turns kernel cookies into host paths"},
    {"syslog", EPERM, "reads the kernel log (kernel addresses) or sets the console level"},
    {"acct", EPERM, "turns process accounting on into a host file"},
    {"_sysctl", EPERM, "obsolete binary sysctl interface to kernel settings"},
    {"vhangup", EPERM, "hangs up the terminal; not needed without a terminal"},
    {"sethostname", EPERM, "the sandbox sets the host name; functions keep it"},
    {"setdomainname", EPERM, "the sandbox sets the domain name; functions keep it"},

    // Time is the host's.
    {"settimeofday", EPERM, "sets the host clock"},
    {"stime", EPERM, "sets the host clock (32-bit architectures)"},
    {"clock_settime", EPERM, "sets the host clock"},
    {"clock_adjtime", EPERM, "adjusts the host clock"},

    // Hardware and legacy x86 modes.
    {"iopl", EPERM, "direct access to every hardware I/O port"},
    {"ioperm", EPERM, "direct access to hardware I/O ports"},
    {"modify_ldt", EPERM, "16-bit segments, only for Wine and DOSEMU; a source of kernel bugs"},
    {"vm86", EPERM, "virtual 8086 mode (32-bit x86 only)"},
    {"vm86old", EPERM, "virtual 8086 mode (32-bit x86 only)"},
};

// clone is denied when its flags carry any of these: one masked-equality rule per flag, so any
// combination containing it matches. The kernel reads only the low 32 bits of the flags, and
// the masks ignore the high ones too.
struct DeniedCloneFlag {
  uint64_t flag;
  const char* name;
  const char* reason;
};

constexpr DeniedCloneFlag kCloneNamespaceFlags[] = {
    {CLONE_NEWNS, "CLONE_NEWNS", "a mount namespace to remount the sandbox's view in"},
    {CLONE_NEWUTS, "CLONE_NEWUTS", "a UTS namespace, only useful with other namespaces"},
    {CLONE_NEWIPC, "CLONE_NEWIPC", "an IPC namespace, only useful with other namespaces"},
    {CLONE_NEWUSER, "CLONE_NEWUSER",
     "a user namespace needs no capability and opens kernel code to the function"},
    {CLONE_NEWPID, "CLONE_NEWPID", "a PID namespace, in which the function would be init"},
    {CLONE_NEWNET, "CLONE_NEWNET", "a network namespace with its own netfilter to configure"},
    {CLONE_NEWCGROUP, "CLONE_NEWCGROUP", "a cgroup namespace, hiding the worker's cgroup"},
    // For clone (not clone3) the low byte is the exit signal, so the kernel never reads this bit
    // as CLONE_NEWTIME; the rule only rejects exit signals >= 128, which are invalid anyway.
    {CLONE_NEWTIME, "CLONE_NEWTIME", "a time namespace (reachable through clone3 and unshare)"},
};

// s390 swaps clone's first two arguments; everywhere else the flags come first.
#if defined(__s390__) || defined(__s390x__)
constexpr unsigned kCloneFlagsArgument = 1;
#else
constexpr unsigned kCloneFlagsArgument = 0;
#endif

// personality: only PER_LINUX (0, the default) and the query 0xffffffff are allowed. Other
// values disable ASLR (ADDR_NO_RANDOMIZE), make data executable (READ_IMPLIES_EXEC), or select
// 32-bit behaviour (PER_LINUX32, allowed by Docker but useless here: 32-bit syscalls are
// killed). Stricter than Docker's {0, 8, 0x20008, 0xffffffff}.
constexpr const char* kPersonalityReason =
    "only PER_LINUX and the query: other values disable ASLR or make data executable";

// libseccomp compares each argument at most once per rule, and an ALLOW rule under an ALLOW
// default is refused, so "deny unless 0 or 0xffffffff" is spelt as 32 denials: bit b set and bit
// b+1 (cyclically) clear. Every 32-bit value other than all zeros and all ones has such a pair
// of bits, and those two have none. The kernel truncates the argument to unsigned int; the
// 32-bit masks ignore the high half likewise, so 0x1'0004'0000 is caught as 0x4'0000.
constexpr int kPersonalityBits = 32;

using FilterContext = std::unique_ptr<void, decltype(&seccomp_release)>;

Status FromSeccomp(int negative_errno, std::string_view context) {
  return Status::FromErrno(context, -negative_errno);
}

// The denied syscalls a sandbox slot still makes after it was handed its function (moving the
// function's folders in, /tmp's size, an image's overlay root), so the filter is split there.
constexpr const char* kStartSyscalls[] = {"mount", "umount2", "move_mount", "pivot_root"};

bool IsStartSyscall(const char* name) {
  for (const char* start : kStartSyscalls) {
    if (std::string_view(start) == name) return true;
  }
  return false;
}

enum class FilterPart { kAll, kWaiting, kStart };

Status AddDeniedSyscalls(scmp_filter_ctx context, FilterPart part = FilterPart::kAll) {
  for (const DeniedSyscall& denied : kDeniedSyscalls) {
    if (part == FilterPart::kWaiting && IsStartSyscall(denied.name)) continue;
    if (part == FilterPart::kStart && !IsStartSyscall(denied.name)) continue;
    // A negative number is a libseccomp pseudo-syscall: the name does not exist on this
    // architecture (vm86 on x86_64), or this libseccomp predates it (__NR_SCMP_ERROR).
    int number = seccomp_syscall_resolve_name(denied.name);
    if (number < 0) continue;
    int rc = seccomp_rule_add(context, SCMP_ACT_ERRNO(denied.error), number, 0);
    if (rc != 0) return FromSeccomp(rc, std::string("seccomp deny ") + denied.name);
  }
  return Status::Ok();
}

Status AddCloneRules(scmp_filter_ctx context) {
  for (const DeniedCloneFlag& denied : kCloneNamespaceFlags) {
    int rc = seccomp_rule_add(
        context, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
        SCMP_CMP(kCloneFlagsArgument, SCMP_CMP_MASKED_EQ, denied.flag, denied.flag));
    if (rc != 0) return FromSeccomp(rc, std::string("seccomp deny clone with ") + denied.name);
  }
  return Status::Ok();
}

Status AddPersonalityRules(scmp_filter_ctx context) {
  for (int bit = 0; bit < kPersonalityBits; ++bit) {
    const uint64_t set = uint64_t{1} << bit;
    const uint64_t clear = uint64_t{1} << ((bit + 1) % kPersonalityBits);
    int rc = seccomp_rule_add(context, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, set | clear, set));
    if (rc != 0) return FromSeccomp(rc, std::string("seccomp personality: ") + kPersonalityReason);
  }
  return Status::Ok();
}

}  // namespace

Status DropPrivileges(uid_t uid, gid_t gid) {
  // Root as the target would keep root's file access and make the checks below fail.
  if (uid == 0 || gid == 0) return Status::InvalidArgument("worker uid and gid must not be 0");
  // The steps are the allocation-free ones the sandbox's worker runs; here they are followed by
  // checks that the result is really privilege-free.
  const int last_capability = LastCapability();
  if (int error = DropPrivilegesWithoutAllocating(uid, gid, last_capability)) {
    return Status::FromErrno("drop privileges to " + std::to_string(uid) + ":" +
                                 std::to_string(gid),
                             error);
  }
  return VerifyNoPrivileges(uid, gid, last_capability);
}

namespace {

// The profile (or one part of it) as a libseccomp context, ready to load or export.
Result<FilterContext> BuildFilter(FilterPart part = FilterPart::kAll) {
  FilterContext context(seccomp_init(SCMP_ACT_ALLOW), &seccomp_release);
  if (context == nullptr) return Status::Internal("seccomp_init failed");

  // Only the native architecture is in the filter, and a syscall from any other ABI kills the
  // process: otherwise a 32-bit "int 0x80" (whose numbers differ: i386 mount is 21, not 165)
  // would bypass every rule. libseccomp also sends x32 syscalls (native arch, number with
  // __X32_SYSCALL_BIT) to this action when x32 is not added.
  int rc = seccomp_attr_set(context.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc != 0) return FromSeccomp(rc, "seccomp_attr_set(SCMP_FLTATR_ACT_BADARCH)");

  HANEUL_RETURN_IF_ERROR(AddDeniedSyscalls(context.get(), part));
  if (part != FilterPart::kStart) {
    HANEUL_RETURN_IF_ERROR(AddCloneRules(context.get()));
    HANEUL_RETURN_IF_ERROR(AddPersonalityRules(context.get()));
  }
  return context;
}

Result<std::vector<sock_filter>> ExportProgram(scmp_filter_ctx context) {
  // libseccomp writes the program to a descriptor; a memfd keeps it in memory.
  int fd = memfd_create("haneul-seccomp", MFD_CLOEXEC);
  if (fd < 0) return Status::FromErrno("memfd_create");
  int rc = seccomp_export_bpf(context, fd);
  if (rc != 0) {
    close(fd);
    return FromSeccomp(rc, "seccomp_export_bpf");
  }
  off_t size = lseek(fd, 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
    close(fd);
    return Status::Internal("seccomp_export_bpf wrote " + std::to_string(size) + " bytes");
  }
  std::vector<sock_filter> program(static_cast<size_t>(size) / sizeof(sock_filter));
  ssize_t got = pread(fd, program.data(), static_cast<size_t>(size), 0);
  close(fd);
  if (got != size) return Status::IoError("reading the exported seccomp program");
  return program;
}

}  // namespace

Status InstallSeccompProfile() {
  // The same program the namespace sandbox compiles once and loads in every worker.
  auto program = BuildSeccompProgram();
  if (!program.ok()) return program.status();
  if (int error = LoadSeccompProgram(*program)) {
    return Status::FromErrno("prctl(PR_SET_SECCOMP)", error);
  }
  return Status::Ok();
}

Result<std::vector<sock_filter>> BuildSeccompProgram() {
  auto context = BuildFilter();
  if (!context.ok()) return context.status();
  return ExportProgram(context->get());
}

Result<SeccompStages> BuildSeccompStages() {
  SeccompStages stages;
  for (auto [part, program] : {std::pair{FilterPart::kWaiting, &stages.waiting},
                               std::pair{FilterPart::kStart, &stages.start}}) {
    auto context = BuildFilter(part);
    if (!context.ok()) return context.status();
    auto exported = ExportProgram(context->get());
    if (!exported.ok()) return exported.status();
    *program = std::move(*exported);
  }
  return stages;
}

int LoadSeccompProgram(const std::vector<sock_filter>& program) {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program.size());
  prog.filter = const_cast<sock_filter*>(program.data());
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) return errno;
  return 0;
}

int DropPrivilegesWithoutAllocating(uid_t uid, gid_t gid, int last_capability) {
  if (int error = DropBoundingSetWithoutAllocating(last_capability)) return error;
  return DropIdentityWithoutAllocating(uid, gid);
}

int DropBoundingSetWithoutAllocating(int last_capability) {
  // The same steps as DropPrivileges, in the same order; see there for the reasons.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  for (int capability = 0; capability <= last_capability; ++capability) {
    if (prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 && errno != EINVAL) return errno;
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return errno;
  }
  return 0;
}

int DropIdentityWithoutAllocating(uid_t uid, gid_t gid) {
  if (uid == 0 || gid == 0) return EINVAL;
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return errno;
  if (setgroups(0, nullptr) != 0) return errno;
  if (setresgid(gid, gid, gid) != 0) return errno;
  if (setresuid(uid, uid, uid) != 0) return errno;
  // setresuid leaves the inheritable set alone, and a securebit could keep the others: clear
  // all three (capset: glibc has no wrapper, and one syscall needs no library).
  CapabilitySets sets;
  if (syscall(SYS_capset, &sets.header, sets.data) != 0) return errno;
  // What cannot be undone must not be undoable: setuid(0) has to fail now.
  if (setuid(0) == 0) return EPERM;
  return 0;
}

int LastCapability() { return ReadLastCapability(); }

}  // namespace haneul::sandbox
