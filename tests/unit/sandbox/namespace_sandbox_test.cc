// The namespace backend's pre-created slots, against this machine's real kernel and cgroups (root
// only; skipped otherwise): starts from ready slots and without them, a failed start that leaves
// nothing behind, a destroyed sandbox that ends its waiting slots, and the removal of slot cgroups
// that a crashed server left.
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdio.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "haneul/sandbox/sandbox.h"
#include "namespace/cgroup.h"

namespace haneul::sandbox {
namespace {

namespace fs = std::filesystem;

class NamespaceSandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for namespaces and cgroups";
    auto manager = OpenCgroupManager("/sys/fs/cgroup", "haneul");
    if (!manager.ok()) GTEST_SKIP() << manager.status().ToString();
    manager_ = std::move(*manager);
    std::string pattern = (fs::temp_directory_path() / "haneul-ns-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    code_ = pattern;
    fs::permissions(code_, fs::perms(0755));
  }
  void TearDown() override {
    std::error_code ignored;
    if (!code_.empty()) fs::remove_all(code_, ignored);
  }

  std::unique_ptr<Sandbox> Make(size_t ready_slots) {
    SandboxOptions options;
    options.ready_slots = ready_slots;
    auto sandbox = MakeSandbox("namespace", options);
    EXPECT_TRUE(sandbox.ok()) << sandbox.status().ToString();
    return sandbox.ok() ? std::move(*sandbox) : nullptr;
  }

  WorkerSpec Spec(const std::vector<std::string>& argv) const {
    WorkerSpec spec;
    spec.argv = argv;
    spec.environment = {"PATH=/usr/bin:/bin"};
    spec.code_directory = code_;
    spec.runtimes_directory = code_;
    spec.name = "test";
    spec.memory_limit_bytes = 128 << 20;
    spec.ephemeral_storage_bytes = 16 << 20;
    return spec;
  }

  // This process's slot cgroups.
  std::vector<std::string> OwnSlots() {
    auto names = manager_->List();
    EXPECT_TRUE(names.ok()) << names.status().ToString();
    std::vector<std::string> own;
    std::string prefix = "slot-" + std::to_string(getpid()) + "-";
    for (const auto& name : names.ok() ? *names : std::vector<std::string>{}) {
      if (name.starts_with(prefix)) own.push_back(name);
    }
    return own;
  }

  std::unique_ptr<CgroupManager> manager_;
  std::string code_;
};

// Everything the worker writes to stdout until it closes it (bounded: 10 s).
std::string ReadAll(Worker& worker) {
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd ready{worker.stdout_fd(), POLLIN, 0};
    if (poll(&ready, 1, 100) <= 0) continue;
    char buffer[256];
    ssize_t got = read(worker.stdout_fd(), buffer, sizeof(buffer));
    if (got == 0) break;
    if (got > 0) text.append(buffer, static_cast<size_t>(got));
  }
  return text;
}

TEST_F(NamespaceSandboxTest, StartsFromPreCreatedSlotsOneAfterAnother) {
  auto sandbox = Make(2);
  ASSERT_NE(sandbox, nullptr);
  for (int i = 0; i < 8; ++i) {
    auto worker = sandbox->Start(
        Spec({"/usr/bin/sh", "-c", "echo run-" + std::to_string(i) + " $(hostname) $$"}));
    ASSERT_TRUE(worker.ok()) << worker.status().ToString();
    // PID 1 of its own pid namespace, in the sandbox's uts namespace.
    EXPECT_EQ(ReadAll(**worker), "run-" + std::to_string(i) + " sandbox 1\n");
  }
}

TEST_F(NamespaceSandboxTest, StartsWithoutPreCreatedSlots) {
  auto sandbox = Make(0);
  ASSERT_NE(sandbox, nullptr);
  for (int i = 0; i < 3; ++i) {
    auto worker = sandbox->Start(Spec({"/usr/bin/sh", "-c", "id -u; ls /var/task | wc -l"}));
    ASSERT_TRUE(worker.ok()) << worker.status().ToString();
    EXPECT_EQ(ReadAll(**worker), "993\n0\n");
  }
  EXPECT_TRUE(OwnSlots().empty());  // no slot waits: each start made its own
}

TEST_F(NamespaceSandboxTest, MissingProgramIsNotFoundAndLeavesNoCgroup) {
  auto sandbox = Make(0);
  ASSERT_NE(sandbox, nullptr);
  auto worker = sandbox->Start(Spec({"/var/task/missing"}));
  ASSERT_FALSE(worker.ok());
  EXPECT_TRUE(worker.status().IsNotFound()) << worker.status().ToString();
  EXPECT_NE(worker.status().message().find("exec"), std::string::npos);
  EXPECT_TRUE(OwnSlots().empty());
}

TEST_F(NamespaceSandboxTest, DestroyingTheSandboxEndsItsWaitingSlots) {
  auto sandbox = Make(3);
  ASSERT_NE(sandbox, nullptr);
  // The refill thread makes them in the background: wait (bounded) until all three wait.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (OwnSlots().size() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(OwnSlots().size(), 3u);
  sandbox.reset();
  EXPECT_TRUE(OwnSlots().empty());
  // Every slot's process was reaped: no child is left, not even a zombie.
  int status = 0;
  EXPECT_EQ(waitpid(-1, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST_F(NamespaceSandboxTest, RemovesSlotCgroupsOfGoneServersOnly) {
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  int status = 0;
  ASSERT_EQ(waitpid(gone, &status, 0), gone);
  // A slot cgroup of a server that is gone, and one of a server that runs (this process's parent).
  std::string stale = SlotCgroupName(gone, 1);
  std::string live = SlotCgroupName(getppid(), 987654);
  ASSERT_TRUE(manager_->Create(stale).ok());
  auto kept = manager_->Create(live);
  ASSERT_TRUE(kept.ok());
  auto sandbox = Make(0);
  ASSERT_NE(sandbox, nullptr);
  auto names = manager_->List();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(std::count(names->begin(), names->end(), stale), 0);
  EXPECT_EQ(std::count(names->begin(), names->end(), live), 1);
  EXPECT_TRUE((*kept)->Destroy().ok());
}

// Without a network of its own the worker sees only loopback, and the Runtime API at :9001;
// with the host's network it sees the host's interfaces and a Runtime API on a free port.
TEST_F(NamespaceSandboxTest, HostNetworkIsOptIn) {
  for (bool host : {false, true}) {
    SandboxOptions options;
    options.host_network = host;
    options.ready_slots = 1;
    auto sandbox = MakeSandbox("namespace", options);
    ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
    auto worker = (*sandbox)->Start(
        Spec({"/usr/bin/sh", "-c", "tail -n +3 /proc/net/dev | wc -l; echo $AWS_LAMBDA_RUNTIME_API"}));
    ASSERT_TRUE(worker.ok()) << worker.status().ToString();
    std::string output = ReadAll(**worker);
    auto newline = output.find('\n');
    ASSERT_NE(newline, std::string::npos) << output;
    int interfaces = std::stoi(output.substr(0, newline));
    std::string api = output.substr(newline + 1);
    if (!host) {
      EXPECT_EQ(interfaces, 1) << output;  // lo
      EXPECT_EQ(api, "127.0.0.1:9001\n");
      // The bundled services' socket, inside the same private network.
      ASSERT_GE((*worker)->services_fd(), 0);
      sockaddr_in bound{};
      socklen_t length = sizeof(bound);
      ASSERT_EQ(getsockname((*worker)->services_fd(), reinterpret_cast<sockaddr*>(&bound),
                            &length), 0);
      EXPECT_EQ(ntohs(bound.sin_port), 4747);
      EXPECT_EQ(ntohl(bound.sin_addr.s_addr), INADDR_LOOPBACK);
      EXPECT_TRUE((*sandbox)->private_network());
    } else {
      EXPECT_EQ((*worker)->services_fd(), -1);
      EXPECT_FALSE((*sandbox)->private_network());
      EXPECT_GE(interfaces, 2) << output;  // lo and the host's others
      EXPECT_TRUE(api.starts_with("127.0.0.1:")) << api;
      EXPECT_NE(api, "127.0.0.1:9001\n");
    }
  }
}

TEST_F(NamespaceSandboxTest, ImageRootfsIsTheRootAndIsNeverWritten) {
  if (!fs::exists("/bin/busybox")) GTEST_SKIP() << "needs busybox-static (a static /bin/busybox)";
  std::string rootfs = code_ + "/rootfs";
  fs::create_directories(rootfs + "/bin");
  fs::create_directories(rootfs + "/var/task");
  fs::copy_file("/bin/busybox", rootfs + "/bin/busybox");
  fs::permissions(rootfs + "/bin/busybox", fs::perms(0755));
  fs::create_symlink("busybox", rootfs + "/bin/sh");
  {
    FILE* handler = fopen((rootfs + "/var/task/handler.txt").c_str(), "w");
    ASSERT_NE(handler, nullptr);
    fputs("from the image\n", handler);
    fclose(handler);
  }
  auto listing = [&] {
    std::vector<std::string> entries;
    for (const auto& entry : fs::recursive_directory_iterator(rootfs)) {
      entries.push_back(entry.path().string());
    }
    std::sort(entries.begin(), entries.end());
    return entries;
  };
  auto before = listing();
  for (size_t slots : {size_t{0}, size_t{1}}) {
    auto sandbox = Make(slots);
    ASSERT_NE(sandbox, nullptr);
    WorkerSpec spec = Spec({"/bin/sh", "-c",
                            "cat /var/task/handler.txt; touch /var/task/x 2>/dev/null || echo ro; "
                            "echo scratch > /tmp/t && cat /tmp/t; ls /usr 2>/dev/null | wc -l; "
                            "pwd; ls /dev | wc -l"});
    spec.rootfs = rootfs;
    spec.working_directory = "/var";
    auto worker = sandbox->Start(spec);
    ASSERT_TRUE(worker.ok()) << worker.status().ToString();
    // /dev: null zero full random urandom fd stdin stdout stderr.
    EXPECT_EQ(ReadAll(**worker), "from the image\nro\nscratch\n0\n/var\n9\n");
  }
  EXPECT_EQ(listing(), before);  // the overlay took every write
}

TEST_F(NamespaceSandboxTest, ImageRootfsThatIsNotAFolderIsRefused) {
  auto sandbox = Make(0);
  ASSERT_NE(sandbox, nullptr);
  // An image whose /var leads out of it: refused before anything is mounted or made.
  fs::create_directories(code_ + "/escape");
  fs::create_symlink("/etc", code_ + "/escape/var");
  fs::create_directories(code_ + "/file-tmp");
  { FILE* file = fopen((code_ + "/file-tmp/tmp").c_str(), "w"); if (file) fclose(file); }
  for (std::string rootfs : {code_ + "/missing", std::string("relative/path"), code_ + "/a,b",
                             code_ + "/escape", code_ + "/file-tmp"}) {
    WorkerSpec spec = Spec({"/bin/sh"});
    spec.rootfs = rootfs;
    auto worker = sandbox->Start(spec);
    EXPECT_FALSE(worker.ok()) << rootfs;
    EXPECT_EQ(worker.status().code(), Status::Code::kInvalidArgument) << worker.status().ToString();
  }
  EXPECT_FALSE(fs::exists("/etc/task"));
}

}  // namespace
}  // namespace haneul::sandbox
