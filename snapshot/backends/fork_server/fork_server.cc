// The fork-server backend; see fork_server.h and control_protocol.h.
#include "fork_server/fork_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/copy_cgroups.h"
#include "common/process_util.h"
#include "fork_server/control_protocol.h"
#include "haneul/common/ids.h"

#ifdef HANEUL_SNAPSHOT_WITH_CGROUPS
#include "namespace/cgroup.h"
#endif

namespace haneul::snapshot::fork_server {

namespace {

// Connects to the template's abstract control socket, which lives in the worker's network
// namespace: a short-lived thread joins that namespace (setns changes only the calling thread's)
// to create and connect the socket; the socket keeps working from any thread afterwards.
Result<Fd> ConnectControl(pid_t worker, const std::string& name) {
  Status status = Status::Ok();
  int connected = -1;
  std::thread thread([&] {
    std::string path = "/proc/" + std::to_string(worker) + "/ns/net";
    struct stat mine {};
    struct stat theirs {};
    // Same namespace (process sandbox, host network): no setns, which needs CAP_SYS_ADMIN.
    if (stat("/proc/thread-self/ns/net", &mine) != 0 || stat(path.c_str(), &theirs) != 0) {
      status = Status::FromErrno("stat " + path);
      return;
    }
    if (mine.st_ino != theirs.st_ino || mine.st_dev != theirs.st_dev) {
      Fd ns(open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (ns.get() < 0) {
        status = Status::FromErrno("open " + path);
        return;
      }
      // Joins the template's network namespace on this thread only (see above).
      if (setns(ns.get(), CLONE_NEWNET) != 0) {
        status = Status::FromErrno("setns " + path);
        return;
      }
    }
    Fd sock(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (sock.get() < 0) {
      status = Status::FromErrno("socket");
      return;
    }
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::string abstract = name.substr(1);  // "@name": the leading NUL of the abstract namespace
    if (abstract.size() + 1 > sizeof(address.sun_path)) {
      status = Status::InvalidArgument("control name too long");
      return;
    }
    std::memcpy(address.sun_path + 1, abstract.data(), abstract.size());
    socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + abstract.size());
    if (connect(sock.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
      status = Status::FromErrno("connect to the template's control socket " + name);
      return;
    }
    connected = sock.Release();
  });
  thread.join();
  if (!status.ok()) return status;
  // A template that stops reading must not block the loop for long.
  timeval send_timeout{1, 0};
  setsockopt(connected, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
  return Fd(connected);
}

// A listening loopback socket and a client already connected to it: the invoker serves the
// listener, the copy receives the client end.
Status RuntimeApiPair(Fd* listener, Fd* client) {
  Fd listening(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (listening.get() < 0) return Status::FromErrno("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (bind(listening.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return Status::FromErrno("bind runtime api");
  }
  if (listen(listening.get(), 4) != 0) return Status::FromErrno("listen runtime api");
  socklen_t length = sizeof(address);
  if (getsockname(listening.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return Status::FromErrno("getsockname");
  }
  Fd connecting(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (connecting.get() < 0) return Status::FromErrno("socket");
  // Loopback connect completes against the backlog, before the listener accepts.
  if (connect(connecting.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return Status::FromErrno("connect runtime api");
  }
  int one = 1;
  setsockopt(connecting.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  *listener = std::move(listening);
  *client = std::move(connecting);
  return Status::Ok();
}



// One copy, as the invoker drives it. The template (not the invoker) is its parent and reaps it;
// the invoker watches it through a pidfd and kills its process group.
class ForkedWorker : public sandbox::Worker {
 public:
  ForkedWorker(pid_t pid, Fd out, Fd err, Fd api, Fd lifeline,
               std::shared_ptr<CopyCgroup> cgroup, std::shared_ptr<CgroupPool> pool)
      : pid_(pid),
        out_(std::move(out)),
        err_(std::move(err)),
        api_(std::move(api)),
        lifeline_(std::move(lifeline)),
        exit_(PidfdOpen(pid)),
        cgroup_(std::move(cgroup)),
        pool_(std::move(pool)) {}
  ~ForkedWorker() override {
    Kill();
#ifdef HANEUL_SNAPSHOT_WITH_CGROUPS
    // Removed off the loop once the copy's tasks are gone.
    if (cgroup_ && pool_) pool_->Retire(std::move(cgroup_));
#endif
  }

  pid_t pid() const override { return pid_; }
  int stdout_fd() const override { return out_.get(); }
  int stderr_fd() const override { return err_.get(); }
  int exit_fd() const override { return exit_.get(); }
  int runtime_api_fd() const override { return api_.get(); }
  bool OomKilled() override {
#ifdef HANEUL_SNAPSHOT_WITH_CGROUPS
    // A pool's cgroup is fresh: any OOM kill in it is this copy's.
    if (sandbox::Cgroup* cgroup = Joined()) {
      auto count = cgroup->OomKillCount();
      return count.ok() && *count > 0;
    }
#endif
    return false;
  }
  void Kill() override {
    if (killed_) return;
    killed_ = true;
    // The copy made itself a process-group leader (setsid): its group id is its pid.
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
#ifdef HANEUL_SNAPSHOT_WITH_CGROUPS
    if (sandbox::Cgroup* cgroup = Joined()) (void)cgroup->KillAll();
#endif
  }
  bool TryReap(int* wait_status) override {
    if (exit_.get() < 0) return false;
    pollfd poll_fd{exit_.get(), POLLIN, 0};
    if (poll(&poll_fd, 1, 0) != 1) return false;
    // The template, its parent, has the exit status; the invoker only knows it ended.
    if (!killed_) return false;
    *wait_status = SIGKILL;  // as waitpid reports "killed by SIGKILL"
    return true;
  }
  void ResetPeakMemory() override {
#ifdef HANEUL_SNAPSHOT_WITH_CGROUPS
    if (sandbox::Cgroup* cgroup = Joined()) {
      (void)cgroup->ResetPeakMemory();
      return;
    }
#endif
    std::ofstream("/proc/" + std::to_string(pid_) + "/clear_refs") << "5";
  }
  uint64_t PeakMemoryBytes() override {
#ifdef HANEUL_SNAPSHOT_WITH_CGROUPS
    if (sandbox::Cgroup* cgroup = Joined()) {
      auto peak = cgroup->PeakMemoryBytes();
      if (peak.ok() && *peak > 0) return *peak;
    }
#endif
    return ReadPeakRss(pid_);
  }

 private:
  pid_t pid_;
  Fd out_;
  Fd err_;
  Fd api_;
  Fd lifeline_;
  Fd exit_;
#ifdef HANEUL_SNAPSHOT_WITH_CGROUPS
  sandbox::Cgroup* Joined() const { return snapshot::Joined(cgroup_); }
#endif
  std::shared_ptr<CopyCgroup> cgroup_;
  std::shared_ptr<CgroupPool> pool_;
  bool killed_ = false;
};

class ForkServerSnapshotter;

class ForkTemplate : public Template {
 public:
  ForkTemplate(ForkServerSnapshotter* owner, Fd control) : owner_(owner), control_(std::move(control)) {}

  Result<std::unique_ptr<sandbox::Worker>> Restore(const CopySpec& spec) override;
  bool alive() const override { return alive_; }

 private:
  ForkServerSnapshotter* owner_;
  Fd control_;
  bool alive_ = true;
};

class ForkServerSnapshotter : public Snapshotter {
 public:
  explicit ForkServerSnapshotter(const SnapshotterOptions& options)
      : options_(options), cgroups_(MakeCgroupPool(options)) {}

  std::string name() const override { return "fork-server"; }

  void PrepareTemplate(sandbox::WorkerSpec* spec) override {
    spec->environment.push_back(std::string(kControlVariable) + "=@haneul-snapshot-" +
                                RandomHex(32));
  }

  Result<std::unique_ptr<Template>> Capture(sandbox::Worker& worker,
                                            const sandbox::WorkerSpec& spec) override {
    std::string name = ValueOf(spec.environment, kControlVariable);
    if (name.size() < 2 || name[0] != '@') {
      return Status::InvalidArgument("the worker was not prepared as a template");
    }
    auto control = ConnectControl(worker.pid(), name);
    if (!control.ok()) return control.status();
    return std::unique_ptr<Template>(new ForkTemplate(this, std::move(*control)));
  }

  const std::shared_ptr<CgroupPool>& cgroup_pool() const { return cgroups_; }

  std::shared_ptr<CopyCgroup> JoinCgroup(pid_t pid, const CopySpec& spec) {
#ifdef HANEUL_SNAPSHOT_WITH_CGROUPS
    if (!cgroups_) return nullptr;
    return cgroups_->Join(pid, CopyLimits(spec));
#else
    (void)pid;
    (void)spec;
    return nullptr;
#endif
  }

 private:
  SnapshotterOptions options_;
  std::shared_ptr<CgroupPool> cgroups_;
};

Result<std::unique_ptr<sandbox::Worker>> ForkTemplate::Restore(const CopySpec& spec) {
  if (!alive_) return Status::Unavailable("the template is gone");
  int out[2];
  int err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Status::FromErrno("pipe");
  Fd out_read(out[0]), out_write(out[1]);
  if (pipe2(err, O_CLOEXEC) != 0) return Status::FromErrno("pipe");
  Fd err_read(err[0]), err_write(err[1]);
  fcntl(out_read.get(), F_SETFL, O_NONBLOCK);
  fcntl(err_read.get(), F_SETFL, O_NONBLOCK);
  int life[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, life) != 0) {
    return Status::FromErrno("socketpair");
  }
  Fd lifeline(life[0]), lifeline_copy(life[1]);
  int one = 1;
  if (setsockopt(lifeline.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0) {
    return Status::FromErrno("SO_PASSCRED");
  }
  Fd api_listener, api_client;
  HANEUL_RETURN_IF_ERROR(RuntimeApiPair(&api_listener, &api_client));

  ForkRequest request{spec.name, spec.environment};
  Status sent = SendForkRequest(
      control_.get(), request,
      {api_client.get(), out_write.get(), err_write.get(), lifeline_copy.get()});
  if (!sent.ok()) {
    alive_ = false;  // the template stopped reading or is gone: its copies fall back
    return Status::Unavailable("the template is gone: " + sent.message());
  }
  // The copy holds its own now; ours would hide its end-of-file.
  api_client.Reset();
  out_write.Reset();
  err_write.Reset();
  lifeline_copy.Reset();
  auto pid = ReceiveHello(lifeline.get(), spec.timeout);
  if (!pid.ok()) {
    // The template did not fork (it died, or is stuck): it is no use any more.
    alive_ = false;
    return pid.status();
  }
  auto cgroup = owner_->JoinCgroup(*pid, spec);
  return std::unique_ptr<sandbox::Worker>(
      new ForkedWorker(*pid, std::move(out_read), std::move(err_read), std::move(api_listener),
                       std::move(lifeline), std::move(cgroup), owner_->cgroup_pool()));
}

}  // namespace

Result<std::unique_ptr<Snapshotter>> MakeForkServerSnapshotter(const SnapshotterOptions& options) {
  return std::unique_ptr<Snapshotter>(new ForkServerSnapshotter(options));
}

}  // namespace haneul::snapshot::fork_server
