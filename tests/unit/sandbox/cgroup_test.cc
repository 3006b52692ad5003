// The cgroup v1 and v2 managers: first against fake cgroup trees in a temporary directory (control
// files are plain files holding what a real kernel shows), then against this machine's real
// hierarchies (root only; skipped where the hierarchy is missing).
//
// Destroy on a fake tree: rmdir(2) refuses a directory that still holds files, while a real
// cgroup directory vanishes with its control files. The fakes therefore delete their control
// files before calling Destroy (see EmptyDirectory); the production code has no test-only mode.
#include "namespace/cgroup.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace haneul::sandbox {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1024 * 1024;

void WriteText(const std::string& path, const std::string& text) {
  // Truncates in place (same inode), as a descriptor held by the code under test must see it.
  std::ofstream out(path, std::ios::trunc);
  ASSERT_TRUE(out.good()) << path;
  out << text;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Removes the plain files of a fake cgroup directory, which a real kernel drops with the rmdir.
void EmptyDirectory(const std::string& directory) {
  for (const auto& entry : fs::directory_iterator(directory)) {
    if (entry.is_regular_file()) fs::remove(entry.path());
  }
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "haneul-cgroup-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data()) ? pattern : "";
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void MakeFakeCgroup(const std::string& directory, const std::map<std::string, std::string>& files) {
  fs::create_directories(directory);
  for (const auto& [name, text] : files) WriteText(directory + "/" + name, text);
}

// ---- cgroup v2 against a fake tree ---------------------------------------------------------

// What a fresh cgroup of a v2 host shows (kernel 6.x), with freezing already complete so that
// Freeze's wait is satisfied at once.
std::map<std::string, std::string> FakeV2Files() {
  return {
      {"cgroup.procs", ""},
      {"cgroup.freeze", "0\n"},
      {"cgroup.events", "populated 0\nfrozen 1\n"},
      {"cgroup.kill", ""},
      {"memory.max", "max\n"},
      {"memory.swap.max", "max\n"},
      {"memory.current", "0\n"},
      {"memory.peak", "0\n"},
      {"memory.events", "low 0\nhigh 0\nmax 5\noom 2\noom_kill 2\noom_group_kill 0\n"},
      {"pids.max", "max\n"},
      {"cpu.weight", "100\n"},
      {"cpu.max", "max 100000\n"},
  };
}

class FakeCgroupV2 : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    root_ = tmp_.path();
    WriteText(root_ + "/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    WriteText(root_ + "/cgroup.subtree_control", "");
    fs::create_directories(root_ + "/haneul");
    WriteText(root_ + "/haneul/cgroup.subtree_control", "");
    directory_ = root_ + "/haneul/fn";
    MakeFakeCgroup(directory_, FakeV2Files());
    manager_ = MakeCgroupV2Manager(root_, "haneul");
  }

  std::unique_ptr<Cgroup> CreateCgroup() {
    auto cgroup = manager_->Create("fn");
    EXPECT_TRUE(cgroup.ok()) << cgroup.status().ToString();
    return cgroup.ok() ? std::move(*cgroup) : nullptr;
  }

  std::string File(const std::string& name) const { return directory_ + "/" + name; }

  TempDir tmp_;
  std::string root_;
  std::string directory_;
  std::unique_ptr<CgroupManager> manager_;
};

TEST_F(FakeCgroupV2, CreateEnablesControllersForSubtree) {
  EXPECT_EQ(manager_->version(), 2);
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  EXPECT_EQ(ReadText(root_ + "/cgroup.subtree_control"), "+memory +pids +cpu");
  EXPECT_EQ(ReadText(root_ + "/haneul/cgroup.subtree_control"), "+memory +pids +cpu");
}

TEST_F(FakeCgroupV2, CreateEnablesOnlyOfferedControllersAndOnlyThoseMissing) {
  WriteText(root_ + "/cgroup.controllers", "io memory pids\n");   // no cpu controller
  WriteText(root_ + "/cgroup.subtree_control", "memory pids\n");  // already enabled
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  EXPECT_EQ(ReadText(root_ + "/cgroup.subtree_control"), "memory pids\n");  // not rewritten
  EXPECT_EQ(ReadText(root_ + "/haneul/cgroup.subtree_control"), "+memory +pids");
}

TEST_F(FakeCgroupV2, CreateEnablesControllersAtEveryLevelOfNestedSubtree) {
  auto nested = MakeCgroupV2Manager(root_, "outer/inner");
  // A fresh level's cgroup.subtree_control would come from the kernel; fake it after mkdir by
  // pre-creating the directories with empty files.
  fs::create_directories(root_ + "/outer/inner");
  WriteText(root_ + "/outer/cgroup.subtree_control", "");
  WriteText(root_ + "/outer/inner/cgroup.subtree_control", "");
  auto cgroup = nested->Create("new-env");
  ASSERT_TRUE(cgroup.ok()) << cgroup.status().ToString();
  EXPECT_TRUE(fs::is_directory(root_ + "/outer/inner/new-env"));
  EXPECT_EQ(ReadText(root_ + "/outer/cgroup.subtree_control"), "+memory +pids +cpu");
  EXPECT_EQ(ReadText(root_ + "/outer/inner/cgroup.subtree_control"), "+memory +pids +cpu");
}

TEST_F(FakeCgroupV2, CreateRejectsNamesThatLeaveTheSubtree) {
  for (const char* name : {"", ".", "..", "../escape", "a/b", "bad\nname"}) {
    auto cgroup = manager_->Create(name);
    ASSERT_FALSE(cgroup.ok()) << name;
    EXPECT_EQ(cgroup.status().code(), Status::Code::kInvalidArgument) << name;
  }
}

TEST_F(FakeCgroupV2, ApplyWritesMemoryPidsAndLambdaCpuShare) {
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  CgroupLimits limits;
  limits.memory_bytes = 128 * kMiB;
  limits.pids = 64;
  limits.memory_mb = 128;
  ASSERT_TRUE(cgroup->Apply(limits).ok());
  EXPECT_EQ(ReadText(File("memory.max")), "134217728");
  EXPECT_EQ(ReadText(File("memory.swap.max")), "0");
  EXPECT_EQ(ReadText(File("pids.max")), "64");
  EXPECT_EQ(ReadText(File("cpu.weight")), "7");         // 100 * 128 / 1769
  EXPECT_EQ(ReadText(File("cpu.max")), "7235 100000");  // 100000 * 128 / 1769

  limits.memory_mb = 1769;  // one full vCPU
  ASSERT_TRUE(cgroup->Apply(limits).ok());
  EXPECT_EQ(ReadText(File("cpu.weight")), "100");
  EXPECT_EQ(ReadText(File("cpu.max")), "100000 100000");

  limits.memory_mb = 10240;  // Lambda's largest size: about 5.8 vCPUs
  ASSERT_TRUE(cgroup->Apply(limits).ok());
  EXPECT_EQ(ReadText(File("cpu.weight")), "578");
  EXPECT_EQ(ReadText(File("cpu.max")), "578858 100000");

  limits.memory_mb = 1;  // the quota never drops under the kernel's 1 ms minimum
  ASSERT_TRUE(cgroup->Apply(limits).ok());
  EXPECT_EQ(ReadText(File("cpu.weight")), "1");
  EXPECT_EQ(ReadText(File("cpu.max")), "1000 100000");
}

TEST_F(FakeCgroupV2, ApplyZeroMeansNoLimit) {
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  CgroupLimits limits;
  limits.memory_mb = 0;
  ASSERT_TRUE(cgroup->Apply(limits).ok());
  EXPECT_EQ(ReadText(File("memory.max")), "max");
  EXPECT_EQ(ReadText(File("pids.max")), "max");
  EXPECT_EQ(ReadText(File("cpu.weight")), "100");
  EXPECT_EQ(ReadText(File("cpu.max")), "max 100000");
}

TEST_F(FakeCgroupV2, ApplySkipsFilesOfAbsentControllers) {
  fs::remove(File("memory.swap.max"));  // a kernel without swap accounting
  fs::remove(File("cpu.weight"));       // no cpu controller
  fs::remove(File("cpu.max"));
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  CgroupLimits limits;
  limits.memory_bytes = 64 * kMiB;
  ASSERT_TRUE(cgroup->Apply(limits).ok());
  EXPECT_EQ(ReadText(File("memory.max")), "67108864");
  EXPECT_FALSE(fs::exists(File("memory.swap.max")));
  EXPECT_FALSE(fs::exists(File("cpu.max")));
}

TEST_F(FakeCgroupV2, ApplyErrorNamesTheMissingMemoryFile) {
  fs::remove(File("memory.max"));
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  Status status = cgroup->Apply(CgroupLimits{});
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find(File("memory.max")), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("No such file or directory"), std::string::npos);
}

TEST_F(FakeCgroupV2, AddProcessAppendsPid) {
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  ASSERT_TRUE(cgroup->AddProcess(4242).ok());
  ASSERT_TRUE(cgroup->AddProcess(4343).ok());
  EXPECT_EQ(ReadText(File("cgroup.procs")), "4242\n4343\n");
  EXPECT_FALSE(cgroup->AddProcess(0).ok());
}

TEST_F(FakeCgroupV2, FreezeAndThawWriteCgroupFreeze) {
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  ASSERT_TRUE(cgroup->Freeze().ok());
  EXPECT_EQ(ReadText(File("cgroup.freeze")), "1");
  ASSERT_TRUE(cgroup->Thaw().ok());
  EXPECT_EQ(ReadText(File("cgroup.freeze")), "0");
}

TEST_F(FakeCgroupV2, KillAllWritesCgroupKillAndThaws) {
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  WriteText(File("cgroup.freeze"), "1\n");
  ASSERT_TRUE(cgroup->KillAll().ok());
  EXPECT_EQ(ReadText(File("cgroup.kill")), "1");
  EXPECT_EQ(ReadText(File("cgroup.freeze")), "0");
}

TEST_F(FakeCgroupV2, KillAllRejectsGarbageInCgroupProcs) {
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  WriteText(File("cgroup.procs"), "0\n");  // kill(0) would hit our own process group
  Status status = cgroup->KillAll();
  EXPECT_EQ(status.code(), Status::Code::kCorruption) << status.ToString();
}

TEST_F(FakeCgroupV2, PeakMemoryReadsAndResetsThroughOneDescriptor) {
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  WriteText(File("memory.peak"), "52428800\n");
  auto peak = cgroup->PeakMemoryBytes();
  ASSERT_TRUE(peak.ok()) << peak.status().ToString();
  EXPECT_EQ(*peak, 52428800u);
  ASSERT_TRUE(cgroup->ResetPeakMemory().ok());
  EXPECT_EQ(ReadText(File("memory.peak")).substr(0, 6), "reset\n");
  // The kernel now answers the peak since the reset through that descriptor.
  WriteText(File("memory.peak"), "1048576\n");
  peak = cgroup->PeakMemoryBytes();
  ASSERT_TRUE(peak.ok()) << peak.status().ToString();
  EXPECT_EQ(*peak, 1048576u);
}

TEST_F(FakeCgroupV2, OomKillCountParsesMemoryEvents) {
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  auto count = cgroup->OomKillCount();
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(*count, 2u);
  WriteText(File("memory.events"), "low 0\nhigh 0\nmax 0\noom 0\n");
  EXPECT_FALSE(cgroup->OomKillCount().ok());
}

TEST_F(FakeCgroupV2, DestroyRemovesDirectory) {
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  ASSERT_TRUE(cgroup->PeakMemoryBytes().ok());  // holds memory.peak open
  Status busy = cgroup->Destroy();              // a fake directory with files: ENOTEMPTY
  ASSERT_FALSE(busy.ok());
  EXPECT_NE(busy.message().find("rmdir " + directory_), std::string::npos) << busy.message();
  EmptyDirectory(directory_);
  ASSERT_TRUE(cgroup->Destroy().ok());
  EXPECT_FALSE(fs::exists(directory_));
  EXPECT_TRUE(cgroup->Destroy().ok());  // already gone is fine
}

TEST_F(FakeCgroupV2, ListNamesTheSubtreesCgroups) {
  fs::create_directories(root_ + "/haneul/slot-7-1");
  WriteText(root_ + "/haneul/not-a-cgroup", "");
  auto names = manager_->List();
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_EQ(*names, (std::vector<std::string>{"fn", "slot-7-1"}));
}

TEST(FakeCgroupV2Empty, ListOfAbsentSubtreeIsEmpty) {
  TempDir tmp;
  auto names = MakeCgroupV2Manager(tmp.path(), "haneul")->List();
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_TRUE(names->empty());
}

// ---- cgroup v1 against a fake tree ---------------------------------------------------------

class FakeCgroupV1 : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    root_ = tmp_.path();
    MakeFakeCgroup(Dir("memory"),
                   {{"cgroup.procs", ""},
                    {"memory.limit_in_bytes", "9223372036854771712\n"},
                    {"memory.memsw.limit_in_bytes", "9223372036854771712\n"},
                    {"memory.swappiness", "60\n"},
                    {"memory.max_usage_in_bytes", "0\n"},
                    {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"}});
    MakeFakeCgroup(Dir("pids"), {{"cgroup.procs", ""}, {"pids.max", "max\n"}});
    MakeFakeCgroup(Dir("freezer"), {{"cgroup.procs", ""}, {"freezer.state", "THAWED\n"}});
    MakeFakeCgroup(Dir("cpu"), {{"cgroup.procs", ""},
                                {"cpu.shares", "1024\n"},
                                {"cpu.cfs_period_us", "100000\n"},
                                {"cpu.cfs_quota_us", "-1\n"}});
    manager_ = MakeCgroupV1Manager(root_, "haneul");
  }

  std::string Dir(const std::string& controller) const {
    return root_ + "/" + controller + "/haneul/fn";
  }
  std::string File(const std::string& controller, const std::string& name) const {
    return Dir(controller) + "/" + name;
  }

  std::unique_ptr<Cgroup> CreateCgroup() {
    auto cgroup = manager_->Create("fn");
    EXPECT_TRUE(cgroup.ok()) << cgroup.status().ToString();
    return cgroup.ok() ? std::move(*cgroup) : nullptr;
  }

  TempDir tmp_;
  std::string root_;
  std::unique_ptr<CgroupManager> manager_;
};

TEST_F(FakeCgroupV1, ApplyWritesLimitsWithoutSwapAndLambdaCpuShare) {
  EXPECT_EQ(manager_->version(), 1);
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  CgroupLimits limits;
  limits.memory_bytes = 128 * kMiB;
  limits.pids = 64;
  limits.memory_mb = 128;
  ASSERT_TRUE(cgroup->Apply(limits).ok());
  EXPECT_EQ(ReadText(File("memory", "memory.limit_in_bytes")), "134217728");
  EXPECT_EQ(ReadText(File("memory", "memory.memsw.limit_in_bytes")), "134217728");
  EXPECT_EQ(ReadText(File("memory", "memory.swappiness")), "0");
  EXPECT_EQ(ReadText(File("pids", "pids.max")), "64");
  EXPECT_EQ(ReadText(File("cpu", "cpu.shares")), "74");  // 1024 * 128 / 1769
  EXPECT_EQ(ReadText(File("cpu", "cpu.cfs_period_us")), "100000");
  EXPECT_EQ(ReadText(File("cpu", "cpu.cfs_quota_us")), "7235");

  limits.memory_mb = 1769;
  ASSERT_TRUE(cgroup->Apply(limits).ok());
  EXPECT_EQ(ReadText(File("cpu", "cpu.shares")), "1024");
  EXPECT_EQ(ReadText(File("cpu", "cpu.cfs_quota_us")), "100000");

  limits.memory_mb = 1;
  ASSERT_TRUE(cgroup->Apply(limits).ok());
  EXPECT_EQ(ReadText(File("cpu", "cpu.shares")), "2");
  EXPECT_EQ(ReadText(File("cpu", "cpu.cfs_quota_us")), "1000");
}

TEST_F(FakeCgroupV1, ApplyZeroMeansNoLimit) {
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  CgroupLimits limits;
  limits.memory_mb = 0;
  ASSERT_TRUE(cgroup->Apply(limits).ok());
  EXPECT_EQ(ReadText(File("memory", "memory.limit_in_bytes")), "-1");
  EXPECT_EQ(ReadText(File("memory", "memory.memsw.limit_in_bytes")), "-1");
  EXPECT_EQ(ReadText(File("pids", "pids.max")), "max");
  EXPECT_EQ(ReadText(File("cpu", "cpu.shares")), "1024");
  EXPECT_EQ(ReadText(File("cpu", "cpu.cfs_quota_us")), "-1");
}

TEST_F(FakeCgroupV1, ApplyWithoutSwapAccountingSkipsMemswAndSwappiness) {
  fs::remove(File("memory", "memory.memsw.limit_in_bytes"));
  fs::remove(File("memory", "memory.swappiness"));
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  CgroupLimits limits;
  limits.memory_bytes = 64 * kMiB;
  ASSERT_TRUE(cgroup->Apply(limits).ok());
  EXPECT_EQ(ReadText(File("memory", "memory.limit_in_bytes")), "67108864");
  EXPECT_FALSE(fs::exists(File("memory", "memory.memsw.limit_in_bytes")));
  EXPECT_FALSE(fs::exists(File("memory", "memory.swappiness")));
}

TEST_F(FakeCgroupV1, AddProcessAppendsPidInEveryHierarchy) {
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  ASSERT_TRUE(cgroup->AddProcess(4242).ok());
  ASSERT_TRUE(cgroup->AddProcess(4343).ok());
  for (const char* controller : {"memory", "pids", "freezer", "cpu"}) {
    EXPECT_EQ(ReadText(File(controller, "cgroup.procs")), "4242\n4343\n") << controller;
  }
}

TEST_F(FakeCgroupV1, FreezeAndThawWriteFreezerState) {
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  ASSERT_TRUE(cgroup->Freeze().ok());  // the fake reads FROZEN once written
  EXPECT_EQ(ReadText(File("freezer", "freezer.state")), "FROZEN");
  ASSERT_TRUE(cgroup->Thaw().ok());
  EXPECT_EQ(ReadText(File("freezer", "freezer.state")), "THAWED");
}

TEST_F(FakeCgroupV1, KillAllThawsFirst) {
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  WriteText(File("freezer", "freezer.state"), "FROZEN\n");
  ASSERT_TRUE(cgroup->KillAll().ok());
  EXPECT_EQ(ReadText(File("freezer", "freezer.state")), "THAWED");
}

TEST_F(FakeCgroupV1, PeakMemoryReadsAndResetsMaxUsage) {
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  WriteText(File("memory", "memory.max_usage_in_bytes"), "41943040\n");
  auto peak = cgroup->PeakMemoryBytes();
  ASSERT_TRUE(peak.ok()) << peak.status().ToString();
  EXPECT_EQ(*peak, 41943040u);
  ASSERT_TRUE(cgroup->ResetPeakMemory().ok());
  EXPECT_EQ(ReadText(File("memory", "memory.max_usage_in_bytes")), "0");
  WriteText(File("memory", "memory.max_usage_in_bytes"), "not a number\n");
  EXPECT_EQ(cgroup->PeakMemoryBytes().status().code(), Status::Code::kCorruption);
}

TEST_F(FakeCgroupV1, OomKillCountParsesOomControl) {
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  auto count = cgroup->OomKillCount();
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(*count, 3u);
  // Before 4.13 the file had no oom_kill line.
  WriteText(File("memory", "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\n");
  count = cgroup->OomKillCount();
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(count.status().message().find("4.13"), std::string::npos);
}

TEST_F(FakeCgroupV1, DestroyRemovesEveryHierarchysDirectory) {
  auto cgroup = CreateCgroup();
  ASSERT_NE(cgroup, nullptr);
  EXPECT_FALSE(cgroup->Destroy().ok());  // fake directories still hold files
  for (const char* controller : {"memory", "pids", "freezer", "cpu"}) {
    EmptyDirectory(Dir(controller));
  }
  ASSERT_TRUE(cgroup->Destroy().ok());
  for (const char* controller : {"memory", "pids", "freezer", "cpu"}) {
    EXPECT_FALSE(fs::exists(Dir(controller))) << controller;
    EXPECT_TRUE(fs::is_directory(root_ + "/" + controller + "/haneul")) << controller;
  }
}

TEST_F(FakeCgroupV1, ListIsTheUnionOfEveryHierarchy) {
  fs::create_directories(root_ + "/pids/haneul/slot-9-2");  // left in one hierarchy only
  auto names = manager_->List();
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_EQ(*names, (std::vector<std::string>{"fn", "slot-9-2"}));
}

TEST(StaleSlotCgroups, PicksSlotsOfGoneServersOnly) {
  std::vector<std::string> names = {"fn",          "slot-100-1", "slot-100-2", "slot-200-1",
                                    "slot-300-5",  "slot-x-1",   "slot-400",   "slot--1",
                                    "env-slot-1"};
  auto alive = [](pid_t pid) { return pid == 200; };
  EXPECT_EQ(StaleSlotCgroups(names, /*self=*/300, alive),
            (std::vector<std::string>{"slot-100-1", "slot-100-2"}));
  EXPECT_EQ(SlotCgroupName(42, 7), "slot-42-7");
}

TEST_F(FakeCgroupV1, CreateMakesDirectoriesAndUsesCombinedCpuMount) {
  fs::remove_all(root_ + "/cpu");
  fs::create_directories(root_ + "/cpu,cpuacct");
  auto cgroup = manager_->Create("fresh");
  ASSERT_TRUE(cgroup.ok()) << cgroup.status().ToString();
  for (const char* controller : {"memory", "pids", "freezer", "cpu,cpuacct"}) {
    EXPECT_TRUE(fs::is_directory(root_ + "/" + controller + "/haneul/fresh")) << controller;
  }
}

TEST_F(FakeCgroupV1, CreateFailsWithoutHierarchyAndLeavesNothingBehind) {
  fs::remove_all(root_ + "/freezer");
  auto cgroup = manager_->Create("fresh");
  ASSERT_FALSE(cgroup.ok());
  EXPECT_NE(cgroup.status().message().find(root_ + "/freezer"), std::string::npos)
      << cgroup.status().message();
  EXPECT_FALSE(fs::exists(root_ + "/memory/haneul/fresh"));
  EXPECT_FALSE(fs::exists(root_ + "/pids/haneul/fresh"));
}

// ---- OpenCgroupManager picks the version -----------------------------------------------------

TEST(OpenCgroupManager, PicksV2WhenRootOffersMemoryAndPids) {
  TempDir tmp;
  WriteText(tmp.path() + "/cgroup.controllers", "cpuset cpu io memory pids\n");
  auto manager = OpenCgroupManager(tmp.path(), "haneul");
  ASSERT_TRUE(manager.ok()) << manager.status().ToString();
  EXPECT_EQ((*manager)->version(), 2);
}

TEST(OpenCgroupManager, PicksV1OnHybridHost) {
  // Like this machine: v1 controllers plus a unified mount that offers none of them.
  TempDir tmp;
  for (const char* controller : {"memory", "pids", "freezer", "cpu", "unified"}) {
    fs::create_directories(tmp.path() + "/" + controller);
  }
  WriteText(tmp.path() + "/unified/cgroup.controllers", "hugetlb\n");
  auto manager = OpenCgroupManager(tmp.path(), "haneul");
  ASSERT_TRUE(manager.ok()) << manager.status().ToString();
  EXPECT_EQ((*manager)->version(), 1);
}

TEST(OpenCgroupManager, PicksV1WhenV2LacksMemory) {
  TempDir tmp;
  WriteText(tmp.path() + "/cgroup.controllers", "cpu io pids\n");
  for (const char* controller : {"memory", "pids", "freezer", "cpu,cpuacct"}) {
    fs::create_directories(tmp.path() + "/" + controller);
  }
  auto manager = OpenCgroupManager(tmp.path(), "haneul");
  ASSERT_TRUE(manager.ok()) << manager.status().ToString();
  EXPECT_EQ((*manager)->version(), 1);
}

TEST(OpenCgroupManager, FailsNamingWhatIsMissing) {
  TempDir tmp;
  WriteText(tmp.path() + "/cgroup.controllers", "cpu io\n");
  fs::create_directories(tmp.path() + "/memory");
  fs::create_directories(tmp.path() + "/cpu");
  auto manager = OpenCgroupManager(tmp.path(), "haneul");
  ASSERT_FALSE(manager.ok());
  EXPECT_EQ(manager.status().code(), Status::Code::kUnavailable);
  const std::string& message = manager.status().message();
  EXPECT_NE(message.find("memory, pids controller"), std::string::npos) << message;
  EXPECT_NE(message.find(tmp.path() + "/pids"), std::string::npos) << message;
  EXPECT_NE(message.find(tmp.path() + "/freezer"), std::string::npos) << message;
  EXPECT_EQ(message.find(tmp.path() + "/cpu"), std::string::npos) << message;
}

TEST(OpenCgroupManager, FailsOnEmptyDirectory) {
  TempDir tmp;
  auto manager = OpenCgroupManager(tmp.path(), "haneul");
  ASSERT_FALSE(manager.ok());
  EXPECT_NE(manager.status().message().find("no cgroup v2"), std::string::npos)
      << manager.status().message();
}

// ---- The real hierarchies of this machine -----------------------------------------------------

// The cgroup2 mount point from /proc/mounts, or "".
std::string FindCgroup2Mount() {
  std::ifstream mounts("/proc/mounts");
  std::string device, mount_point, type, rest;
  while (mounts >> device >> mount_point >> type && std::getline(mounts, rest)) {
    if (type == "cgroup2") return mount_point;
  }
  return "";
}

bool HasLine(const std::string& path, const std::string& word) {
  std::ifstream in(path);
  std::string token;
  while (in >> token) {
    if (token == word) return true;
  }
  return false;
}

// A forked child that waits for the go byte, then runs `body` and exits 0.
class Child {
 public:
  explicit Child(const std::function<void()>& body) {
    int go[2];
    if (pipe2(go, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(go[1]);
      char byte;
      if (read(go[0], &byte, 1) != 1) _exit(2);
      body();
      _exit(0);
    }
    close(go[0]);
    go_ = go[1];
  }
  ~Child() {
    if (go_ >= 0) close(go_);
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      int status;
      waitpid(pid_, &status, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void Go() { ASSERT_EQ(write(go_, "g", 1), 1); }
  int Wait() {
    int status = 0;
    EXPECT_EQ(waitpid(pid_, &status, 0), pid_);
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
  bool reaped_ = false;
};

// In the child: maps and writes `bytes` of anonymous memory, one byte per page.
void TouchMemory(uint64_t bytes) {
  void* area = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) _exit(3);
  auto* page = static_cast<volatile char*>(area);
  for (uint64_t offset = 0; offset < bytes; offset += 4096) page[offset] = 1;
}

// Each test gets a subtree haneul-test-<pid> of its own on the real hierarchy and removes it.
class RealCgroup : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    subtree_ = "haneul-test-" + std::to_string(getpid());
    if (GetParam() == 1) {
      if (!fs::exists("/sys/fs/cgroup/memory/cgroup.procs")) {
        GTEST_SKIP() << "no cgroup v1 memory hierarchy at /sys/fs/cgroup/memory";
      }
      root_ = "/sys/fs/cgroup";
      auto manager = OpenCgroupManager(root_, subtree_);
      ASSERT_TRUE(manager.ok()) << manager.status().ToString();
      if ((*manager)->version() != 1) GTEST_SKIP() << "this host's cgroups are v2";
      manager_ = std::move(*manager);
      has_memory_ = true;
    } else {
      root_ = FindCgroup2Mount();
      if (root_.empty()) GTEST_SKIP() << "no cgroup2 mount in /proc/mounts";
      manager_ = MakeCgroupV2Manager(root_, subtree_);
      has_memory_ = HasLine(root_ + "/cgroup.controllers", "memory");
    }
    auto cgroup = manager_->Create("env");
    ASSERT_TRUE(cgroup.ok()) << cgroup.status().ToString();
    cgroup_ = std::move(*cgroup);
  }

  void TearDown() override {
    if (cgroup_ != nullptr) {
      EXPECT_TRUE(cgroup_->KillAll().ok());
      Status destroyed = cgroup_->Destroy();
      EXPECT_TRUE(destroyed.ok()) << destroyed.ToString();
    }
    if (root_.empty()) return;
    std::vector<std::string> subtrees;
    if (GetParam() == 1) {
      for (const char* controller : {"memory", "pids", "freezer", "cpu"}) {
        subtrees.push_back(root_ + "/" + controller + "/" + subtree_);
      }
    } else {
      subtrees.push_back(root_ + "/" + subtree_);
    }
    for (const std::string& directory : subtrees) {
      if (rmdir(directory.c_str()) != 0 && errno != ENOENT) {
        ADD_FAILURE() << "rmdir " << directory << ": " << strerror(errno);
      }
      EXPECT_FALSE(fs::exists(directory)) << directory;
    }
  }

  void ApplyMemoryLimit(uint64_t bytes) {
    CgroupLimits limits;
    limits.memory_bytes = bytes;
    limits.pids = 64;
    limits.memory_mb = 1769;  // a full vCPU: a 64 MB CPU quota would make touching pages slow
    Status applied = cgroup_->Apply(limits);
    ASSERT_TRUE(applied.ok()) << applied.ToString();
  }

  std::string root_;
  std::string subtree_;
  bool has_memory_ = false;
  std::unique_ptr<CgroupManager> manager_;
  std::unique_ptr<Cgroup> cgroup_;
};

TEST_P(RealCgroup, ChildOverMemoryLimitIsOomKilledAndCounted) {
  if (!has_memory_) GTEST_SKIP() << root_ << " does not offer the memory controller";
  ApplyMemoryLimit(64 * kMiB);
  auto before = cgroup_->OomKillCount();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  Child child([] { TouchMemory(200 * kMiB); });
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE(cgroup_->AddProcess(child.pid()).ok());
  child.Go();
  int status = child.Wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  auto after = cgroup_->OomKillCount();
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_GE(*after, *before + 1);
}

TEST_P(RealCgroup, PeakMemoryCoversTouchedPagesSinceReset) {
  if (!has_memory_) GTEST_SKIP() << root_ << " does not offer the memory controller";
  ApplyMemoryLimit(64 * kMiB);
  Child child([] { TouchMemory(30 * kMiB); });
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE(cgroup_->AddProcess(child.pid()).ok());
  ASSERT_TRUE(cgroup_->ResetPeakMemory().ok());
  child.Go();
  int status = child.Wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  auto peak = cgroup_->PeakMemoryBytes();
  ASSERT_TRUE(peak.ok()) << peak.status().ToString();
  EXPECT_GE(*peak, 30 * kMiB);
  EXPECT_LT(*peak, 40 * kMiB);
  // A reset forgets it: nothing runs in the cgroup any more.
  ASSERT_TRUE(cgroup_->ResetPeakMemory().ok());
  peak = cgroup_->PeakMemoryBytes();
  ASSERT_TRUE(peak.ok()) << peak.status().ToString();
  EXPECT_LT(*peak, 10 * kMiB);
}

TEST_P(RealCgroup, ApplyRaisesAndLowersLimitsTheKernelAccepts) {
  if (!has_memory_) GTEST_SKIP() << root_ << " does not offer the memory controller";
  std::string memory = GetParam() == 1
                           ? root_ + "/memory/" + subtree_ + "/env/memory.limit_in_bytes"
                           : root_ + "/" + subtree_ + "/env/memory.max";
  // v1 keeps limit_in_bytes <= memsw.limit_in_bytes at every step, so raising and lowering
  // need opposite orders.
  for (uint64_t megabytes : {64, 256, 32, 0, 128}) {
    CgroupLimits limits;
    limits.memory_bytes = megabytes * kMiB;
    limits.pids = 16;
    limits.memory_mb = 128;
    Status applied = cgroup_->Apply(limits);
    ASSERT_TRUE(applied.ok()) << megabytes << " MB: " << applied.ToString();
    std::string text = ReadText(memory);
    if (megabytes == 0) {
      EXPECT_TRUE(text == "max\n" || std::stoull(text) >= (uint64_t{1} << 62)) << text;
    } else {
      EXPECT_EQ(std::stoull(text), megabytes * kMiB);
    }
  }
  if (GetParam() == 1) {
    std::string memsw = root_ + "/memory/" + subtree_ + "/env/memory.memsw.limit_in_bytes";
    if (fs::exists(memsw)) {
      EXPECT_EQ(std::stoull(ReadText(memsw)), 128 * kMiB);
    }
    EXPECT_EQ(ReadText(root_ + "/cpu/" + subtree_ + "/env/cpu.cfs_quota_us"), "7235\n");
    EXPECT_EQ(ReadText(root_ + "/cpu/" + subtree_ + "/env/cpu.shares"), "74\n");
    EXPECT_EQ(ReadText(root_ + "/pids/" + subtree_ + "/env/pids.max"), "16\n");
  }
}

// The child answers each byte on `ping` with one on `pong`, so the test sees whether it runs.
struct EchoPipes {
  int ping[2] = {-1, -1};
  int pong[2] = {-1, -1};
  EchoPipes() {
    EXPECT_EQ(pipe2(ping, O_CLOEXEC), 0);
    EXPECT_EQ(pipe2(pong, O_CLOEXEC), 0);
  }
  ~EchoPipes() {
    for (int fd : {ping[0], ping[1], pong[0], pong[1]}) close(fd);
  }
  void Echo() const {
    char byte;
    while (read(ping[0], &byte, 1) == 1) {
      if (write(pong[1], &byte, 1) != 1) _exit(4);
    }
  }
  // Sends a byte and says whether the answer came within timeout_ms.
  bool RoundTrip(int timeout_ms) const {
    if (write(ping[1], "p", 1) != 1) return false;
    struct pollfd answer = {pong[0], POLLIN, 0};
    if (poll(&answer, 1, timeout_ms) != 1) return false;
    char byte;
    return read(pong[0], &byte, 1) == 1;
  }
};

TEST_P(RealCgroup, FreezeStopsChildAndThawResumesIt) {
  EchoPipes pipes;
  Child child([&] { pipes.Echo(); });
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE(cgroup_->AddProcess(child.pid()).ok());
  child.Go();
  ASSERT_TRUE(pipes.RoundTrip(2000));
  Status frozen = cgroup_->Freeze();
  ASSERT_TRUE(frozen.ok()) << frozen.ToString();
  // A negative check needs a wait; 100 ms is ample for a running child to answer a pipe.
  EXPECT_FALSE(pipes.RoundTrip(100));
  ASSERT_TRUE(cgroup_->Thaw().ok());
  struct pollfd answer = {pipes.pong[0], POLLIN, 0};
  ASSERT_EQ(poll(&answer, 1, 2000), 1);  // the pending ping is answered once thawed
  char byte;
  ASSERT_EQ(read(pipes.pong[0], &byte, 1), 1);
  EXPECT_TRUE(pipes.RoundTrip(2000));
}

TEST_P(RealCgroup, KillAllKillsFrozenChild) {
  EchoPipes pipes;
  Child child([&] { pipes.Echo(); });
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE(cgroup_->AddProcess(child.pid()).ok());
  child.Go();
  ASSERT_TRUE(pipes.RoundTrip(2000));
  ASSERT_TRUE(cgroup_->Freeze().ok());
  // KillAll returns once cgroup.procs is empty, before the child is reaped: a zombie is no
  // longer listed, so a worker can call KillAll then Destroy without reaping in between.
  Status killed = cgroup_->KillAll();
  ASSERT_TRUE(killed.ok()) << killed.ToString();
  int status = child.Wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST_P(RealCgroup, KillAllKillsGrandchildrenToo) {
  // The grandchild is orphaned when its parent dies; as subreaper the test reaps it itself.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int ready[2];
  ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
  Child child([&] {
    // A grandchild in its own session, as a worker's subprocess might be.
    pid_t grandchild = fork();
    if (grandchild == 0) {
      setsid();
      while (true) pause();
    }
    if (write(ready[1], &grandchild, sizeof(grandchild)) != sizeof(grandchild)) _exit(5);
    while (true) pause();
  });
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE(cgroup_->AddProcess(child.pid()).ok());
  child.Go();
  close(ready[1]);
  pid_t grandchild = -1;
  ASSERT_EQ(read(ready[0], &grandchild, sizeof(grandchild)), ssize_t{sizeof(grandchild)});
  close(ready[0]);
  ASSERT_GT(grandchild, 0);
  Status killed = cgroup_->KillAll();
  EXPECT_TRUE(killed.ok()) << killed.ToString();
  int status = child.Wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  if (!killed.ok()) kill(grandchild, SIGKILL);
  ASSERT_EQ(waitpid(grandchild, &status, 0), grandchild);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  EXPECT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

TEST_P(RealCgroup, DestroyRemovesTheDirectories) {
  Status destroyed = cgroup_->Destroy();
  ASSERT_TRUE(destroyed.ok()) << destroyed.ToString();
  if (GetParam() == 1) {
    for (const char* controller : {"memory", "pids", "freezer", "cpu"}) {
      EXPECT_FALSE(fs::exists(root_ + "/" + controller + "/" + subtree_ + "/env")) << controller;
    }
  } else {
    EXPECT_FALSE(fs::exists(root_ + "/" + subtree_ + "/env"));
  }
  cgroup_.reset();
}

INSTANTIATE_TEST_SUITE_P(Kernel, RealCgroup, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return "v" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace haneul::sandbox
