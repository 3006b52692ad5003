// The criu snapshot backend; see criu.h for the protocol with the runtime.
#include "criu/criu.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/copy_cgroups.h"
#include "common/process_util.h"
#include "haneul/common/ids.h"

namespace haneul::snapshot::criu {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

unsigned long InodeOf(int fd) {
  struct stat st {};
  return fstat(fd, &st) == 0 ? static_cast<unsigned long>(st.st_ino) : 0;
}

// A pipe with both ends close-on-exec.
Status MakePipe(Fd* read_end, Fd* write_end) {
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) return Status::FromErrno("pipe");
  *read_end = Fd(ends[0]);
  *write_end = Fd(ends[1]);
  return Status::Ok();
}

// A listening socket on a free loopback port: the worker's Runtime API.
Result<Fd> LoopbackListener(uint16_t* port) {
  Fd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (listener.get() < 0) return Status::FromErrno("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener.get(), 64) != 0 ||
      getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return Status::FromErrno("runtime api socket");
  }
  *port = ntohs(address.sin_port);
  return listener;
}

// The last "Error" line of a criu log (the reason a run failed), else its last line.
std::string LastError(const std::string& log_path) {
  std::ifstream in(log_path);
  std::string line;
  std::string last;
  std::string error;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    // criu complains about RLIMIT_NOFILE on every run and goes on: not a reason.
    if (line.find("Error") != std::string::npos && line.find("RLIMIT_NOFILE") == std::string::npos) {
      error = line;
    }
    last = line;
  }
  return error.empty() ? last : error;
}

// Runs criu with args, giving it inherit[i] as descriptor 3 + i, and waits at most timeout for it
// (killing it then). Its log goes to log_path.
Status RunCriu(const std::string& criu, const std::vector<std::string>& args,
               const std::vector<int>& inherit, std::chrono::milliseconds timeout,
               const std::string& log_path) {
  // Lifted above every target number first, so no dup2 below overwrites a source still needed.
  std::vector<Fd> lifted;
  for (int fd : inherit) {
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 64);
    if (high < 0) return Status::FromErrno("dup for criu");
    lifted.emplace_back(high);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  for (size_t i = 0; i < lifted.size(); ++i) {
    posix_spawn_file_actions_adddup2(&actions, lifted[i].get(), static_cast<int>(3 + i));
  }
  // Nothing else of the server's reaches criu, and so nothing else the restored copy.
  posix_spawn_file_actions_addclosefrom_np(&actions, static_cast<int>(3 + lifted.size()));
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t all;
  sigfillset(&all);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::vector<std::string> full = {criu};
  full.insert(full.end(), args.begin(), args.end());
  full.insert(full.end(), {"-v2", "-o", log_path});
  std::vector<char*> argv;
  for (auto& arg : full) argv.push_back(arg.data());
  argv.push_back(nullptr);
  char* envp[] = {const_cast<char*>("PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/bin"), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, criu.c_str(), &actions, &attributes, argv.data(), envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) return Status::FromErrno("spawn " + criu, rc);
  lifted.clear();
  Fd exit_fd(PidfdOpen(pid));
  bool finished = true;
  if (exit_fd.get() >= 0) {
    pollfd poll_fd{exit_fd.get(), POLLIN, 0};
    int ready;
    do {
      ready = poll(&poll_fd, 1, static_cast<int>(timeout.count()));
    } while (ready < 0 && errno == EINTR);
    finished = ready == 1;
  }
  if (!finished) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!finished) {
    return Status::Unavailable("criu " + args.front() + " did not finish within " +
                               std::to_string(timeout.count()) + " ms (killed)");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Unavailable("criu " + args.front() + " failed: " + LastError(log_path));
  }
  return Status::Ok();
}

// A process this backend started (the template) or restored (a copy): the server is its parent
// (a copy's through --restore-sibling), so it reaps it itself. PID 1 of its own pid namespace:
// killing it ends every process of the namespace.
class CriuWorker : public sandbox::Worker {
 public:
  CriuWorker(pid_t pid, Fd out, Fd err, Fd api, std::shared_ptr<CopyCgroup> cgroup = nullptr,
             std::shared_ptr<CgroupPool> pool = nullptr)
      : pid_(pid), out_(std::move(out)), err_(std::move(err)), api_(std::move(api)),
        exit_(PidfdOpen(pid)), cgroup_(std::move(cgroup)), pool_(std::move(pool)) {}
  ~CriuWorker() override {
    Kill();
#ifdef HANEUL_SNAPSHOT_WITH_CGROUPS
    // Removed off the loop once the copy's tasks are gone.
    if (cgroup_ && pool_) pool_->Retire(std::move(cgroup_));
#endif
    if (!reaped_) {
      int status = 0;
      // SIGKILL cannot be ignored: a short wait.
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }

  pid_t pid() const override { return pid_; }
  int stdout_fd() const override { return out_.get(); }
  int stderr_fd() const override { return err_.get(); }
  int exit_fd() const override { return exit_.get(); }
  int runtime_api_fd() const override { return api_.get(); }
  bool OomKilled() override {
#ifdef HANEUL_SNAPSHOT_WITH_CGROUPS
    // A pool's cgroup is fresh: any OOM kill in it is this copy's.
    if (sandbox::Cgroup* cgroup = Joined(cgroup_)) {
      auto count = cgroup->OomKillCount();
      return count.ok() && *count > 0;
    }
#endif
    return false;  // not (yet) in a cgroup of its own: no memory limit
  }
  void Kill() override {
    if (!reaped_) kill(pid_, SIGKILL);
  }
  bool TryReap(int* wait_status) override {
    if (reaped_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
    reaped_ = true;
    *wait_status = status;
    return true;
  }
  void ResetPeakMemory() override {
#ifdef HANEUL_SNAPSHOT_WITH_CGROUPS
    if (sandbox::Cgroup* cgroup = Joined(cgroup_)) {
      (void)cgroup->ResetPeakMemory();
      return;
    }
#endif
    std::ofstream("/proc/" + std::to_string(pid_) + "/clear_refs") << "5";
  }
  uint64_t PeakMemoryBytes() override {
#ifdef HANEUL_SNAPSHOT_WITH_CGROUPS
    if (sandbox::Cgroup* cgroup = Joined(cgroup_)) {
      auto peak = cgroup->PeakMemoryBytes();
      if (peak.ok() && *peak > 0) return *peak;
    }
#endif
    return ReadPeakRss(pid_);
  }

  // The template's checkpoint pipes (see criu.h); unset on copies.
  Fd resume_write;
  Fd ready_read;
  unsigned long resume_inode = 0;
  unsigned long stdout_inode = 0;
  unsigned long stderr_inode = 0;

 private:
  pid_t pid_;
  Fd out_;
  Fd err_;
  Fd api_;
  Fd exit_;
  std::shared_ptr<CopyCgroup> cgroup_;  // a copy's own cgroup (namespace sandbox), else null
  std::shared_ptr<CgroupPool> pool_;
  bool reaped_ = false;
};

// What the cloned child needs, all prepared before clone (the child may only make syscalls).
struct ChildPlan {
  char* const* argv;
  char* const* envp;
  const char* directory;
  int fds[5];  // become 0..4: /dev/null, stdout, stderr, resume (read), ready (write)
};

int ChildMain(void* argument) {
  auto* plan = static_cast<ChildPlan*>(argument);
  // Default dispositions and an empty mask: nothing of the server's signal setup survives.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    sigaction(signal_number, &default_action, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // A session of its own inside the new pid namespace: criu restores the session and process
  // group ids as they were, which must not point outside the namespace.
  setsid();
  // Dies with the server's loop thread rather than outliving it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (int target = 0; target < 5; ++target) {
    if (dup2(plan->fds[target], target) < 0) _exit(126);
  }
  // Nothing else of the server's: criu would have to dump (and every copy restore) it.
  syscall(SYS_close_range, 5U, ~0U, 0U);
  if (plan->directory[0] != '\0' && chdir(plan->directory) != 0) _exit(126);
  execve(plan->argv[0], plan->argv, plan->envp);
  _exit(127);
}

// Starts templates for the criu backend: see criu.h.
class TemplateSandbox : public sandbox::Sandbox {
 public:
  std::string name() const override { return "process"; }  // paths and /tmp as that backend
  std::string task_root(const std::string& code_directory) const override { return code_directory; }
  std::string runtime_root(const std::string& runtimes_directory) const override {
    return runtimes_directory;
  }

  Result<std::unique_ptr<sandbox::Worker>> Start(const sandbox::WorkerSpec& spec) override {
    if (spec.argv.empty()) return Status::InvalidArgument("no program to start");
    if (!spec.rootfs.empty()) return Status::InvalidArgument("the criu backend runs no images");
    if (access(spec.argv[0].c_str(), X_OK) != 0) {
      Status status = Status::FromErrno("exec " + spec.argv[0]);
      return errno == ENOENT ? Status::NotFound(status.message())
                             : Status::InvalidArgument(status.message());
    }
    uint16_t port = 0;
    auto listener = LoopbackListener(&port);
    if (!listener.ok()) return listener.status();
    Fd out_read, out_write, err_read, err_write, resume_read, resume_write, ready_read, ready_write;
    HANEUL_RETURN_IF_ERROR(MakePipe(&out_read, &out_write));
    HANEUL_RETURN_IF_ERROR(MakePipe(&err_read, &err_write));
    HANEUL_RETURN_IF_ERROR(MakePipe(&resume_read, &resume_write));
    HANEUL_RETURN_IF_ERROR(MakePipe(&ready_read, &ready_write));
    Fd dev_null(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (dev_null.get() < 0) return Status::FromErrno("open /dev/null");
    // Above 0..4, so the child's dup2s never overwrite a source they still need.
    std::vector<Fd> lifted;
    for (const Fd* fd : {&dev_null, &out_write, &err_write, &resume_read, &ready_write}) {
      int high = fcntl(fd->get(), F_DUPFD_CLOEXEC, 10);
      if (high < 0) return Status::FromErrno("dup");
      lifted.emplace_back(high);
    }

    std::vector<std::string> environment = spec.environment;
    environment.push_back("AWS_LAMBDA_RUNTIME_API=127.0.0.1:" + std::to_string(port));
    std::vector<char*> argv;
    for (const auto& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& entry : environment) envp.push_back(const_cast<char*>(entry.c_str()));
    envp.push_back(nullptr);
    ChildPlan plan{argv.data(), envp.data(), spec.code_directory.c_str(), {}};
    for (int i = 0; i < 5; ++i) plan.fds[i] = lifted[i].get();

    // A pid namespace of its own, the runtime its PID 1 (see criu.h). No CLONE_VM: the child gets
    // a copy-on-write copy of the server, as with fork, and only makes syscalls before execve.
    constexpr size_t kStackBytes = 64 * 1024;
    std::vector<char> stack(kStackBytes);
    pid_t pid = clone(ChildMain, stack.data() + kStackBytes, CLONE_NEWPID | SIGCHLD, &plan);
    if (pid < 0) return Status::FromErrno("clone(CLONE_NEWPID)");
    lifted.clear();
    fcntl(out_read.get(), F_SETFL, O_NONBLOCK);
    fcntl(err_read.get(), F_SETFL, O_NONBLOCK);
    auto worker = std::make_unique<CriuWorker>(pid, std::move(out_read), std::move(err_read),
                                               std::move(*listener));
    worker->resume_inode = InodeOf(resume_write.get());
    worker->stdout_inode = InodeOf(out_write.get());
    worker->stderr_inode = InodeOf(err_write.get());
    worker->resume_write = std::move(resume_write);
    worker->ready_read = std::move(ready_read);
    return std::unique_ptr<sandbox::Worker>(std::move(worker));
  }
};

struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  ino_t inode = 0;
  bool operator==(const FileStamp&) const = default;
};

bool Stamp(const std::string& path, FileStamp* stamp) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return false;
  stamp->size = static_cast<uint64_t>(st.st_size);
  stamp->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  stamp->inode = st.st_ino;
  return true;
}

// Runs jobs in order on a thread of its own: the restores of spare copies (below), so that the
// loop does not wait ~50-100 ms for criu. Thread-safe; the thread ends with the object (pending
// jobs are dropped). Shared by the snapshotter and its templates (whichever goes last joins).
class Background {
 public:
  Background() : thread_([this] { Run(); }) {}
  ~Background() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void Post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    wake_.notify_all();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// How long the restore of a spare copy may take (off the request path) before it is killed.
constexpr std::chrono::milliseconds kSpareTimeout{5000};

// A restored copy that has not read its configuration yet (blocked on its resume pipe).
struct Restored {
  pid_t pid = 0;
  Fd out_read;
  Fd err_read;
  Fd resume_write;
};

void Discard(Restored& restored) {
  if (restored.pid <= 0) return;
  kill(restored.pid, SIGKILL);
  while (waitpid(restored.pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  restored.pid = 0;
}

// What restoring needs; immutable once made, so any thread may restore from it.
struct Image {
  std::string criu;
  std::string directory;
  std::string work;
  ImageManifest manifest;

  // One `criu restore` (see criu.h): the copy is left blocked on its new resume pipe.
  Result<Restored> RestoreOne(const std::string& name, std::chrono::milliseconds timeout) const {
    Fd out_read, out_write, err_read, err_write, resume_read, resume_write;
    HANEUL_RETURN_IF_ERROR(MakePipe(&out_read, &out_write));
    HANEUL_RETURN_IF_ERROR(MakePipe(&err_read, &err_write));
    HANEUL_RETURN_IF_ERROR(MakePipe(&resume_read, &resume_write));
    std::string stem = work + "/" + name;
    std::string pidfile = stem + ".pid";
    std::string log = stem + ".log";
    unlink(pidfile.c_str());
    auto pipe_name = [](unsigned long inode) { return "pipe:[" + std::to_string(inode) + "]"; };
    std::vector<std::string> args = {
        "restore", "-D", directory, "--restore-detached", "--restore-sibling",
        "--pidfile", pidfile,
        "--inherit-fd", "fd[3]:" + pipe_name(manifest.resume_inode),
        "--inherit-fd", "fd[4]:" + pipe_name(manifest.stdout_inode),
        "--inherit-fd", "fd[5]:" + pipe_name(manifest.stderr_inode)};
    Status status = RunCriu(criu, args, {resume_read.get(), out_write.get(), err_write.get()},
                            timeout, log);
    Restored restored;
    restored.pid = ReadPid(pidfile);
    unlink(pidfile.c_str());
    if (!status.ok() || restored.pid <= 0) {
      // Half-restored: what criu made of the copy (our child, --restore-sibling) goes too.
      Discard(restored);
      return status.ok() ? Status::Internal("criu restore wrote no pid") : status;
    }
    unlink(log.c_str());
    fcntl(out_read.get(), F_SETFL, O_NONBLOCK);
    fcntl(err_read.get(), F_SETFL, O_NONBLOCK);
    restored.out_read = std::move(out_read);
    restored.err_read = std::move(err_read);
    restored.resume_write = std::move(resume_write);
    return restored;
  }

  static pid_t ReadPid(const std::string& path) {
    std::ifstream in(path);
    long pid = 0;
    return in >> pid ? static_cast<pid_t>(pid) : 0;
  }
};

// The spare copy a template keeps restored ahead of demand, shared with the background thread.
struct SpareSlot {
  std::mutex mutex;
  std::optional<Restored> spare;
  bool pending = false;  // a restore of the next spare is queued or running
  bool closed = false;   // the template is gone: a spare made now is discarded
};

class CriuTemplate : public Template {
 public:
  CriuTemplate(std::shared_ptr<const Image> image, std::shared_ptr<Background> background,
               std::shared_ptr<CgroupPool> cgroups)
      : image_(std::move(image)), background_(std::move(background)),
        slot_(std::make_shared<SpareSlot>()), cgroups_(std::move(cgroups)) {
    std::error_code ec;
    fs::create_directories(image_->work, ec);
    RecordStamps();
    // The first spare now (the caller, Capture, is off the request path): a version is Active
    // with a copy ready. If criu cannot restore it, the first Restore says why.
    auto first = image_->RestoreOne("spare-" + RandomHex(8), kSpareTimeout);
    if (first.ok()) {
      slot_->spare = std::move(*first);
    } else {
      spdlog::warn("SnapStart: restoring the first spare copy from {} failed: {}",
                   image_->directory, first.status().message());
    }
  }
  ~CriuTemplate() override {
    std::lock_guard<std::mutex> lock(slot_->mutex);
    slot_->closed = true;
    if (slot_->spare) Discard(*slot_->spare);
    slot_->spare.reset();
  }

  bool alive() const override { return true; }  // the image outlives the template process

  Result<std::unique_ptr<sandbox::Worker>> Restore(const CopySpec& spec) override {
    // A changed image file is checked in full; a corrupt one is refused from then on (a spare
    // restored from it before the damage was seen is dropped too).
    if (broken_.empty()) {
      Status intact = CheckImage();
      if (!intact.ok()) broken_ = intact.message();
    }
    std::optional<Restored> spare;
    {
      std::lock_guard<std::mutex> lock(slot_->mutex);
      spare.swap(slot_->spare);
    }
    if (!broken_.empty()) {
      if (spare) Discard(*spare);
      return Status::Corruption(broken_);
    }
    Refill();
    if (spare) {
      auto worker = Configure(std::move(*spare), spec);
      if (worker.ok()) return worker;
      // The spare died waiting (it is reaped by its worker): restore one now instead.
    }
    auto started = Clock::now();
    auto restored = image_->RestoreOne(spec.name, spec.timeout);
    if (!restored.ok()) return restored.status();
    // On the loop: worth seeing when bursts outrun the spare.
    spdlog::info("SnapStart: no spare copy was ready; criu restore of {} took {:.1f} ms",
                 spec.name, std::chrono::duration<double, std::milli>(Clock::now() - started).count());
    return Configure(std::move(*restored), spec);
  }

 private:
  // Queues the restore of the next spare, unless one is ready or coming.
  void Refill() {
    {
      std::lock_guard<std::mutex> lock(slot_->mutex);
      if (slot_->spare || slot_->pending || slot_->closed) return;
      slot_->pending = true;
    }
    std::weak_ptr<SpareSlot> weak = slot_;
    std::shared_ptr<const Image> image = image_;
    background_->Post([weak, image] {
      auto restored = image->RestoreOne("spare-" + RandomHex(8), kSpareTimeout);
      auto slot = weak.lock();
      if (!slot) {
        if (restored.ok()) Discard(*restored);
        return;
      }
      std::lock_guard<std::mutex> lock(slot->mutex);
      slot->pending = false;
      if (!restored.ok()) return;  // the next Restore tries on the loop, and says why
      if (slot->closed || slot->spare) {
        Discard(*restored);
        return;
      }
      slot->spare = std::move(*restored);
    });
  }

  // Hands a restored copy its configuration (see criu.h) and wraps it as a Worker.
  Result<std::unique_ptr<sandbox::Worker>> Configure(Restored restored, const CopySpec& spec) {
    uint16_t port = 0;
    auto listener = LoopbackListener(&port);
    if (!listener.ok()) {
      Discard(restored);
      return listener.status();
    }
    std::vector<std::string> environment = spec.environment;
    environment.push_back("AWS_LAMBDA_RUNTIME_API=127.0.0.1:" + std::to_string(port));
    if (!spec.scratch_directory.empty()) {
      environment.push_back("TMPDIR=" + spec.scratch_directory);
      environment.push_back("HOME=" + spec.scratch_directory);
    }
    std::string line = nlohmann::json{{"environment", environment}}.dump() + "\n";
    Fd resume = std::move(restored.resume_write);
    // Its own cgroup with the function's limits, joined a moment later by the pool's thread
    // (a cgroup migration waits for an RCU grace period: not on the restore path).
    std::shared_ptr<CopyCgroup> cgroup;
#ifdef HANEUL_SNAPSHOT_WITH_CGROUPS
    if (cgroups_) cgroup = cgroups_->Join(restored.pid, CopyLimits(spec));
#endif
    auto worker = std::make_unique<CriuWorker>(restored.pid, std::move(restored.out_read),
                                               std::move(restored.err_read), std::move(*listener),
                                               std::move(cgroup), cgroups_);
    // Far under a pipe's buffer: never blocks. EPIPE (SIGPIPE is ignored by the server): the
    // copy is gone; its worker reaps it.
    if (write(resume.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      return Status::FromErrno("write the copy's configuration");
    }
    return std::unique_ptr<sandbox::Worker>(std::move(worker));
  }

  void RecordStamps() {
    stamps_.clear();
    for (const auto& file : image_->manifest.files) {
      FileStamp stamp;
      if (Stamp(image_->directory + "/" + file.name, &stamp)) stamps_[file.name] = stamp;
    }
  }

  Status CheckImage() {
    bool changed = false;
    for (const auto& file : image_->manifest.files) {
      FileStamp stamp;
      auto it = stamps_.find(file.name);
      if (!Stamp(image_->directory + "/" + file.name, &stamp) || it == stamps_.end() ||
          !(it->second == stamp)) {
        changed = true;
        break;
      }
    }
    if (!changed) return Status::Ok();
    HANEUL_RETURN_IF_ERROR(VerifyImage(image_->directory, image_->manifest));
    RecordStamps();  // touched but intact
    return Status::Ok();
  }

  std::shared_ptr<const Image> image_;
  std::shared_ptr<Background> background_;
  std::shared_ptr<SpareSlot> slot_;
  std::map<std::string, FileStamp> stamps_;
  std::string broken_;
  std::shared_ptr<CgroupPool> cgroups_;
};

class CriuSnapshotter : public Snapshotter {
 public:
  CriuSnapshotter(const SnapshotterOptions& options, std::string criu)
      : options_(options), criu_(std::move(criu)) {}

  std::string name() const override { return "criu"; }
  sandbox::Sandbox* template_sandbox() override { return &sandbox_; }

  void PrepareTemplate(sandbox::WorkerSpec* spec) override {
    spec->environment.push_back(std::string(kCheckpointVariable) + "=3,4");
#ifdef HANEUL_NODE_RESEED_ADDON
    spec->environment.push_back(std::string(kReseedVariable) + "=" + HANEUL_NODE_RESEED_ADDON);
#endif
  }

  Result<std::unique_ptr<Template>> Capture(sandbox::Worker& worker,
                                            const sandbox::WorkerSpec& spec) override {
    auto* criu_worker = dynamic_cast<CriuWorker*>(&worker);
    if (!criu_worker || criu_worker->ready_read.get() < 0) {
      return Status::InvalidArgument("the worker was not started as a criu template");
    }
    // The runtime says it has closed its Runtime API connections and is about to block.
    pollfd poll_fd{criu_worker->ready_read.get(), POLLIN, 0};
    int ready;
    do {
      ready = poll(&poll_fd, 1, 10000);
    } while (ready < 0 && errno == EINTR);
    char byte = 0;
    if (ready != 1 || read(criu_worker->ready_read.get(), &byte, 1) != 1) {
      return Status::Unavailable(ready == 1 ? "the runtime ended before its checkpoint"
                                            : "the runtime did not get ready for its checkpoint");
    }
    criu_worker->ready_read.Reset();

    std::string function = ValueOf(spec.environment, "AWS_LAMBDA_FUNCTION_NAME");
    std::string version = ValueOf(spec.environment, "AWS_LAMBDA_FUNCTION_VERSION");
    std::string directory =
        options_.snapshots_directory.empty()
            ? spec.scratch_directory + "/criu"
            : options_.snapshots_directory + "/" + function + "/" + version + "/criu";
    std::error_code ec;
    fs::remove_all(directory, ec);
    fs::create_directories(directory, ec);
    if (ec) return Status::IoError("cannot create " + directory + ": " + ec.message());
    auto started = Clock::now();
    // --leave-running: the template stays as it was (blocked on its resume pipe) and is ended
    // with its version, like a fork-server template.
    Status dumped = RunCriu(criu_,
                            {"dump", "-t", std::to_string(worker.pid()), "-D", directory,
                             "--leave-running"},
                            {}, std::chrono::milliseconds(30000), directory + "/dump.log");
    if (!dumped.ok()) return dumped;
    auto manifest = ScanImage(directory);
    if (!manifest.ok()) return manifest.status();
    manifest->resume_inode = criu_worker->resume_inode;
    manifest->stdout_inode = criu_worker->stdout_inode;
    manifest->stderr_inode = criu_worker->stderr_inode;
    {
      std::ofstream out(directory + "/" + kManifestName, std::ios::trunc);
      out << EncodeManifest(*manifest);
      if (!out) return Status::IoError("cannot write the manifest in " + directory);
    }
    uint64_t bytes = 0;
    for (const auto& file : manifest->files) bytes += file.size;
    spdlog::info("SnapStart {}:{}: criu dump of {:.1f} MB in {:.0f} ms", function, version,
                 static_cast<double>(bytes) / (1 << 20),
                 std::chrono::duration<double, std::milli>(Clock::now() - started).count());
    auto image = std::make_shared<Image>();
    image->criu = criu_;
    image->directory = directory;
    image->work = directory + "/../criu-work";
    image->manifest = std::move(*manifest);
    return std::unique_ptr<Template>(new CriuTemplate(std::move(image), background_, cgroups_));
  }

 private:
  SnapshotterOptions options_;
  std::string criu_;
  TemplateSandbox sandbox_;
  std::shared_ptr<Background> background_ = std::make_shared<Background>();
  std::shared_ptr<CgroupPool> cgroups_ = MakeCgroupPool(options_);
};

}  // namespace

Result<ImageManifest> ScanImage(const std::string& directory) {
  ImageManifest manifest;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(directory, ec)) {
    if (!entry.is_regular_file()) continue;
    std::string name = entry.path().filename().string();
    if (name == kManifestName || name.ends_with(".log") || name.starts_with("stats-")) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.eof() && in.fail()) return Status::IoError("cannot read " + entry.path().string());
    manifest.files.push_back({name, bytes.size(), Sha256Hex(bytes)});
  }
  if (ec) return Status::IoError("cannot list " + directory + ": " + ec.message());
  if (manifest.files.empty()) return Status::Corruption("no image files in " + directory);
  std::sort(manifest.files.begin(), manifest.files.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return manifest;
}

std::string EncodeManifest(const ImageManifest& manifest) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& file : manifest.files) {
    files.push_back({{"name", file.name}, {"size", file.size}, {"sha256", file.sha256}});
  }
  nlohmann::json payload = {{"format", kManifestFormatVersion},
                            {"resume_inode", manifest.resume_inode},
                            {"stdout_inode", manifest.stdout_inode},
                            {"stderr_inode", manifest.stderr_inode},
                            {"files", files}};
  std::string text = payload.dump();
  // The manifest checks itself too: its own SHA-256 on a second line.
  return text + "\n" + Sha256Hex(text) + "\n";
}

Result<ImageManifest> DecodeManifest(std::string_view text) {
  auto newline = text.find('\n');
  if (newline == std::string_view::npos || text.size() < newline + 65) {
    return Status::Corruption("criu manifest is truncated");
  }
  std::string_view payload = text.substr(0, newline);
  if (Sha256Hex(payload) != text.substr(newline + 1, 64)) {
    return Status::Corruption("criu manifest checksum mismatch");
  }
  auto json = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return Status::Corruption("criu manifest is not an object");
  auto format = json.find("format");
  if (format == json.end() || !format->is_number_integer() ||
      format->get<int>() != kManifestFormatVersion) {
    return Status::Corruption("criu manifest of another format version");
  }
  ImageManifest manifest;
  auto number = [&](const char* key, unsigned long* out) {
    auto it = json.find(key);
    if (it == json.end() || !it->is_number_unsigned()) return false;
    *out = it->get<unsigned long>();
    return true;
  };
  auto files = json.find("files");
  if (!number("resume_inode", &manifest.resume_inode) ||
      !number("stdout_inode", &manifest.stdout_inode) ||
      !number("stderr_inode", &manifest.stderr_inode) || files == json.end() ||
      !files->is_array()) {
    return Status::Corruption("criu manifest lacks a field");
  }
  for (const auto& file : *files) {
    if (!file.is_object() || !file.contains("name") || !file["name"].is_string() ||
        !file.contains("size") || !file["size"].is_number_unsigned() ||
        !file.contains("sha256") || !file["sha256"].is_string()) {
      return Status::Corruption("criu manifest has a malformed file entry");
    }
    std::string name = file["name"].get<std::string>();
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      return Status::Corruption("criu manifest names a file outside its directory");
    }
    manifest.files.push_back({name, file["size"].get<uint64_t>(), file["sha256"].get<std::string>()});
  }
  return manifest;
}

Status VerifyImage(const std::string& directory, const ImageManifest& manifest) {
  for (const auto& file : manifest.files) {
    std::string path = directory + "/" + file.name;
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::Corruption("snapshot image file " + path + " is missing");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() != file.size) {
      return Status::Corruption("snapshot image file " + path + " is truncated or grown (" +
                                std::to_string(bytes.size()) + " bytes, not " +
                                std::to_string(file.size) + ")");
    }
    if (Sha256Hex(bytes) != file.sha256) {
      return Status::Corruption("snapshot image file " + path + " is corrupt (checksum mismatch)");
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<Snapshotter>> MakeCriuSnapshotter(const SnapshotterOptions& options) {
  HANEUL_RETURN_IF_ERROR(ProbeCriu());
  return std::unique_ptr<Snapshotter>(new CriuSnapshotter(options, CriuBinary()));
}

}  // namespace haneul::snapshot::criu
