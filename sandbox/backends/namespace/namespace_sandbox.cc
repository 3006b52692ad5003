// The `namespace` backend; see namespace_sandbox.h for what a worker gets.
//
// Pre-created slots. Most of a start is function-independent: new namespaces, joining a cgroup
// (on cgroup v1 a join may wait ~10 ms for an RCU grace period), loopback, the Runtime API socket,
// and the root filesystem's host parts. A refill thread keeps `ready_slots` children that have done
// all of that and wait; Start() hands one the function's part and lets it exec.
//
// A slot (refill thread = parent, the cloned child = slot):
//   parent: prepares every string, path, descriptor and the seccomp program, creates the slot's
//           cgroup, then clones with CLONE_VM (no CLONE_VFORK): the child runs in the server's
//           memory on a stack of its own (no page tables to copy: a plain clone of the server cost
//           10-30 ms against 2.5 ms for a small process). So the child must not allocate or
//           touch shared state: it only makes syscalls on what was prepared. (It also shares the
//           refill thread's TLS, errno included: a failure's errno may be misreported if the
//           refill thread fails a call at the same instant; nothing else is shared.)
//   slot:   joins its cgroup (whose limits are already those of the last start); hostname;
//           loopback up, the Runtime API socket at 127.0.0.1:9001 (and the services' at :4747)
//           sent to the parent over a socketpair; root tmpfs with /usr, /etc bits, /dev, /tmp of
//           the default size and /proc; pivot_root into it and detach the old root (which may
//           wait for an RCU grace period: never on a start); read-only root; no_new_privs, empty
//           bounding set, and the seccomp profile but for the mount syscalls still to come;
//           writes a {kReady, 0} record to its report pipe and blocks reading its `go` pipe.
//   Start:  (loop thread) fills in the function's part of the slot's plan (program, environment,
//           /tmp size), writes the cgroup limits if they differ, sends the function's folders
//           (code and runtimes, or an image's rootfs) as detached read-only mounts (open_tree),
//           writes `go`.
//   slot:   moves the folders to /var/task and /var/runtime (an image: builds its overlay root
//           and pivots into it), resizes /tmp if needed, stdio, drops uid/gid and capabilities,
//           the rest of the seccomp profile, execve. A failure is written as {stage, errno} to
//           the close-on-exec report pipe, and the child exits.
//   Start:  reads the report pipe: end-of-file means the program runs.
// With ready_slots 0 (or when every slot is taken), Start makes a slot itself, then uses it.
#include "namespace/namespace_sandbox.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <cstring>
#include <filesystem>
#include <spdlog/spdlog.h>
#include <string>
#include <vector>

#include "namespace/cgroup.h"
#include "namespace/seccomp_profile.h"

namespace haneul::sandbox {

namespace {

constexpr int kRuntimeApiPort = 9001;
// Where the bundled services (S3, DynamoDB, Lambda, ...) answer inside a private network: the
// invoker serves this socket too, so a handler's SDK reaches them with no network of its own.
constexpr int kServicesPort = 4747;
constexpr size_t kChildStackBytes = 1 << 20;

enum Stage : int {
  kReady = 0,  // not a failure: the slot is ready and waits for its function
  kJoinCgroup = 1,
  kHostname,
  kLoopback,
  kListen,
  kSendSocket,
  kMountPrivate,
  kMountRoot,
  kMakeTree,
  kMountUsr,
  kMountCode,
  kMountRuntimes,
  kMountEtc,
  kMountTmp,
  kMountDev,
  kPivotRoot,
  kMountProc,
  kRootReadOnly,
  kStdio,
  kChdir,
  kPrivileges,
  kSeccomp,
  kExec,
  kWaitGo,
  kMountImage,
};

const char* StageName(int stage) {
  static const char* const kNames[] = {"?", "join cgroup", "hostname", "loopback", "listen",
                                       "send socket", "make mounts private", "mount root",
                                       "make tree", "mount /usr", "mount /var/task",
                                       "mount /var/runtime", "mount /etc", "mount /tmp",
                                       "mount /dev", "pivot_root", "mount /proc",
                                       "read-only root", "stdio", "chdir", "drop privileges",
                                       "seccomp", "exec", "wait for the function",
                                       "mount the image"};
  return stage > 0 && stage <= kMountImage ? kNames[stage] : "?";
}

struct ChildError {
  int stage;
  int error;
};

// A file to create in the new root: path relative to it, and its content.
struct RootFile {
  std::string path;
  std::string content;
};

bool SameLimits(const CgroupLimits& a, const CgroupLimits& b) {
  return a.memory_bytes == b.memory_bytes && a.pids == b.pids && a.memory_mb == b.memory_mb;
}

// A read-only bind mount: host path, and the target inside the new root (absolute host path).
struct Bind {
  std::string source;
  std::string target;
  bool directory;
};

// Everything the child needs, prepared by the parent.
struct ChildPlan {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string root;  // where the new root is mounted (a host folder of this environment)
  std::string old_root;
  std::string tmp;
  std::string tmp_options;
  std::string dev;
  std::string proc;
  std::vector<std::string> directories;                         // to mkdir, in order
  std::vector<std::pair<std::string, std::string>> symlinks;    // target, link path
  std::vector<RootFile> files;                                  // absolute paths
  std::vector<Bind> binds;                                      // read-only binds (host parts)
  // /tmp's options while the slot waits; a function with another EphemeralStorage remounts it.
  std::string tmp_default_options;
  // After `go` (paths inside the slot's root, which is already pivoted): a zip function's code
  // and runtimes trees arrive as two detached read-only mounts over the socket and are moved to
  // /var/task and /var/runtime. An image arrives as one (its rootfs), moved to image_lower; a
  // tmpfs at image_base holds the overlay's upper and work folders, the overlay goes at
  // image_root, which gets the image_directories, /dev, /tmp and /proc and becomes the root.
  bool image = false;
  std::string image_base;
  std::string image_lower;
  std::string image_root;
  std::string image_overlay_options;
  std::vector<std::string> image_directories;  // made (if missing) in the overlay
  std::string working_directory = "/var/task";
  std::vector<std::pair<std::string, std::string>> dev_nodes;   // host node, target file
  std::vector<std::pair<std::string, std::string>> dev_links;   // target, link path
  std::string hostname = "sandbox";
  std::vector<std::string> cgroup_procs;  // cgroup.procs files to write "0" into
  // The seccomp profile in two parts: most of it loaded while the slot waits, the rest (the
  // mount syscalls the start still makes) right before exec.
  const std::vector<sock_filter>* seccomp_waiting = nullptr;
  const std::vector<sock_filter>* seccomp_start = nullptr;
  int last_capability = 40;
  uid_t uid = 993;
  gid_t gid = 990;
  bool host_network = false;  // no network namespace: skip loopback, any free port
  int error_write = -1;
  int go_read = -1;  // one byte from the parent: the function's part of the plan is filled in
  int go_write = -1;  // the parent's end, which the child closes at once
  int socket_write = -1;
  int out_write = -1;
  int err_write = -1;
};

[[noreturn]] void Fail(const ChildPlan& plan, int stage) {
  ChildError record{stage, errno};
  ssize_t ignored = write(plan.error_write, &record, sizeof(record));
  (void)ignored;
  _exit(127);
}

// Sends one descriptor over a unix socket (SCM_RIGHTS).
bool SendDescriptor(int channel, int descriptor) {
  char byte = 'f';
  iovec data{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &descriptor, sizeof(int));
  return sendmsg(channel, &message, MSG_NOSIGNAL) == 1;
}

int ReceiveDescriptor(int channel) {
  char byte = 0;
  iovec data{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  if (recvmsg(channel, &message, MSG_CMSG_CLOEXEC) != 1) return -1;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  if (!header || header->cmsg_type != SCM_RIGHTS) return -1;
  int descriptor = -1;
  std::memcpy(&descriptor, CMSG_DATA(header), sizeof(int));
  return descriptor;
}

bool BindReadOnly(const char* source, const char* target) {
  // A bind mount ignores MS_RDONLY on creation; the read-only flag takes a remount.
  if (mount(source, target, nullptr, MS_BIND | MS_REC, nullptr) != 0) return false;
  return mount(nullptr, target, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
               nullptr) == 0;
}

// A /dev with only null, zero, full, random and urandom (bound from the host's) and the fd links.
void MountDev(const ChildPlan& plan) {
  if (mount("tmpfs", plan.dev.c_str(), "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755") != 0) {
    Fail(plan, kMountDev);
  }
  for (const auto& [node, target] : plan.dev_nodes) {
    int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) Fail(plan, kMountDev);
    close(fd);
    if (mount(node.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) Fail(plan, kMountDev);
  }
  for (const auto& [target, link] : plan.dev_links) {
    if (symlink(target.c_str(), link.c_str()) != 0) Fail(plan, kMountDev);
  }
}

int ChildMain(void* argument) {
  const ChildPlan& plan = *static_cast<const ChildPlan*>(argument);
  // A waiting slot ends with the server's thread that made it (again after the privilege drop
  // below, which clears this). Its own copy of `go`'s write end goes: the parent's close must
  // read as end-of-file here.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) Fail(plan, kJoinCgroup);
  close(plan.go_write);
  // Into the cgroup first, so nothing below runs unlimited ("0": the writing process).
  for (const auto& procs : plan.cgroup_procs) {
    int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) Fail(plan, kJoinCgroup);
    close(fd);
  }
  if (sethostname(plan.hostname.c_str(), plan.hostname.size()) != 0) Fail(plan, kHostname);

  if (!plan.host_network) {
    // The new network namespace has only a loopback device, down: bring it up.
    int control = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq request{};
    std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    if (control < 0 || ioctl(control, SIOCGIFFLAGS, &request) != 0) Fail(plan, kLoopback);
    request.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(control, SIOCSIFFLAGS, &request) != 0) Fail(plan, kLoopback);
    close(control);
  }

  // The Runtime API socket lives in this namespace; the invoker serves it, no proxy in between.
  // On the host's network, a free port (9001 would clash between environments).
  // In a private network the bundled services get a socket of their own beside it; on the
  // host's network the worker reaches the server's own endpoint.
  for (int port : {plan.host_network ? 0 : kRuntimeApiPort, plan.host_network ? -1 : kServicesPort}) {
    if (port < 0) continue;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        listen(listener, 64) != 0) {
      Fail(plan, kListen);
    }
    if (!SendDescriptor(plan.socket_write, listener)) Fail(plan, kSendSocket);
    close(listener);
  }

  // Mounts made from here on stay in this mount namespace.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) Fail(plan, kMountPrivate);
  if (mount("tmpfs", plan.root.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755") != 0) {
    Fail(plan, kMountRoot);
  }
  for (const auto& directory : plan.directories) {
    if (mkdir(directory.c_str(), 0755) != 0 && errno != EEXIST) Fail(plan, kMakeTree);
  }
  for (const auto& [target, link] : plan.symlinks) {
    if (symlink(target.c_str(), link.c_str()) != 0) Fail(plan, kMakeTree);
  }
  for (const auto& file : plan.files) {
    int fd = open(file.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) Fail(plan, kMountEtc);
    if (!file.content.empty() &&
        write(fd, file.content.data(), file.content.size()) !=
            static_cast<ssize_t>(file.content.size())) {
      Fail(plan, kMountEtc);
    }
    close(fd);
  }
  for (const auto& bind : plan.binds) {
    if (!BindReadOnly(bind.source.c_str(), bind.target.c_str())) Fail(plan, kMountUsr);
  }
  MountDev(plan);
  if (mount("tmpfs", plan.tmp.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
            plan.tmp_default_options.c_str()) != 0) {
    Fail(plan, kMountTmp);
  }
  // A /proc of this pid namespace: the worker sees its own processes only.
  if (mount("proc", plan.proc.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    Fail(plan, kMountProc);
  }
  // pivot_root, not chroot: the old root is detached entirely, so no path leads back to it. Done
  // while waiting: detaching the old root may wait for an RCU grace period (milliseconds on a
  // loaded host), which a start must not pay. The function's folders come as mounts (below).
  if (syscall(SYS_pivot_root, plan.root.c_str(), plan.old_root.c_str()) != 0) Fail(plan, kPivotRoot);
  if (chdir("/") != 0) Fail(plan, kPivotRoot);
  if (umount2("/.old", MNT_DETACH) != 0) Fail(plan, kPivotRoot);
  rmdir("/.old");
  if (mount(nullptr, "/", nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0) {
    Fail(plan, kRootReadOnly);
  }
  // What of the privilege drop and the seccomp profile does not stand in the start's way, now:
  // no_new_privs and empty bounding and ambient sets (this process keeps its effective
  // capabilities for the mounts to come), and the profile but for those mounts' syscalls.
  if (int error = DropBoundingSetWithoutAllocating(plan.last_capability)) {
    errno = error;
    Fail(plan, kPrivileges);
  }
  if (int error = LoadSeccompProgram(*plan.seccomp_waiting)) {
    errno = error;
    Fail(plan, kSeccomp);
  }

  // Ready: everything above is the same for every function. Wait for this slot's function.
  ChildError ready{kReady, 0};
  if (write(plan.error_write, &ready, sizeof(ready)) != sizeof(ready)) _exit(127);
  char go = 0;
  ssize_t got = -1;
  do {
    got = read(plan.go_read, &go, 1);
  } while (got < 0 && errno == EINTR);
  if (got != 1) _exit(0);  // the slot was discarded (the parent closed `go`)
  close(plan.go_read);

  if (!plan.image) {
    int code = ReceiveDescriptor(plan.socket_write);
    int runtimes = ReceiveDescriptor(plan.socket_write);
    if (code < 0 || move_mount(code, "", AT_FDCWD, "/var/task", MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      Fail(plan, kMountCode);
    }
    if (runtimes < 0 ||
        move_mount(runtimes, "", AT_FDCWD, "/var/runtime", MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      Fail(plan, kMountRuntimes);
    }
    close(code);
    close(runtimes);
    if (plan.tmp_options != plan.tmp_default_options &&
        mount(nullptr, "/tmp", nullptr, MS_REMOUNT | MS_NOSUID | MS_NODEV,
              plan.tmp_options.c_str()) != 0) {
      Fail(plan, kMountTmp);
    }
  } else {
    // The image's root: an overlay whose upper layer is this worker's own tmpfs, so the shared
    // unpacked image is never written (and is read-only in the end like the rest of the root).
    int lower = ReceiveDescriptor(plan.socket_write);
    if (lower < 0) Fail(plan, kMountImage);
    if (mount("tmpfs", plan.image_base.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=0755") !=
        0) {
      Fail(plan, kMountImage);
    }
    for (size_t i = 0; i < 4; ++i) {
      if (mkdir(plan.image_directories[i].c_str(), 0755) != 0) Fail(plan, kMountImage);
    }
    if (move_mount(lower, "", AT_FDCWD, plan.image_lower.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      Fail(plan, kMountImage);
    }
    close(lower);
    if (mount("overlay", plan.image_root.c_str(), "overlay", MS_NOSUID | MS_NODEV,
              plan.image_overlay_options.c_str()) != 0) {
      Fail(plan, kMountImage);
    }
    for (size_t i = 4; i < plan.image_directories.size(); ++i) {
      if (mkdir(plan.image_directories[i].c_str(), 0755) != 0 && errno != EEXIST) {
        Fail(plan, kMountImage);
      }
    }
    MountDev(plan);
    if (mount("tmpfs", plan.tmp.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, plan.tmp_options.c_str()) !=
        0) {
      Fail(plan, kMountTmp);
    }
    if (mount("proc", plan.proc.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
      Fail(plan, kMountProc);
    }
    // The overlay becomes the root; the slot's root (and the image's lower mount under it) is
    // detached, kept alive only by the overlay's own references.
    if (chdir(plan.image_root.c_str()) != 0) Fail(plan, kPivotRoot);
    if (syscall(SYS_pivot_root, ".", ".") != 0) Fail(plan, kPivotRoot);
    if (umount2(".", MNT_DETACH) != 0) Fail(plan, kPivotRoot);
    if (chdir("/") != 0) Fail(plan, kPivotRoot);
    if (mount(nullptr, "/", nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) !=
        0) {
      Fail(plan, kRootReadOnly);
    }
  }

  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || dup2(null, 0) < 0 || dup2(plan.out_write, 1) < 0 ||
      dup2(plan.err_write, 2) < 0) {
    Fail(plan, kStdio);
  }
  if (chdir(plan.working_directory.c_str()) != 0) Fail(plan, kChdir);
  // Nothing of the server's reaches the handler: every other descriptor closes at exec.
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  if (int error = DropIdentityWithoutAllocating(plan.uid, plan.gid)) {
    errno = error;
    Fail(plan, kPrivileges);
  }
  // The worker dies with the server's thread that made it (the refill or loop thread, which live
  // as long as the sandbox), so a SIGKILLed server leaves no workers running. After the
  // privilege drop: a change of credentials clears the setting.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) Fail(plan, kPrivileges);
  if (int error = LoadSeccompProgram(*plan.seccomp_start)) {
    errno = error;
    Fail(plan, kSeccomp);
  }
  execve(plan.argv[0], plan.argv.data(), plan.envp.data());
  Fail(plan, kExec);
}

class NamespaceWorker : public Worker {
 public:
  NamespaceWorker(pid_t pid, int stdout_fd, int stderr_fd, int exit_fd, int listen_fd,
                  int services_fd, std::unique_ptr<Cgroup> cgroup)
      : pid_(pid),
        stdout_fd_(stdout_fd),
        stderr_fd_(stderr_fd),
        exit_fd_(exit_fd),
        listen_fd_(listen_fd),
        services_fd_(services_fd),
        cgroup_(std::move(cgroup)) {
    auto count = cgroup_->OomKillCount();
    oom_baseline_ = count.ok() ? *count : 0;
  }

  ~NamespaceWorker() override {
    Kill();
    if (!reaped_) {
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    // The pid namespace's other tasks die with its init; the cgroup empties right after.
    (void)cgroup_->KillAll();
    Status destroyed = cgroup_->Destroy();
    if (!destroyed.ok()) spdlog::warn("sandbox: {}", destroyed.message());
    close(stdout_fd_);
    close(stderr_fd_);
    if (exit_fd_ >= 0) close(exit_fd_);
    close(listen_fd_);
    if (services_fd_ >= 0) close(services_fd_);
  }

  pid_t pid() const override { return pid_; }
  int stdout_fd() const override { return stdout_fd_; }
  int stderr_fd() const override { return stderr_fd_; }
  int exit_fd() const override { return exit_fd_; }
  int runtime_api_fd() const override { return listen_fd_; }
  int services_fd() const override { return services_fd_; }

  void Kill() override {
    // Thaws first (a frozen task ignores SIGKILL until thawed), then kills every task; killing
    // the namespace's init alone would also end the rest.
    (void)cgroup_->KillAll();
    if (!reaped_) kill(pid_, SIGKILL);
  }

  bool TryReap(int* wait_status) override {
    if (!reaped_) {
      if (waitpid(pid_, &wait_status_, WNOHANG) != pid_) return false;
      reaped_ = true;
    }
    *wait_status = wait_status_;
    return true;
  }

  void ResetPeakMemory() override { (void)cgroup_->ResetPeakMemory(); }

  uint64_t PeakMemoryBytes() override {
    auto peak = cgroup_->PeakMemoryBytes();
    return peak.ok() ? *peak : 0;
  }

  bool OomKilled() override {
    auto count = cgroup_->OomKillCount();
    return count.ok() && *count > oom_baseline_;
  }

  bool Freeze() override {
    Status frozen = cgroup_->Freeze();
    if (!frozen.ok()) spdlog::warn("sandbox: {}", frozen.message());
    return frozen.ok();
  }

  bool Thaw() override {
    Status thawed = cgroup_->Thaw();
    if (!thawed.ok()) spdlog::warn("sandbox: {}", thawed.message());
    return thawed.ok();
  }

 private:
  pid_t pid_;
  int stdout_fd_;
  int stderr_fd_;
  int exit_fd_;
  int listen_fd_;
  int services_fd_;
  std::unique_ptr<Cgroup> cgroup_;
  uint64_t oom_baseline_ = 0;
  bool reaped_ = false;
  int wait_status_ = 0;
};

void CloseAll(std::initializer_list<int> descriptors) {
  for (int fd : descriptors) {
    if (fd >= 0) close(fd);
  }
}

// The folders the worker mounts on or makes inside an image's root must be real folders (or
// absent): before pivot_root, a symbolic link there would resolve against the host's root, and
// the worker would make folders or mount on the host's paths.
Status CheckImageMountPoints(const std::string& rootfs) {
  for (const char* path : {"/tmp", "/dev", "/proc", "/var", "/var/task", "/var/runtime", "/opt",
                           "/etc", "/.old"}) {
    struct stat info {};
    if (lstat((rootfs + path).c_str(), &info) != 0) continue;  // made in the overlay
    if (!S_ISDIR(info.st_mode)) {
      return Status::InvalidArgument(std::string("the image's ") + path +
                                     " is not a folder (a symbolic link or a file); haneul mounts "
                                     "or makes a folder there");
    }
  }
  return Status::Ok();
}

// A child waiting in its namespaces and cgroup for a function (see the top of this file). The
// child reads `plan` and runs on `stack`: both stay put until it has exec'd or died.
struct Slot {
  Slot() = default;
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  ~Slot() {
    if (pid > 0) {
      // Discarded while waiting (or failed): closing `go` ends it; SIGKILL in case it is stuck.
      CloseAll({go_write});
      go_write = -1;
      kill(pid, SIGKILL);
      int ignored = 0;
      waitpid(pid, &ignored, 0);
    }
    if (stack != nullptr) munmap(stack, kChildStackBytes);
    CloseAll({go_write, report_read, out_read, err_read, listen_fd, services_fd, channel});
    if (cgroup) {
      (void)cgroup->KillAll();
      (void)cgroup->Destroy();
    }
  }

  ChildPlan plan;
  void* stack = nullptr;
  pid_t pid = -1;
  int go_write = -1;
  int report_read = -1;
  int out_read = -1;
  int err_read = -1;
  int listen_fd = -1;
  int services_fd = -1;  // -1 on the host's network
  int channel = -1;      // unix socket to the child: the function's folders as mounts
  int runtime_api_port = 0;
  std::unique_ptr<Cgroup> cgroup;
  std::optional<CgroupLimits> applied;  // the limits already written to the cgroup
};

class NamespaceSandbox : public Sandbox {
 public:
  NamespaceSandbox(const SandboxOptions& options, std::unique_ptr<CgroupManager> cgroups,
                   SeccompStages seccomp)
      : options_(options),
        cgroups_(std::move(cgroups)),
        seccomp_(std::move(seccomp)),
        last_capability_(LastCapability()) {
    PrepareHostPart(&template_);
    if (options_.ready_slots > 0) refill_ = std::thread([this] { Refill(); });
  }

  ~NamespaceSandbox() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (refill_.joinable()) refill_.join();
    ready_.clear();  // kills and reaps the waiting children
  }

  bool private_network() const override { return !options_.host_network; }
  std::string name() const override { return "namespace"; }
  std::string task_root(const std::string&) const override { return "/var/task"; }
  std::string runtime_root(const std::string&) const override { return "/var/runtime"; }

  Result<std::unique_ptr<Worker>> Start(const WorkerSpec& spec) override {
    if (spec.argv.empty()) return Status::InvalidArgument("worker has no program");
    if (!spec.rootfs.empty()) {
      // overlayfs options are comma- and colon-separated: such a path cannot be said there.
      if (spec.rootfs.front() != '/' ||
          spec.rootfs.find_first_of(",:\\") != std::string::npos ||
          !std::filesystem::is_directory(spec.rootfs)) {
        return Status::InvalidArgument("image root filesystem " + spec.rootfs +
                                       " is not an absolute folder path without , : or \\");
      }
      HANEUL_RETURN_IF_ERROR(CheckImageMountPoints(spec.rootfs));
    }
    std::unique_ptr<Slot> slot = TakeSlot();
    if (!slot) {
      auto made = MakeSlot();
      if (!made.ok()) return made.status();
      slot = std::move(*made);
    }
    Slot& ready = *slot;
    PrepareFunctionPart(spec, ready.runtime_api_port, &ready.plan);
    CgroupLimits limits;
    limits.memory_bytes = spec.memory_limit_bytes;
    limits.memory_mb = spec.memory_mb;
    limits.pids = 1024;
    // Slots are made with the last start's limits already written (six cgroup files on v1,
    // ~0.3 ms): a run of starts of the same MemorySize writes none.
    if (!ready.applied || !SameLimits(*ready.applied, limits)) {
      HANEUL_RETURN_IF_ERROR(ready.cgroup->Apply(limits));
    }
    {
      std::lock_guard lock(mutex_);
      last_limits_ = limits;
    }
    // The function's folders, as detached read-only mounts the child moves into its root.
    std::vector<std::string> trees = spec.rootfs.empty()
                                         ? std::vector<std::string>{spec.code_directory,
                                                                    spec.runtimes_directory}
                                         : std::vector<std::string>{spec.rootfs};
    for (const std::string& tree : trees) {
      auto fd = DetachedReadOnlyTree(tree);
      if (!fd.ok()) return fd.status().WithContext("sandbox start failed");
      bool sent = SendDescriptor(ready.channel, *fd);
      close(*fd);
      if (!sent) return Status::FromErrno("handing the function's folders to a sandbox slot");
    }

    // The child reads the plan only after this byte: the write orders the stores above before it.
    char go = 'g';
    if (write(ready.go_write, &go, 1) != 1) {
      return Status::FromErrno("starting a sandbox slot");
    }
    close(ready.go_write);
    ready.go_write = -1;
    ChildError record{0, 0};
    ssize_t got = -1;
    do {
      got = read(ready.report_read, &record, sizeof(record));
    } while (got < 0 && errno == EINTR);
    if (got != 0) {
      std::string what = std::string("sandbox start failed at ") + StageName(record.stage) +
                         " (" + spec.argv[0] + ")";
      Status status = got < 0 ? Status::FromErrno("reading the worker's start report")
                              : Status::FromErrno(what, record.error);
      if (got > 0 && record.stage == kExec) {
        status = record.error == ENOENT ? Status::NotFound(status.message())
                                        : Status::InvalidArgument(status.message());
      }
      return status;  // ~Slot kills and reaps the child, and removes its cgroup
    }
    // exec'd: the child runs on its own memory now; its old stack is free.
    munmap(ready.stack, kChildStackBytes);
    ready.stack = nullptr;
    close(ready.report_read);
    ready.report_read = -1;
    int exit_fd = static_cast<int>(syscall(SYS_pidfd_open, ready.pid, 0));
    auto worker = std::unique_ptr<Worker>(new NamespaceWorker(
        ready.pid, ready.out_read, ready.err_read, exit_fd, ready.listen_fd, ready.services_fd,
        std::move(ready.cgroup)));
    ready.pid = -1;
    ready.out_read = ready.err_read = ready.listen_fd = ready.services_fd = -1;
    return worker;
  }

 private:
  // Takes a ready slot, if any, and wakes the refill thread to make another.
  std::unique_ptr<Slot> TakeSlot() {
    std::unique_ptr<Slot> slot;
    {
      std::lock_guard lock(mutex_);
      if (!ready_.empty()) {
        slot = std::move(ready_.front());
        ready_.pop_front();
      }
    }
    wake_.notify_one();
    return slot;
  }

  // The refill thread: keeps options_.ready_slots slots waiting. A failure is logged and retried
  // after a pause (Start makes its own slot meanwhile and reports the error to its caller).
  void Refill() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (ready_.size() >= options_.ready_slots) {
        wake_.wait(lock);
        continue;
      }
      lock.unlock();
      auto made = MakeSlot();
      lock.lock();
      if (made.ok()) {
        ready_.push_back(std::move(*made));
      } else {
        spdlog::warn("sandbox: pre-creating a slot failed: {}", made.status().message());
        wake_.wait_for(lock, std::chrono::seconds(1));
      }
    }
  }

  // Clones a slot and waits until it is ready (or failed). Any thread; one at a time: a child
  // cloned while another slot's pipes are open would inherit their write ends and hold back the
  // end-of-file that tells Start the other one exec'd.
  Result<std::unique_ptr<Slot>> MakeSlot() {
    std::lock_guard making(make_mutex_);
    auto slot = std::make_unique<Slot>();
    uint64_t number = next_slot_.fetch_add(1);
    auto cgroup = cgroups_->Create(SlotCgroupName(getpid(), number));
    if (!cgroup.ok()) return cgroup.status();
    slot->cgroup = std::move(*cgroup);
    std::optional<CgroupLimits> likely;
    {
      std::lock_guard lock(mutex_);
      likely = last_limits_;
    }
    if (likely && slot->cgroup->Apply(*likely).ok()) slot->applied = likely;
    slot->plan = template_;
    ChildPlan& plan = slot->plan;
    plan.cgroup_procs = slot->cgroup->ProcsFiles();
    plan.seccomp_waiting = &seccomp_.waiting;
    plan.seccomp_start = &seccomp_.start;
    plan.last_capability = last_capability_;

    int out[2], err[2], report[2], go[2], channel[2];
    if (pipe2(out, O_CLOEXEC) != 0) return Status::FromErrno("pipe");
    if (pipe2(err, O_CLOEXEC) != 0) {
      CloseAll({out[0], out[1]});
      return Status::FromErrno("pipe");
    }
    if (pipe2(report, O_CLOEXEC) != 0) {
      CloseAll({out[0], out[1], err[0], err[1]});
      return Status::FromErrno("pipe");
    }
    if (pipe2(go, O_CLOEXEC) != 0) {
      CloseAll({out[0], out[1], err[0], err[1], report[0], report[1]});
      return Status::FromErrno("pipe");
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) {
      CloseAll({out[0], out[1], err[0], err[1], report[0], report[1], go[0], go[1]});
      return Status::FromErrno("socketpair");
    }
    slot->out_read = out[0];
    slot->err_read = err[0];
    slot->report_read = report[0];
    slot->go_write = go[1];
    plan.out_write = out[1];
    plan.err_write = err[1];
    plan.error_write = report[1];
    plan.go_read = go[0];
    plan.go_write = go[1];
    plan.socket_write = channel[1];
    auto close_child_ends = [&] { CloseAll({out[1], err[1], report[1], go[0], channel[1]}); };

    slot->stack = mmap(nullptr, kChildStackBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (slot->stack == MAP_FAILED) {
      slot->stack = nullptr;
      close_child_ends();
      close(channel[0]);
      return Status::FromErrno("mmap child stack");
    }
    // New pid, mount, uts, ipc and network namespaces: the worker is init of its own pid
    // namespace, with its own mounts, hostname, System V IPC and network stack. CLONE_VM: see
    // the top of this file.
    int flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                (options_.host_network ? 0 : CLONE_NEWNET) | CLONE_VM | SIGCHLD;
    pid_t pid = clone(ChildMain, static_cast<char*>(slot->stack) + kChildStackBytes, flags, &plan);
    int clone_errno = errno;
    close_child_ends();
    if (pid < 0) {
      close(channel[0]);
      return Status::FromErrno("clone", clone_errno);
    }
    slot->pid = pid;
    ChildError record{-1, 0};
    ssize_t got = -1;
    do {
      got = read(slot->report_read, &record, sizeof(record));
    } while (got < 0 && errno == EINTR);
    if (got != sizeof(record) || record.stage != kReady) {
      close(channel[0]);
      if (got == sizeof(record)) {
        return Status::FromErrno(std::string("sandbox slot failed at ") + StageName(record.stage),
                                 record.error);
      }
      return Status::Internal("sandbox slot ended before it was ready");
    }
    slot->listen_fd = ReceiveDescriptor(channel[0]);
    if (!options_.host_network) slot->services_fd = ReceiveDescriptor(channel[0]);
    slot->channel = channel[0];  // the function's folders go this way at `go`
    if (slot->listen_fd < 0) return Status::Internal("no Runtime API socket from the worker");
    if (!options_.host_network && slot->services_fd < 0) {
      return Status::Internal("no services socket from the worker");
    }
    sockaddr_in bound{};
    socklen_t length = sizeof(bound);
    if (getsockname(slot->listen_fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
      return Status::FromErrno("getsockname of the Runtime API socket");
    }
    slot->runtime_api_port = ntohs(bound.sin_port);
    fcntl(slot->out_read, F_SETFL, fcntl(slot->out_read, F_GETFL) | O_NONBLOCK);
    fcntl(slot->err_read, F_SETFL, fcntl(slot->err_read, F_GETFL) | O_NONBLOCK);
    return slot;
  }

  // The function-independent part of every slot's plan.
  void PrepareHostPart(ChildPlan* plan) const {
    plan->uid = options_.uid;
    plan->gid = options_.gid;
    const std::string& root = options_.root_mountpoint;
    std::error_code ec;
    std::filesystem::create_directories(root, ec);
    std::filesystem::create_directories(options_.image_mountpoint, ec);
    plan->root = root;
    plan->old_root = root + "/.old";
    plan->tmp = root + "/tmp";
    plan->dev = root + "/dev";
    plan->proc = root + "/proc";
    plan->tmp_default_options = "size=" + std::to_string(uint64_t{512} << 20) + ",mode=1777";
    for (const char* directory : {"/usr", "/etc", "/var", "/var/task", "/var/runtime", "/opt",
                                  "/tmp", "/proc", "/dev", "/.old", "/etc/ssl",
                                  "/etc/alternatives", "/home", "/.image"}) {
      plan->directories.push_back(root + directory);
    }
    // Debian 12 is merged-/usr: /bin, /lib, /lib64 and /sbin are links into /usr.
    for (const char* link : {"bin", "sbin", "lib", "lib64"}) {
      plan->symlinks.emplace_back(std::string("usr/") + link, root + "/" + link);
    }
    plan->symlinks.emplace_back("/usr/share/zoneinfo/UTC", root + "/etc/localtime");
    plan->files.push_back({root + "/etc/passwd",
                           "root:x:0:0:root:/root:/sbin/nologin\n"
                           "sbx_user1051:x:" + std::to_string(options_.uid) + ":" +
                               std::to_string(options_.gid) +
                               "::/tmp:/sbin/nologin\n"});
    plan->files.push_back({root + "/etc/group", "root:x:0:\nsbx_user1051:x:" +
                                                    std::to_string(options_.gid) + ":\n"});
    plan->files.push_back({root + "/etc/hosts", "127.0.0.1 localhost sandbox\n::1 localhost\n"});
    plan->files.push_back({root + "/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n"});
    plan->files.push_back({root + "/etc/resolv.conf", ""});
    plan->host_network = options_.host_network;
    if (options_.host_network && std::filesystem::exists("/etc/resolv.conf")) {
      plan->binds.push_back({"/etc/resolv.conf", root + "/etc/resolv.conf", false});
    }
    plan->files.push_back({root + "/etc/ld.so.cache", ""});
    plan->binds.push_back({"/usr", root + "/usr", true});
    plan->binds.push_back({"/etc/ld.so.cache", root + "/etc/ld.so.cache", false});
    plan->binds.push_back({"/etc/ssl", root + "/etc/ssl", true});
    plan->binds.push_back({"/etc/alternatives", root + "/etc/alternatives", true});
    for (const char* node : {"null", "zero", "full", "random", "urandom"}) {
      plan->dev_nodes.emplace_back(std::string("/dev/") + node, root + "/dev/" + node);
    }
    plan->dev_links = {{"/proc/self/fd", root + "/dev/fd"},
                       {"/proc/self/fd/0", root + "/dev/stdin"},
                       {"/proc/self/fd/1", root + "/dev/stdout"},
                       {"/proc/self/fd/2", root + "/dev/stderr"}};
  }

  // The function's part, filled in while the slot's child waits for `go`.
  void PrepareFunctionPart(const WorkerSpec& spec, int runtime_api_port, ChildPlan* plan) const {
    plan->argv_storage = spec.argv;
    plan->env_storage = spec.environment;
    plan->env_storage.push_back("AWS_LAMBDA_RUNTIME_API=127.0.0.1:" +
                                std::to_string(runtime_api_port));
    plan->argv.clear();
    plan->envp.clear();
    for (auto& arg : plan->argv_storage) plan->argv.push_back(arg.data());
    plan->argv.push_back(nullptr);
    for (auto& var : plan->env_storage) plan->envp.push_back(var.data());
    plan->envp.push_back(nullptr);
    uint64_t tmp_bytes = spec.ephemeral_storage_bytes ? spec.ephemeral_storage_bytes : 512 << 20;
    plan->tmp_options = "size=" + std::to_string(tmp_bytes) + ",mode=1777";
    plan->working_directory =
        spec.working_directory.empty() ? "/var/task" : spec.working_directory;
    plan->image = !spec.rootfs.empty();
    if (!plan->image) return;
    // An image: the root becomes an overlay of its rootfs (see ChildMain). Paths inside the
    // slot's (pivoted) root.
    const std::string base = "/.image";
    const std::string root = base + "/root";
    plan->image_base = base;
    plan->image_lower = base + "/lower";
    plan->image_root = root;
    plan->image_overlay_options = "lowerdir=" + plan->image_lower + ",upperdir=" + base +
                                  "/upper,workdir=" + base + "/work";
    plan->image_directories = {base + "/upper", base + "/work", plan->image_lower, root};
    for (const char* directory : {"/tmp", "/dev", "/proc", "/var", "/var/task", "/var/runtime",
                                  "/opt", "/etc"}) {
      plan->image_directories.push_back(root + directory);
    }
    plan->tmp = root + "/tmp";
    plan->dev = root + "/dev";
    plan->proc = root + "/proc";
    plan->dev_nodes.clear();
    for (const char* node : {"null", "zero", "full", "random", "urandom"}) {
      plan->dev_nodes.emplace_back(std::string("/dev/") + node, root + "/dev/" + node);
    }
    plan->dev_links = {{"/proc/self/fd", root + "/dev/fd"},
                       {"/proc/self/fd/0", root + "/dev/stdin"},
                       {"/proc/self/fd/1", root + "/dev/stdout"},
                       {"/proc/self/fd/2", root + "/dev/stderr"}};
  }

  // A detached, read-only copy of the host folder `path` (open_tree), for a waiting slot to
  // mount inside its already pivoted root.
  static Result<int> DetachedReadOnlyTree(const std::string& path) {
    int fd = static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, path.c_str(),
                                      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
    if (fd < 0) return Status::FromErrno("open_tree " + path);
    mount_attr attributes{};
    attributes.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attributes,
                sizeof(attributes)) != 0) {
      Status status = Status::FromErrno("mount_setattr " + path);
      close(fd);
      return status;
    }
    return fd;
  }

  SandboxOptions options_;
  std::unique_ptr<CgroupManager> cgroups_;  // used by MakeSlot only (one thread at a time)
  SeccompStages seccomp_;                   // compiled once; every worker loads both parts
  int last_capability_;
  ChildPlan template_;  // the host part, copied into each slot

  std::mutex make_mutex_;  // one MakeSlot at a time
  std::atomic<uint64_t> next_slot_{0};
  std::mutex mutex_;  // guards ready_ and stopping_
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Slot>> ready_;
  bool stopping_ = false;
  std::optional<CgroupLimits> last_limits_;  // the last start's, written ahead into new slots
  std::thread refill_;  // last: started after everything it uses
};

}  // namespace

Result<std::unique_ptr<Sandbox>> MakeNamespaceSandbox(const SandboxOptions& options) {
  if (geteuid() != 0) {
    return Status::Unavailable(
        "the namespace sandbox needs root (to create namespaces, mounts and cgroups); run as "
        "root or use --sandbox process");
  }
  auto cgroups = OpenCgroupManager(options.cgroup_root, options.cgroup_subtree);
  if (!cgroups.ok()) {
    return Status::Unavailable("the namespace sandbox needs cgroups: " + cgroups.status().message());
  }
  if (options.uid == 0 || options.gid == 0) {
    return Status::InvalidArgument("the sandbox user must not be root (uid and gid 0)");
  }
  RemoveStaleSlotCgroups(**cgroups);
  auto seccomp = BuildSeccompStages();
  if (!seccomp.ok()) return seccomp.status().WithContext("namespace sandbox seccomp profile");
  return std::unique_ptr<Sandbox>(
      std::make_unique<NamespaceSandbox>(options, std::move(*cgroups), std::move(*seccomp)));
}

}  // namespace haneul::sandbox
