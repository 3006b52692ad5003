// The snapshot metadata file format: round trip, and every damaged or foreign file refused.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "haneul/snapshot/snapshotter.h"

namespace haneul::snapshot {
namespace {

SnapshotMetadata Sample() {
  return {"hello", "3", "fork-server", "abc=", 42, 1700000000000};
}

TEST(SnapshotMetadata, RoundTrips) {
  auto decoded = DecodeMetadata(EncodeMetadata(Sample()));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(decoded->function, "hello");
  EXPECT_EQ(decoded->version, "3");
  EXPECT_EQ(decoded->backend, "fork-server");
  EXPECT_EQ(decoded->code_sha256, "abc=");
  EXPECT_EQ(decoded->revision, 42u);
  EXPECT_EQ(decoded->created_unix_ms, 1700000000000);
}

TEST(SnapshotMetadata, RefusesEveryTruncation) {
  std::string bytes = EncodeMetadata(Sample());
  for (size_t length = 0; length < bytes.size(); ++length) {
    auto decoded = DecodeMetadata(std::string_view(bytes).substr(0, length));
    EXPECT_FALSE(decoded.ok()) << "accepted " << length << " bytes";
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), Status::Code::kCorruption);
    }
  }
}

TEST(SnapshotMetadata, RefusesAnyFlippedByte) {
  std::string bytes = EncodeMetadata(Sample());
  for (size_t at = 0; at < bytes.size(); ++at) {
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x20);
    EXPECT_FALSE(DecodeMetadata(damaged).ok()) << "accepted a flip at " << at;
  }
}

TEST(SnapshotMetadata, RefusesAnotherFormatVersion) {
  std::string bytes = EncodeMetadata(Sample());
  bytes[8] = static_cast<char>(kMetadataFormatVersion + 1);
  auto decoded = DecodeMetadata(bytes);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("format"), std::string::npos);
}

TEST(SnapshotMetadata, RefusesTrailingBytesAndHugeLengths) {
  EXPECT_FALSE(DecodeMetadata(EncodeMetadata(Sample()) + "x").ok());
  std::string bytes = EncodeMetadata(Sample());
  bytes[12] = bytes[13] = bytes[14] = bytes[15] = '\xff';
  EXPECT_FALSE(DecodeMetadata(bytes).ok());
}

TEST(SnapshotMetadata, FilesWriteAndReadBack) {
  std::string dir = testing::TempDir() + "/snapmeta-" + std::to_string(getpid());
  std::string path = dir + "/f/1.snap";
  ASSERT_TRUE(WriteMetadataFile(path, Sample()).ok());
  auto read = ReadMetadataFile(path);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->revision, 42u);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << "garbage";
  }
  EXPECT_EQ(ReadMetadataFile(path).status().code(), Status::Code::kCorruption);
  EXPECT_EQ(ReadMetadataFile(dir + "/missing.snap").status().code(), Status::Code::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST(SnapshotBackends, TableNamesForkServerAndExplainsCriu) {
  auto names = SnapshotBackends();
  EXPECT_NE(std::find(names.begin(), names.end(), "fork-server"), names.end());
  // criu is made exactly when the host can run it; otherwise the status says why.
  auto criu = MakeSnapshotter("criu");
  EXPECT_EQ(criu.ok(), ProbeCriu().ok());
  if (!criu.ok()) {
    EXPECT_NE(criu.status().message().find("criu"), std::string::npos);
  }
  EXPECT_FALSE(MakeSnapshotter("nope").ok());
  auto fork = MakeSnapshotter("fork-server");
  ASSERT_TRUE(fork.ok());
  EXPECT_EQ((*fork)->name(), "fork-server");
}

}  // namespace
}  // namespace haneul::snapshot
