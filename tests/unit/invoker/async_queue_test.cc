// AsyncQueue: events survive a reopen of the store, due-time ordering with a fake clock, and
// Lambda's retry policy (2 retries, growing backoff, maximum event age).
#include "async_queue.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace haneul::invoker {
namespace {

class AsyncQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("haneul-asyncqueue-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory_);
    Open();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(directory_);
  }
  void Open() {
    store_.reset();
    auto store = KvStore::Open(directory_.string());
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
  }
  static AsyncEvent Event(const std::string& function, int64_t at) {
    AsyncEvent event;
    event.request_id = "id-" + function;
    event.function = function;
    event.payload = R"({"n":1})";
    event.enqueued_ms = at;
    event.next_attempt_ms = at;
    return event;
  }
  std::filesystem::path directory_;
  std::unique_ptr<KvStore> store_;
};

TEST_F(AsyncQueueTest, AcceptedEventsSurviveReopen) {
  {
    AsyncQueue queue(*store_);
    ASSERT_TRUE(queue.Load(1000).ok());
    auto a = Event("a", 1000);
    auto b = Event("b", 1000);
    ASSERT_TRUE(queue.Enqueue(a).ok());
    ASSERT_TRUE(queue.Enqueue(b).ok());
    ASSERT_TRUE(queue.Remove(a.sequence).ok());
    b.attempts = 1;
    b.next_attempt_ms = 5000;
    ASSERT_TRUE(queue.Update(b).ok());
  }
  Open();
  AsyncQueue queue(*store_);
  ASSERT_TRUE(queue.Load(2000).ok());
  ASSERT_EQ(queue.depth(), 1u);
  EXPECT_TRUE(queue.TakeDue(4999).empty());
  auto due = queue.TakeDue(5000);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].function, "b");
  EXPECT_EQ(due[0].attempts, 1);
  EXPECT_EQ(due[0].payload, R"({"n":1})");
  // New sequences keep growing past the loaded ones.
  auto c = Event("c", 2000);
  ASSERT_TRUE(queue.Enqueue(c).ok());
  EXPECT_GT(c.sequence, due[0].sequence);
}

TEST_F(AsyncQueueTest, TakenEventsAreNotTakenTwiceUntilReturned) {
  AsyncQueue queue(*store_);
  ASSERT_TRUE(queue.Load(0).ok());
  auto a = Event("a", 10);
  ASSERT_TRUE(queue.Enqueue(a).ok());
  EXPECT_EQ(queue.TakeDue(10).size(), 1u);
  EXPECT_TRUE(queue.TakeDue(10).empty());
  EXPECT_FALSE(queue.NextDue().has_value());
  queue.Return(a.sequence, 50);
  EXPECT_EQ(queue.NextDue(), 50);
  EXPECT_TRUE(queue.TakeDue(49).empty());
  EXPECT_EQ(queue.TakeDue(50).size(), 1u);
}

TEST_F(AsyncQueueTest, DeadLettersAreKeptPerQueueInOrder) {
  AsyncQueue queue(*store_);
  ASSERT_TRUE(queue.Load(0).ok());
  ASSERT_TRUE(queue.AppendDeadLetter("dlq", "one").ok());
  ASSERT_TRUE(queue.AppendDeadLetter("other", "x").ok());
  ASSERT_TRUE(queue.AppendDeadLetter("dlq", "two").ok());
  auto queues = queue.DeadLetterQueues();
  EXPECT_EQ(queues["dlq"], 2u);
  EXPECT_EQ(queues["other"], 1u);
  EXPECT_EQ(queue.ReadDeadLetters("dlq"), (std::vector<std::string>{"one", "two"}));
}

TEST(AsyncRetryPolicy, RetriesTwiceWithGrowingBackoff) {
  AsyncEvent event;
  event.enqueued_ms = 0;
  int64_t next = 0;
  event.attempts = 1;
  EXPECT_EQ(DecideAfterAttempt(event, true, 2, 21600, 60000, 100, &next), AsyncNext::kRetry);
  EXPECT_EQ(next, 60100);
  event.attempts = 2;
  EXPECT_EQ(DecideAfterAttempt(event, true, 2, 21600, 60000, 60200, &next), AsyncNext::kRetry);
  EXPECT_EQ(next, 60200 + 120000);
  event.attempts = 3;
  EXPECT_EQ(DecideAfterAttempt(event, true, 2, 21600, 60000, 180300, &next),
            AsyncNext::kRetriesExhausted);
}

TEST(AsyncRetryPolicy, SuccessEndsAndZeroRetriesFailsAtOnce) {
  AsyncEvent event;
  event.attempts = 1;
  int64_t next = 0;
  EXPECT_EQ(DecideAfterAttempt(event, false, 2, 21600, 1000, 0, &next), AsyncNext::kSucceeded);
  EXPECT_EQ(DecideAfterAttempt(event, true, 0, 21600, 1000, 0, &next),
            AsyncNext::kRetriesExhausted);
}

TEST(AsyncRetryPolicy, AnEventTooOldForItsNextAttemptIsDropped) {
  AsyncEvent event;
  event.enqueued_ms = 0;
  event.attempts = 1;
  int64_t next = 0;
  // Max age 60 s; the retry would start at 30 s + 60 s.
  EXPECT_EQ(DecideAfterAttempt(event, true, 2, 60, 60000, 30000, &next),
            AsyncNext::kEventAgeExceeded);
}

}  // namespace
}  // namespace haneul::invoker
