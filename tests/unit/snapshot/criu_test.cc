// The criu backend: its image manifest (round trip, every damaged manifest or image refused), the
// "auto" table's choice per runtime, and one real checkpoint and restore of a small node program
// speaking the checkpoint protocol (skipped when this host's criu does not pass ProbeCriu).
#include <gtest/gtest.h>

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "criu/criu.h"
#include "haneul/common/ids.h"
#include "haneul/snapshot/snapshotter.h"

namespace haneul::snapshot::criu {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("haneul-criu-test-" + RandomHex(8))) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

ImageManifest Sample() {
  ImageManifest manifest;
  manifest.resume_inode = 11;
  manifest.stdout_inode = 12;
  manifest.stderr_inode = 13;
  manifest.files = {{"core-1.img", 3, Sha256Hex("abc")}, {"pages-1.img", 0, Sha256Hex("")}};
  return manifest;
}

TEST(CriuManifest, RoundTrips) {
  auto decoded = DecodeManifest(EncodeManifest(Sample()));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(decoded->resume_inode, 11u);
  EXPECT_EQ(decoded->stderr_inode, 13u);
  ASSERT_EQ(decoded->files.size(), 2u);
  EXPECT_EQ(decoded->files[0].name, "core-1.img");
  EXPECT_EQ(decoded->files[0].size, 3u);
}

TEST(CriuManifest, RefusesTamperingTruncationAndEscapes) {
  std::string good = EncodeManifest(Sample());
  for (size_t cut : {size_t{0}, size_t{10}, good.size() / 2, good.size() - 10}) {
    EXPECT_FALSE(DecodeManifest(good.substr(0, cut)).ok()) << cut;
  }
  std::string tampered = good;
  tampered[good.find("core-1")] = 'k';
  auto refused = DecodeManifest(tampered);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("checksum"), std::string::npos);
  // A manifest that checks out but names a path outside its directory.
  ImageManifest escaping = Sample();
  escaping.files[0].name = "../../etc/passwd";
  EXPECT_FALSE(DecodeManifest(EncodeManifest(escaping)).ok());
}

TEST(CriuImage, VerifyFindsMissingTruncatedAndCorruptFiles) {
  TempDir dir;
  Write(dir.path() + "/core-1.img", "core bytes");
  Write(dir.path() + "/pages-1.img", std::string(8192, 'p'));
  Write(dir.path() + "/dump.log", "logs are not part of the image");
  auto manifest = ScanImage(dir.path());
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  ASSERT_EQ(manifest->files.size(), 2u);
  EXPECT_TRUE(VerifyImage(dir.path(), *manifest).ok());

  Write(dir.path() + "/pages-1.img", std::string(8191, 'p'));
  auto truncated = VerifyImage(dir.path(), *manifest);
  EXPECT_EQ(truncated.code(), Status::Code::kCorruption);
  EXPECT_NE(truncated.message().find("truncated"), std::string::npos) << truncated.message();

  Write(dir.path() + "/pages-1.img", std::string(8191, 'p') + "X");
  auto corrupt = VerifyImage(dir.path(), *manifest);
  EXPECT_NE(corrupt.message().find("checksum"), std::string::npos) << corrupt.message();

  fs::remove(dir.path() + "/core-1.img");
  EXPECT_NE(VerifyImage(dir.path(), *manifest).message().find("missing"), std::string::npos);
}

TEST(CriuBackend, AutoPicksCriuForNodeAndForkServerForPython) {
  auto snapshotter = MakeSnapshotter("auto");
  ASSERT_TRUE(snapshotter.ok()) << snapshotter.status().message();
  EXPECT_EQ((*snapshotter)->ForRuntime("python3.12")->name(), "fork-server");
  Snapshotter* node = (*snapshotter)->ForRuntime("nodejs20.x");
  // Without a usable criu, Node's snapshots fail with the reason rather than going elsewhere.
  EXPECT_EQ(node->name(), ProbeCriu().ok() ? "criu" : "unavailable");
}

// Reads from fd until text contains needle or a few seconds pass.
std::string ReadUntil(int fd, const std::string& needle) {
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (text.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd poll_fd{fd, POLLIN, 0};
    if (poll(&poll_fd, 1, 200) != 1) continue;
    char buffer[4096];
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  return text;
}

TEST(CriuBackend, CheckpointsAProgramAndRestoresCopiesWithTheirOwnPipesAndConfiguration) {
  if (!ProbeCriu().ok()) GTEST_SKIP() << ProbeCriu().message();
  if (access("/usr/bin/node", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/node";
  TempDir dir;
  auto made = MakeSnapshotter("criu");
  ASSERT_TRUE(made.ok()) << made.status().message();
  Snapshotter& criu = **made;
  ASSERT_NE(criu.template_sandbox(), nullptr);

  // The runtime's side of the protocol (criu.h), in a few lines of node.
  const char* program = R"(
    const fs = require('fs');
    console.log('template ' + process.pid);
    fs.writeSync(4, 'R'); fs.closeSync(4);
    const buffer = Buffer.alloc(4096);
    const n = fs.readSync(3, buffer);
    console.log('copy got ' + buffer.toString('utf8', 0, n).trim());
  )";
  sandbox::WorkerSpec spec;
  spec.argv = {"/usr/bin/node", "-e", program};
  spec.environment = {"PATH=/usr/bin:/bin", "AWS_LAMBDA_FUNCTION_NAME=f",
                      "AWS_LAMBDA_FUNCTION_VERSION=1"};
  spec.scratch_directory = dir.path();
  spec.code_directory = dir.path();
  criu.PrepareTemplate(&spec);
  auto worker = criu.template_sandbox()->Start(spec);
  ASSERT_TRUE(worker.ok()) << worker.status().message();
  // PID 1 of its own pid namespace.
  EXPECT_NE(ReadUntil((*worker)->stdout_fd(), "\n").find("template 1"), std::string::npos);

  auto captured = criu.Capture(**worker, spec);
  ASSERT_TRUE(captured.ok()) << captured.status().message();
  EXPECT_TRUE(fs::exists(dir.path() + "/criu/" + kManifestName));

  for (const char* name : {"copy-a", "copy-b"}) {
    CopySpec copy;
    copy.name = name;
    copy.environment = {std::string("WHO=") + name};
    copy.timeout = std::chrono::milliseconds(10000);
    auto restored = (*captured)->Restore(copy);
    ASSERT_TRUE(restored.ok()) << restored.status().message();
    std::string out = ReadUntil((*restored)->stdout_fd(), "\n");
    EXPECT_NE(out.find("copy got"), std::string::npos) << out;
    EXPECT_NE(out.find(std::string("WHO=") + name), std::string::npos) << out;
    EXPECT_NE(out.find("AWS_LAMBDA_RUNTIME_API=127.0.0.1:"), std::string::npos) << out;
  }

  // A damaged image: the next restore is refused before criu runs, and stays refused.
  std::string pages;
  for (const auto& entry : fs::directory_iterator(dir.path() + "/criu")) {
    if (entry.path().filename().string().starts_with("pages-")) pages = entry.path().string();
  }
  ASSERT_FALSE(pages.empty());
  {
    std::fstream file(pages, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(100);
    file.write("garbage!", 8);
  }
  CopySpec copy;
  copy.name = "copy-c";
  auto refused = (*captured)->Restore(copy);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kCorruption) << refused.status().message();
}

}  // namespace
}  // namespace haneul::snapshot::criu
