// Unit tests for the image store: digest verification, references, overrides, index parsing,
// build -> resolve -> export -> import round trips and garbage collection.
#include "haneul/images/image_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "blob_store.h"
#include "layer.h"
#include "oci.h"

namespace haneul::images {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/haneul-images-test-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { (void)RemoveTree(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

size_t CountFiles(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    (void)e;
    ++n;
  }
  return n;
}

TEST(BlobStoreTest, VerifiesDigestOnWrite) {
  TempDir dir;
  BlobStore store(dir.path());
  ASSERT_TRUE(store.Init().ok());
  std::string good = "sha256:" + std::string("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  auto ok = store.Put("hello", good);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(store.Has(good));
  std::string wrong = "sha256:" + std::string(64, '0');
  auto bad = store.Put("hello!", wrong);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("digest mismatch"), std::string::npos);
  EXPECT_FALSE(store.Has(wrong));
  EXPECT_EQ(CountFiles(dir.path() + "/tmp"), 0u);  // no half-written entry left behind
  EXPECT_EQ(CountFiles(dir.path() + "/blobs/sha256"), 1u);
  EXPECT_FALSE(store.Put("x", "md5:abc").ok());
}

TEST(ReferenceTest, ParsesRegistryReferences) {
  auto r = ParseRegistryReference("127.0.0.1:5000/team/app:v1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->registry, "127.0.0.1:5000");
  EXPECT_EQ(r->repository, "team/app");
  EXPECT_EQ(r->tag, "v1");
  r = ParseRegistryReference("localhost/app");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tag, "latest");
  r = ParseRegistryReference("alpine");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->registry, "registry-1.docker.io");
  EXPECT_EQ(r->repository, "library/alpine");
  std::string digest = "sha256:" + std::string(64, 'a');
  r = ParseRegistryReference("host.example/x@" + digest);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->digest, digest);
  EXPECT_EQ(r->ToString(), "host.example/x@" + digest);
  EXPECT_FALSE(ParseRegistryReference("host/x@sha256:zz").ok());
  EXPECT_FALSE(ParseRegistryReference("Upper/Case").ok());
  EXPECT_FALSE(ParseRegistryReference("host:1/x:bad tag").ok());
}

TEST(OverridesTest, AppliedAsLambdaDoes) {
  ImageConfig base;
  base.entrypoint = {"/lambda-entrypoint.sh"};
  base.cmd = {"app.handler"};
  base.working_dir = "/var/task";
  LambdaImageOverrides none;
  EXPECT_EQ(Argv(ApplyOverrides(base, none)),
            (std::vector<std::string>{"/lambda-entrypoint.sh", "app.handler"}));
  LambdaImageOverrides command;
  command.command = std::vector<std::string>{"other.handler"};
  EXPECT_EQ(Argv(ApplyOverrides(base, command)),
            (std::vector<std::string>{"/lambda-entrypoint.sh", "other.handler"}));
  LambdaImageOverrides entry;
  entry.entry_point = std::vector<std::string>{"/bin/run"};
  auto c = ApplyOverrides(base, entry);
  EXPECT_EQ(Argv(c), std::vector<std::string>{"/bin/run"});
  EXPECT_EQ(c.working_dir, "/var/task");
  LambdaImageOverrides all;
  all.entry_point = std::vector<std::string>{"/bin/run"};
  all.command = std::vector<std::string>{"a", "b"};
  all.working_directory = "/work";
  c = ApplyOverrides(base, all);
  EXPECT_EQ(Argv(c), (std::vector<std::string>{"/bin/run", "a", "b"}));
  EXPECT_EQ(c.working_dir, "/work");
}

TEST(OciTest, ParsesIndexAndPicksPlatform) {
  std::string d1 = "sha256:" + std::string(64, '1'), d2 = "sha256:" + std::string(64, '2');
  std::string text = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
    "manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + d1 +
                     R"(","size":10,"platform":{"os":"linux","architecture":"s390x"}},
                 {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + d2 +
                     R"(","size":11,"platform":{"os":"linux","architecture":")" + HostArchitecture() +
                     R"("}}]})";
  EXPECT_EQ(DetectMediaType(text), kOciIndex);
  auto index = ParseIndex(text);
  ASSERT_TRUE(index.ok());
  auto pick = PickPlatform(*index, "img");
  ASSERT_TRUE(pick.ok());
  EXPECT_EQ(pick->digest, d2);
  index->manifests.pop_back();
  pick = PickPlatform(*index, "img");
  ASSERT_FALSE(pick.ok());
  EXPECT_NE(pick.status().message().find("linux/s390x"), std::string::npos);
  EXPECT_NE(pick.status().message().find("img"), std::string::npos);
  EXPECT_FALSE(ParseIndex(R"({"manifests":[{"digest":"sha256:xyz","size":1}]})").ok());
}

TEST(OciTest, RejectsUnsupportedManifests) {
  std::string d = "sha256:" + std::string(64, '3');
  std::string layer_type = "application/vnd.example.unknown";
  auto m = ParseManifest(R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" + d +
                         R"(","size":1},"layers":[{"mediaType":")" + layer_type + R"(","digest":")" + d +
                         R"(","size":1}]})");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find(layer_type), std::string::npos);
  EXPECT_FALSE(ParseManifest(R"({"schemaVersion":1,"fsLayers":[]})").ok());
  auto config = ParseConfig(R"({"config":{"Entrypoint":["/e"],"Cmd":["c"],"Env":["A=1"],
      "WorkingDir":"/w","User":"1000"}})");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->entrypoint, std::vector<std::string>{"/e"});
  EXPECT_EQ(config->env, std::vector<std::string>{"A=1"});
  EXPECT_EQ(config->user, "1000");
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.path() + "/ctx/sub");
    std::ofstream(dir_.path() + "/ctx/app.py") << "def handler(e, c):\n    return 1\n";
    std::ofstream(dir_.path() + "/ctx/sub/data.txt") << "data";
    fs::create_symlink("app.py", dir_.path() + "/ctx/link.py");
    auto store = ImageStore::Open(dir_.path() + "/store");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  TempDir dir_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(StoreTest, BuildResolveExportImportAndCollect) {
  BuildOptions build;
  build.context_directory = dir_.path() + "/ctx";
  build.base = "scratch";
  build.tag = "base:1";
  build.destination = "/opt/base";
  build.entrypoint = std::vector<std::string>{"/opt/base/run"};
  build.env = {"A=1"};
  auto base = store_->Build(build);
  ASSERT_TRUE(base.ok()) << base.status().ToString();

  build.base = "base:1";
  build.tag = "app:1";
  build.destination = "";  // /var/task on a base
  build.entrypoint.reset();
  build.cmd = std::vector<std::string>{"app.handler"};
  build.env = {"A=2", "B=3"};
  auto app = store_->Build(build);
  ASSERT_TRUE(app.ok()) << app.status().ToString();

  auto resolved = store_->Resolve("app:1");
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(resolved->digest, app->digest);
  EXPECT_TRUE(fs::exists(resolved->rootfs + "/opt/base/app.py"));
  EXPECT_TRUE(fs::exists(resolved->rootfs + "/var/task/sub/data.txt"));
  EXPECT_EQ(fs::read_symlink(resolved->rootfs + "/var/task/link.py"), "app.py");
  EXPECT_EQ(Argv(resolved->config), (std::vector<std::string>{"/opt/base/run", "app.handler"}));
  EXPECT_EQ(resolved->config.env, (std::vector<std::string>{"A=2", "B=3"}));
  // Resolving again reuses the unpacked rootfs.
  auto again = store_->Resolve("app:1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->rootfs, resolved->rootfs);

  // Export to an OCI layout and import it back into a second store.
  std::string layout = dir_.path() + "/layout";
  ASSERT_TRUE(store_->Export("app:1", layout, "v1").ok());
  auto other = ImageStore::Open(dir_.path() + "/store2");
  ASSERT_TRUE(other.ok());
  auto imported = (*other)->Resolve("oci:" + layout + ":v1");
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_EQ(imported->digest, app->digest);
  EXPECT_TRUE(fs::exists(imported->rootfs + "/var/task/app.py"));
  auto missing = (*other)->Import("oci:" + layout + ":nope");
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("v1"), std::string::npos);

  // Layers are shared: removing the app keeps the base's layer; GC frees the rest.
  auto list = store_->List();
  EXPECT_EQ(list.size(), 2u);
  ASSERT_TRUE(store_->Remove("app:1").ok());
  auto freed = store_->GarbageCollect();
  ASSERT_TRUE(freed.ok());
  EXPECT_GT(*freed, 0);
  EXPECT_FALSE(fs::exists(resolved->rootfs));
  auto base_again = store_->Resolve("base:1");
  ASSERT_TRUE(base_again.ok()) << base_again.status().ToString();
  EXPECT_TRUE(fs::exists(base_again->rootfs + "/opt/base/app.py"));
  EXPECT_FALSE(store_->Remove("app:1").ok());
}

TEST_F(StoreTest, CorruptBlobInLayoutIsRefused) {
  BuildOptions build;
  build.context_directory = dir_.path() + "/ctx";
  build.tag = "x";
  ASSERT_TRUE(store_->Build(build).ok());
  std::string layout = dir_.path() + "/layout";
  ASSERT_TRUE(store_->Export("x", layout).ok());
  // Flip the (only) layer's bytes.
  for (const auto& e : fs::directory_iterator(layout + "/blobs/sha256")) {
    if (fs::file_size(e.path()) > 200) {
      fs::remove(e.path());
      std::ofstream(e.path()) << std::string(300, 'z');
    }
  }
  auto other = ImageStore::Open(dir_.path() + "/store2");
  ASSERT_TRUE(other.ok());
  auto r = (*other)->Import("oci:" + layout);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("mismatch"), std::string::npos) << r.status().ToString();
  EXPECT_EQ((*other)->List().size(), 0u);
  EXPECT_EQ(CountFiles(dir_.path() + "/store2/tmp"), 0u);
}

TEST_F(StoreTest, ConcurrentResolvesUnpackOnce) {
  BuildOptions build;
  build.context_directory = dir_.path() + "/ctx";
  build.tag = "c";
  ASSERT_TRUE(store_->Build(build).ok());
  std::vector<std::string> roots(6);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < roots.size(); ++i) {
    threads.emplace_back([&, i] {
      auto r = store_->Resolve("c");
      roots[i] = r.ok() ? r->rootfs : r.status().ToString();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : roots) EXPECT_EQ(r, roots[0]);
  EXPECT_TRUE(fs::exists(roots[0] + "/app.py"));
  EXPECT_EQ(CountFiles(dir_.path() + "/store/rootfs"), 1u);  // no .tmp-* left behind
}

TEST_F(StoreTest, UnknownImageAndNewerLayoutAreErrors) {
  auto r = store_->Resolve("never-built");
  EXPECT_FALSE(r.ok());
  std::ofstream(dir_.path() + "/store/version") << "99\n";
  auto reopened = ImageStore::Open(dir_.path() + "/store");
  EXPECT_FALSE(reopened.ok());
}

}  // namespace
}  // namespace haneul::images
