// The `process` backend: posix_spawn (vfork-fast) into a new session, so that the worker leads its
// own process group and one kill(-pgid) ends the tree it forks. Peak memory is the worker's own
// VmHWM from /proc, reset through /proc/PID/clear_refs.
#include "process/process_sandbox.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace haneul::sandbox {

namespace {

class ProcessWorker : public Worker {
 public:
  ProcessWorker(pid_t pid, int stdout_fd, int stderr_fd, int exit_fd, int listen_fd)
      : pid_(pid),
        stdout_fd_(stdout_fd),
        stderr_fd_(stderr_fd),
        exit_fd_(exit_fd),
        listen_fd_(listen_fd) {
    // Opened once: both are used around every invocation, and procfs re-renders on each pread.
    std::string proc = "/proc/" + std::to_string(pid_);
    status_fd_ = open((proc + "/status").c_str(), O_RDONLY | O_CLOEXEC);
    clear_refs_fd_ = open((proc + "/clear_refs").c_str(), O_WRONLY | O_CLOEXEC);
  }

  ~ProcessWorker() override {
    Kill();
    if (!reaped_) {
      int status = 0;
      // SIGKILL cannot be ignored, so this wait is short.
      waitpid(pid_, &status, 0);
    }
    close(stdout_fd_);
    close(stderr_fd_);
    if (exit_fd_ >= 0) close(exit_fd_);
    if (status_fd_ >= 0) close(status_fd_);
    close(listen_fd_);
    if (clear_refs_fd_ >= 0) close(clear_refs_fd_);
  }

  pid_t pid() const override { return pid_; }
  int stdout_fd() const override { return stdout_fd_; }
  int stderr_fd() const override { return stderr_fd_; }
  int exit_fd() const override { return exit_fd_; }
  int runtime_api_fd() const override { return listen_fd_; }
  bool OomKilled() override { return false; }  // no memory limit is enforced

  void Kill() override {
    // The worker leads its own process group (setsid): this ends its children too, unless they
    // started sessions of their own (the namespace backend closes that hole with a pid namespace).
    kill(-pid_, SIGKILL);
    if (!reaped_) kill(pid_, SIGKILL);
  }

  bool TryReap(int* wait_status) override {
    if (reaped_) {
      *wait_status = wait_status_;
      return true;
    }
    pid_t got = waitpid(pid_, &wait_status_, WNOHANG);
    if (got != pid_) return false;
    reaped_ = true;
    *wait_status = wait_status_;
    return true;
  }

  void ResetPeakMemory() override {
    // "5" resets the peak resident set size (VmHWM) of the process; see proc(5) clear_refs.
    if (clear_refs_fd_ < 0) return;
    ssize_t ignored = pwrite(clear_refs_fd_, "5", 1, 0);
    (void)ignored;
  }

  uint64_t PeakMemoryBytes() override {
    if (status_fd_ < 0) return 0;
    char buffer[4096];
    ssize_t n = pread(status_fd_, buffer, sizeof(buffer) - 1, 0);
    if (n <= 0) return 0;
    buffer[n] = '\0';
    const char* line = std::strstr(buffer, "VmHWM:");
    if (!line) return 0;
    return std::strtoull(line + 6, nullptr, 10) * 1024;
  }

 private:
  pid_t pid_;
  int stdout_fd_;
  int stderr_fd_;
  int exit_fd_;
  int listen_fd_;
  int status_fd_ = -1;
  int clear_refs_fd_ = -1;
  bool reaped_ = false;
  int wait_status_ = 0;
};

class ProcessSandbox : public Sandbox {
 public:
  std::string name() const override { return "process"; }
  std::string task_root(const std::string& code_directory) const override {
    return code_directory;
  }
  std::string runtime_root(const std::string& runtimes_directory) const override {
    return runtimes_directory;
  }

  Result<std::unique_ptr<Worker>> Start(const WorkerSpec& spec) override {
    if (spec.argv.empty()) return Status::InvalidArgument("worker has no program");
    if (!spec.rootfs.empty()) {
      return Status::Unavailable(
          "image functions need the namespace sandbox (the process backend cannot give a worker "
          "the image's root filesystem)");
    }
    // The Runtime API listens on a free loopback port of the host (no network namespace here).
    int listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0) return Status::FromErrno("socket");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (bind(listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        listen(listen_fd, 64) != 0 ||
        getsockname(listen_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      int saved = errno;
      close(listen_fd);
      return Status::FromErrno("runtime api socket", saved);
    }
    std::vector<std::string> environment = spec.environment;
    environment.push_back("AWS_LAMBDA_RUNTIME_API=127.0.0.1:" +
                          std::to_string(ntohs(address.sin_port)));
    int out[2];
    int err[2];
    // O_CLOEXEC on every end: the spawn's dup2 clears it on the child's copies.
    if (pipe2(out, O_CLOEXEC) != 0) {
      close(listen_fd);
      return Status::FromErrno("pipe");
    }
    if (pipe2(err, O_CLOEXEC) != 0) {
      close(out[0]);
      close(out[1]);
      close(listen_fd);
      return Status::FromErrno("pipe");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    // Nothing of the server's (client sockets, listeners, store files) leaks into the worker,
    // whatever flags those descriptors were opened with.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (!spec.code_directory.empty()) {
      posix_spawn_file_actions_addchdir_np(&actions, spec.code_directory.c_str());
    }
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    // A new session makes the worker a process-group leader (kill(-pid) reaches its children);
    // default signal dispositions undo anything the server ignores (SIGPIPE).
    sigset_t all;
    sigfillset(&all);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
                                              POSIX_SPAWN_SETSIGMASK);

    std::vector<char*> argv;
    for (const auto& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& var : environment) envp.push_back(const_cast<char*>(var.c_str()));
    envp.push_back(nullptr);

    pid_t pid = 0;
    int rc = posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    close(out[1]);
    close(err[1]);
    if (rc != 0) {
      close(out[0]);
      close(err[0]);
      close(listen_fd);
      Status status = Status::FromErrno("spawn " + spec.argv[0], rc);
      return rc == ENOENT ? Status::NotFound(status.message())
                          : Status::InvalidArgument(status.message());
    }
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
    fcntl(err[0], F_SETFL, fcntl(err[0], F_GETFL) | O_NONBLOCK);
    // pidfd_open (Linux 5.3): a descriptor the event loop can wait on for the worker's exit.
    int exit_fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    return std::unique_ptr<Worker>(new ProcessWorker(pid, out[0], err[0], exit_fd, listen_fd));
  }
};

}  // namespace

Result<std::unique_ptr<Sandbox>> MakeProcessSandbox(const SandboxOptions&) {
  return std::unique_ptr<Sandbox>(std::make_unique<ProcessSandbox>());
}

}  // namespace haneul::sandbox
