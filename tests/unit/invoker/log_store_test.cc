// LogStore: ordering, time ranges, stream filters and pagination tokens.
#include "haneul/invoker/log_store.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace haneul::invoker {
namespace {

class LogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("haneul-logstore-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory_);
    auto store = KvStore::Open(directory_.string());
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(directory_);
  }
  std::filesystem::path directory_;
  std::unique_ptr<KvStore> store_;
};

TEST_F(LogStoreTest, ReadsInTimeOrderWithinRange) {
  LogStore logs(*store_);
  logs.Append("/aws/lambda/f", "s1", 300, "third");
  logs.Append("/aws/lambda/f", "s1", 100, "first");
  logs.Append("/aws/lambda/f", "s2", 200, "second");
  logs.Append("/aws/lambda/g", "s1", 150, "other group");
  std::string next;
  auto all = logs.Read("/aws/lambda/f", "", 0, 0, "", 100, &next);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].message, "first");
  EXPECT_EQ(all[1].message, "second");
  EXPECT_EQ(all[2].message, "third");
  EXPECT_TRUE(next.empty());
  auto range = logs.Read("/aws/lambda/f", "", 150, 300, "", 100, &next);
  ASSERT_EQ(range.size(), 1u);
  EXPECT_EQ(range[0].message, "second");
  auto stream = logs.Read("/aws/lambda/f", "s1", 0, 0, "", 100, &next);
  ASSERT_EQ(stream.size(), 2u);
}

TEST_F(LogStoreTest, PagesWithTokensWithoutLossOrRepeat) {
  LogStore logs(*store_);
  for (int i = 0; i < 25; ++i) logs.Append("grp", "s", 1000, "m" + std::to_string(i));
  std::vector<std::string> seen;
  std::string token;
  for (int page = 0; page < 10; ++page) {
    std::string next;
    auto events = logs.Read("grp", "", 0, 0, token, 10, &next);
    for (const auto& event : events) seen.push_back(event.message);
    if (next.empty()) break;
    token = next;
  }
  ASSERT_EQ(seen.size(), 25u);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(seen[i], "m" + std::to_string(i));
}

TEST_F(LogStoreTest, BufferedAppendsAreVisibleToTheNextRead) {
  EventLoop loop;  // never run: the flush timer cannot fire, so only Read's own flush can help
  LogStore logs(*store_, &loop);
  logs.Append("grp", "s", 10, "one");
  std::string next;
  EXPECT_EQ(logs.Read("grp", "", 0, 0, "", 100, &next).size(), 1u);
  logs.Append("grp", "s", 11, "two");
  EXPECT_EQ(logs.Read("grp", "", 0, 0, "", 100, &next).size(), 2u);
}

TEST_F(LogStoreTest, GroupsAndStreamsSurviveReopen) {
  {
    LogStore logs(*store_);
    logs.Append("/aws/lambda/f", "2026/01/01/[$LATEST]abc", 5, "x");
  }
  LogStore reopened(*store_);
  EXPECT_TRUE(reopened.GroupExists("/aws/lambda/f"));
  EXPECT_FALSE(reopened.GroupExists("/aws/lambda/none"));
  auto streams = reopened.Streams("/aws/lambda/f");
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].name, "2026/01/01/[$LATEST]abc");
  EXPECT_EQ(reopened.Groups("/aws/lambda/").size(), 1u);
}

}  // namespace
}  // namespace haneul::invoker
