// Unit tests for the tar reader and the safe layer unpacker: formats (ustar prefix, pax, GNU
// long names, gzip, zstd), whiteouts, and hostile layers that must leave nothing outside the
// rootfs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "images_tar_helpers.h"
#include "layer.h"

namespace haneul::images {
namespace {

namespace fs = std::filesystem;
using testing::Gzip;
using testing::TarBuilder;
using testing::Zstd;

class LayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/haneul-layer-test-XXXXXX";
    base_ = ::mkdtemp(pattern);
    rootfs_ = base_ + "/rootfs";
    outside_ = base_ + "/outside";
    fs::create_directories(rootfs_);
    fs::create_directories(outside_);
    std::ofstream(outside_ + "/secret") << "secret";
  }
  void TearDown() override { (void)RemoveTree(base_); }

  Status Apply(const std::string& layer, UnpackLimits limits = {}) {
    int fd = ::open(rootfs_.c_str(), O_RDONLY | O_DIRECTORY);
    auto source = MemorySource(layer);
    Status s = ApplyLayer(source.get(), fd, limits, &stats_);
    ::close(fd);
    return s;
  }
  std::string Read(const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  // Everything outside the rootfs is as SetUp left it.
  void ExpectOutsideUntouched() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(base_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"outside", "rootfs"}));
    std::vector<std::string> inside;
    for (const auto& e : fs::directory_iterator(outside_)) inside.push_back(e.path().filename());
    EXPECT_EQ(inside, std::vector<std::string>{"secret"});
    EXPECT_EQ(Read(outside_ + "/secret"), "secret");
    EXPECT_FALSE(fs::exists("/haneul-layer-test-escaped"));
  }

  std::string base_, rootfs_, outside_;
  UnpackStats stats_;
};

TEST_F(LayerTest, UnpacksFilesDirsLinksWithModes) {
  std::string tar = TarBuilder()
                        .Dir("usr/")
                        .Dir("usr/bin/")
                        .File("usr/bin/tool", "#!/bin/sh\n", 0755)
                        .Symlink("bin", "usr/bin")
                        .Hardlink("usr/bin/tool2", "usr/bin/tool")
                        .File("./etc/hosts", "127.0.0.1 localhost\n")
                        .Finish();
  ASSERT_TRUE(Apply(Gzip(tar)).ok());
  EXPECT_EQ(Read(rootfs_ + "/usr/bin/tool"), "#!/bin/sh\n");
  EXPECT_EQ(fs::status(rootfs_ + "/usr/bin/tool").permissions() & fs::perms::all,
            static_cast<fs::perms>(0755));
  EXPECT_EQ(fs::read_symlink(rootfs_ + "/bin"), "usr/bin");
  EXPECT_EQ(fs::hard_link_count(rootfs_ + "/usr/bin/tool"), 2u);
  EXPECT_EQ(Read(rootfs_ + "/etc/hosts"), "127.0.0.1 localhost\n");
  ExpectOutsideUntouched();
}

TEST_F(LayerTest, ReadsUstarPrefixPaxAndGnuLongNames) {
  std::string long_name = "deep/" + std::string(150, 'a') + "/file";
  std::string gnu_name = "gnu/" + std::string(120, 'b');
  TarBuilder b;
  b.Entry("file", '0', "prefixed", "", 0644, -1, "some/prefix");
  b.Pax("path", long_name).File("ignored-name", "pax");
  b.Entry("././@LongLink", 'L', gnu_name + std::string(1, '\0')).File("short", "gnu");
  ASSERT_TRUE(Apply(b.Finish()).ok());
  EXPECT_EQ(Read(rootfs_ + "/some/prefix/file"), "prefixed");
  EXPECT_EQ(Read(rootfs_ + "/" + long_name), "pax");
  EXPECT_EQ(Read(rootfs_ + "/" + gnu_name), "gnu");
  EXPECT_FALSE(fs::exists(rootfs_ + "/ignored-name"));
}

TEST_F(LayerTest, ZstdLayer) {
  ASSERT_TRUE(Apply(Zstd(TarBuilder().File("z", "zstd!").Finish())).ok());
  EXPECT_EQ(Read(rootfs_ + "/z"), "zstd!");
}

TEST_F(LayerTest, WhiteoutsAndOpaqueDirectories) {
  ASSERT_TRUE(Apply(TarBuilder()
                        .Dir("a/")
                        .File("a/b", "1")
                        .File("a/c", "2")
                        .Dir("d/")
                        .File("d/old", "3")
                        .Dir("d/sub/")
                        .File("d/sub/x", "4")
                        .Finish())
                  .ok());
  ASSERT_TRUE(Apply(TarBuilder()
                        .File("a/.wh.b", "")
                        .Dir("d/")
                        .File("d/.wh..wh..opq", "")
                        .File("d/new", "5")
                        .Finish())
                  .ok());
  EXPECT_FALSE(fs::exists(rootfs_ + "/a/b"));
  EXPECT_TRUE(fs::exists(rootfs_ + "/a/c"));
  EXPECT_FALSE(fs::exists(rootfs_ + "/a/.wh.b"));
  EXPECT_FALSE(fs::exists(rootfs_ + "/d/old"));
  EXPECT_FALSE(fs::exists(rootfs_ + "/d/sub"));
  EXPECT_EQ(Read(rootfs_ + "/d/new"), "5");
  EXPECT_FALSE(fs::exists(rootfs_ + "/d/.wh..wh..opq"));
}

TEST_F(LayerTest, LaterLayerReplacesFileWithDirectoryAndBack) {
  ASSERT_TRUE(Apply(TarBuilder().File("x", "file").Dir("y/").File("y/z", "1").Finish()).ok());
  ASSERT_TRUE(Apply(TarBuilder().Dir("x/").File("y", "now a file").Finish()).ok());
  EXPECT_TRUE(fs::is_directory(rootfs_ + "/x"));
  EXPECT_EQ(Read(rootfs_ + "/y"), "now a file");
}

TEST_F(LayerTest, DotDotIsRefused) {
  Status s = Apply(TarBuilder().File("../outside/evil", "x").Finish());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("escapes"), std::string::npos) << s.ToString();
  s = Apply(TarBuilder().File("a/../../outside/evil", "x").Finish());
  EXPECT_FALSE(s.ok());
  ExpectOutsideUntouched();
}

TEST_F(LayerTest, AbsolutePathsLandInsideTheRootfs) {
  ASSERT_TRUE(Apply(TarBuilder().File(outside_ + "/abs", "x").File("/etc/abs", "y").Finish()).ok());
  EXPECT_TRUE(fs::exists(rootfs_ + outside_ + "/abs"));
  EXPECT_TRUE(fs::exists(rootfs_ + "/etc/abs"));
  ExpectOutsideUntouched();
}

TEST_F(LayerTest, SymlinkThenWriteStaysInside) {
  // A symlink to "/" then a write through it: resolved as if the rootfs were "/".
  Status s = Apply(TarBuilder().Symlink("root", "/").File("root/haneul-layer-test-escaped", "x").Finish());
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(fs::exists(rootfs_ + "/haneul-layer-test-escaped"));
  // Relative symlinks climbing out are clamped at the rootfs too.
  s = Apply(TarBuilder().Dir("etc/").Symlink("up", "../../../../../../../../etc").File("up/x", "y").Finish());
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(fs::exists(rootfs_ + "/etc/x"));
  // An absolute symlink to the real outside directory: its target does not exist inside the
  // rootfs, so the write is refused (never followed to the host path).
  s = Apply(TarBuilder().Symlink("abs", outside_).File("abs/secret", "overwritten").Finish());
  EXPECT_FALSE(s.ok());
  s = Apply(TarBuilder()
                .Symlink("rel", "../../../../../../../../" + outside_.substr(1))
                .File("rel/new", "x")
                .Finish());
  EXPECT_FALSE(s.ok());
  ExpectOutsideUntouched();
  // Once the same path exists inside the rootfs, writes land there.
  fs::create_directories(rootfs_ + outside_);
  s = Apply(TarBuilder().File("abs/secret", "overwritten").File("rel/new", "x").Finish());
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Read(rootfs_ + outside_ + "/secret"), "overwritten");
  ExpectOutsideUntouched();
}

TEST_F(LayerTest, SymlinkReplacedByFileIsNotFollowed) {
  Status s = Apply(TarBuilder().Symlink("f", outside_ + "/secret").File("f", "replaced").Finish());
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(fs::is_symlink(rootfs_ + "/f"));
  EXPECT_EQ(Read(rootfs_ + "/f"), "replaced");
  ExpectOutsideUntouched();
}

TEST_F(LayerTest, WhiteoutThroughSymlinkStaysInside) {
  Status s = Apply(TarBuilder().Symlink("l", outside_).File("l/.wh.secret", "").Finish());
  (void)s;
  ExpectOutsideUntouched();
}

TEST_F(LayerTest, HardLinksOutsideAreRefused) {
  Status s = Apply(TarBuilder().Hardlink("h", "../outside/secret").Finish());
  EXPECT_FALSE(s.ok());
  s = Apply(TarBuilder().Hardlink("h2", outside_ + "/secret").Finish());
  EXPECT_FALSE(s.ok());  // resolved inside the rootfs, where it does not exist
  s = Apply(TarBuilder().Symlink("l", outside_).Hardlink("h3", "l/secret").Finish());
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(fs::exists(rootfs_ + "/h3"));
  ExpectOutsideUntouched();
  EXPECT_EQ(fs::hard_link_count(outside_ + "/secret"), 1u);
}

TEST_F(LayerTest, DevicesAndFifosAreSkipped) {
  ASSERT_TRUE(Apply(TarBuilder().Entry("dev/null", '3').Entry("fifo", '6').File("ok", "1").Finish()).ok());
  EXPECT_FALSE(fs::exists(rootfs_ + "/dev/null"));
  EXPECT_FALSE(fs::exists(rootfs_ + "/fifo"));
  EXPECT_EQ(stats_.skipped, 2);
}

TEST_F(LayerTest, AbsurdSizesAreRefused) {
  UnpackLimits limits;
  limits.max_entry_bytes = 1 << 20;
  Status s = Apply(TarBuilder().Entry("big", '0', "", "", 0644, 077777777777LL).Finish(), limits);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("absurd size"), std::string::npos) << s.ToString();
  // Total limit across entries.
  limits = UnpackLimits();
  limits.max_total_bytes = 10;
  s = Apply(TarBuilder().File("a", "123456").File("b", "123456").Finish(), limits);
  EXPECT_FALSE(s.ok());
  // A huge pax record.
  std::string pax = TarBuilder().Entry("p", 'x', "", "", 0644, 1LL << 40).Finish();
  EXPECT_FALSE(Apply(pax).ok());
}

TEST_F(LayerTest, TruncatedStreamsAreErrors) {
  std::string tar = TarBuilder().File("a", std::string(100000, 'x')).Finish();
  std::string gz = Gzip(tar);
  Status s = Apply(gz.substr(0, gz.size() / 2));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("truncated"), std::string::npos) << s.ToString();
  // Cut only the gzip trailer: the tar is complete but the stream is not.
  s = Apply(gz.substr(0, gz.size() - 4));
  EXPECT_FALSE(s.ok());
  std::string zs = Zstd(tar);
  EXPECT_FALSE(Apply(zs.substr(0, zs.size() - 3)).ok());
  EXPECT_FALSE(Apply(tar.substr(0, 700)).ok());
}

TEST_F(LayerTest, DiffIdIsVerifiedOverTheUncompressedStream) {
  std::string tar = TarBuilder().File("a", "x").Finish();
  int fd = ::open(rootfs_.c_str(), O_RDONLY | O_DIRECTORY);
  std::string diff_id = "sha256:" + [&] {
    Sha256 h;
    h.Update(tar.data(), tar.size());
    return h.FinishHex();
  }();
  std::string gz = Gzip(tar);
  auto compressed = MemorySource(gz);
  EXPECT_TRUE(ApplyLayer(compressed.get(), fd, UnpackLimits(), &stats_, diff_id).ok());
  auto bad = MemorySource(tar);
  Status s = ApplyLayer(bad.get(), fd, UnpackLimits(), &stats_, "sha256:" + std::string(64, 'e'));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("diff_id mismatch"), std::string::npos) << s.ToString();
  ::close(fd);
}

TEST_F(LayerTest, AbsurdDepthIsRefused) {
  std::string deep;
  for (int i = 0; i < 300; ++i) deep += "d/";
  Status s = Apply(TarBuilder().Pax("path", deep + "f").File("x", "1").Finish());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("deeper"), std::string::npos) << s.ToString();
  // 200 levels are fine, and cheap: each missing level is created once.
  deep.clear();
  for (int i = 0; i < 200; ++i) deep += "d/";
  EXPECT_TRUE(Apply(TarBuilder().Pax("path", deep + "f").File("x", "1").Finish()).ok());
}

TEST_F(LayerTest, BadChecksumIsRefused) {
  std::string tar = TarBuilder().File("a", "x").Finish();
  tar[0] = 'b';
  EXPECT_FALSE(Apply(tar).ok());
}

TEST(TarPathTest, SplitEntryPath) {
  auto parts = SplitEntryPath("./a//b/./c/");
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(*parts, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_FALSE(SplitEntryPath("a/../b").ok());
  EXPECT_TRUE(SplitEntryPath("/").ok());
}

}  // namespace
}  // namespace haneul::images
