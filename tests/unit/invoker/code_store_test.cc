// CodeStore: unpacking keeps modes, refuses unsafe paths and bad zips.
#include "code_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zip.h>

#include <filesystem>
#include <fstream>

namespace haneul::invoker {
namespace {

// Builds a zip in memory from (name, content, unix mode) entries.
std::string MakeZip(const std::vector<std::tuple<std::string, std::string, int>>& entries) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_source_keep(buffer);
  zip_t* archive = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  std::vector<std::string> keep;  // contents must outlive zip_close
  keep.reserve(entries.size());
  for (const auto& [name, content, mode] : entries) {
    keep.push_back(content);
    zip_source_t* source = zip_source_buffer(archive, keep.back().data(), keep.back().size(), 0);
    zip_int64_t index = zip_file_add(archive, name.c_str(), source, ZIP_FL_OVERWRITE);
    zip_file_set_external_attributes(archive, static_cast<zip_uint64_t>(index), 0,
                                     ZIP_OPSYS_UNIX, static_cast<zip_uint32_t>(mode) << 16);
  }
  zip_close(archive);
  zip_source_open(buffer);
  zip_source_seek(buffer, 0, SEEK_END);
  zip_int64_t size = zip_source_tell(buffer);
  zip_source_seek(buffer, 0, SEEK_SET);
  std::string out(static_cast<size_t>(size), '\0');
  zip_source_read(buffer, out.data(), static_cast<zip_uint64_t>(size));
  zip_source_close(buffer);
  zip_source_free(buffer);
  return out;
}

class CodeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("haneul-codestore-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory_);
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }
  std::filesystem::path directory_;
};

TEST_F(CodeStoreTest, UnpacksFilesWithTheirModes) {
  CodeStore store(directory_.string());
  std::string id;
  AwsError error;
  ASSERT_TRUE(store.Put(MakeZip({{"bootstrap", "#!/bin/sh\n", 0100755},
                                 {"lib/data.txt", "hello", 0100644}}),
                        &id, &error))
      << error.message;
  auto unpacked = store.Directory(id);
  ASSERT_TRUE(unpacked.ok());
  struct stat info;
  ASSERT_EQ(stat((*unpacked + "/bootstrap").c_str(), &info), 0);
  EXPECT_TRUE(info.st_mode & S_IXUSR);
  std::ifstream data(*unpacked + "/lib/data.txt");
  std::string text;
  data >> text;
  EXPECT_EQ(text, "hello");
}

TEST_F(CodeStoreTest, RefusesPathsOutOfThePackage) {
  CodeStore store(directory_.string());
  std::string id;
  AwsError error;
  EXPECT_FALSE(store.Put(MakeZip({{"../escape.txt", "x", 0100644}}), &id, &error));
  EXPECT_EQ(error.type, "InvalidParameterValueException");
  EXPECT_FALSE(std::filesystem::exists(directory_.parent_path() / "escape.txt"));
}

TEST_F(CodeStoreTest, RefusesBytesThatAreNotAZip) {
  CodeStore store(directory_.string());
  std::string id;
  AwsError error;
  EXPECT_FALSE(store.Put("definitely not a zip", &id, &error));
  EXPECT_EQ(error.type, "InvalidParameterValueException");
  EXPECT_NE(error.message.find("Could not unzip"), std::string::npos);
}

TEST_F(CodeStoreTest, UnpacksAgainWhenTheFolderWasLost) {
  CodeStore store(directory_.string());
  std::string id;
  AwsError error;
  ASSERT_TRUE(store.Put(MakeZip({{"app.py", "x = 1\n", 0100644}}), &id, &error));
  std::filesystem::remove_all(directory_ / id);
  CodeStore restarted(directory_.string());
  auto unpacked = restarted.Directory(id);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().message();
  EXPECT_TRUE(std::filesystem::exists(*unpacked + "/app.py"));
}

}  // namespace
}  // namespace haneul::invoker
