// Lambda's concurrency accounting (account limit, reserved concurrency, the 100-unreserved rule)
// and the weighted pick of an alias's version.
#include "concurrency.h"

#include <gtest/gtest.h>

#include <random>

namespace haneul::invoker {
namespace {

using Verdict = ConcurrencyLimiter::Verdict;

TEST(ConcurrencyLimiter, AccountLimitThrottlesUnreservedFunctions) {
  ConcurrencyLimiter limiter(3);
  EXPECT_EQ(limiter.TryAcquire("a"), Verdict::kOk);
  EXPECT_EQ(limiter.TryAcquire("b"), Verdict::kOk);
  EXPECT_EQ(limiter.TryAcquire("a"), Verdict::kOk);
  EXPECT_EQ(limiter.TryAcquire("c"), Verdict::kAccountExceeded);
  limiter.Release("b");
  EXPECT_EQ(limiter.TryAcquire("c"), Verdict::kOk);
  EXPECT_EQ(limiter.in_flight(), 3);
  EXPECT_EQ(limiter.in_flight("a"), 2);
}

TEST(ConcurrencyLimiter, ReservedConcurrencyIsTheFunctionsOwnLimit) {
  ConcurrencyLimiter limiter(1000);
  limiter.SetReserved("r", 5);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(limiter.TryAcquire("r"), Verdict::kOk);
  EXPECT_EQ(limiter.TryAcquire("r"), Verdict::kReservedExceeded);
  // Others share what is left: 995.
  EXPECT_EQ(limiter.unreserved_limit(), 995);
  EXPECT_EQ(limiter.TryAcquire("other"), Verdict::kOk);
  limiter.Release("r");
  EXPECT_EQ(limiter.TryAcquire("r"), Verdict::kOk);
}

TEST(ConcurrencyLimiter, ZeroReservedThrottlesEverything) {
  ConcurrencyLimiter limiter(1000);
  limiter.SetReserved("off", 0);
  EXPECT_EQ(limiter.TryAcquire("off"), Verdict::kReservedExceeded);
}

TEST(ConcurrencyLimiter, KeepsOneHundredUnreserved) {
  ConcurrencyLimiter limiter(1000);
  EXPECT_TRUE(limiter.CanReserve("a", 900));
  EXPECT_FALSE(limiter.CanReserve("a", 901));
  limiter.SetReserved("a", 800);
  EXPECT_TRUE(limiter.CanReserve("b", 100));
  EXPECT_FALSE(limiter.CanReserve("b", 101));
  // Changing a function's own reservation counts only the difference.
  EXPECT_TRUE(limiter.CanReserve("a", 900));
}

TEST(ConcurrencyLimiter, UnreservedPoolExcludesReservedFunctionsInFlight) {
  ConcurrencyLimiter limiter(102);
  limiter.SetReserved("r", 2);
  ASSERT_EQ(limiter.TryAcquire("r"), Verdict::kOk);
  ASSERT_EQ(limiter.TryAcquire("r"), Verdict::kOk);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(limiter.TryAcquire("u"), Verdict::kOk) << i;
  EXPECT_EQ(limiter.TryAcquire("u"), Verdict::kAccountExceeded);
  limiter.Release("r");
  EXPECT_EQ(limiter.TryAcquire("u"), Verdict::kAccountExceeded);
  limiter.Release("u");
  EXPECT_EQ(limiter.TryAcquire("u"), Verdict::kOk);
}

TEST(ConcurrencyLimiter, ReservationChangedWhileRunningNeverGoesNegative) {
  ConcurrencyLimiter limiter(1000);
  ASSERT_EQ(limiter.TryAcquire("f"), Verdict::kOk);
  limiter.SetReserved("f", 1);
  EXPECT_EQ(limiter.TryAcquire("f"), Verdict::kReservedExceeded);
  limiter.SetReserved("f", std::nullopt);
  limiter.Release("f");
  limiter.Release("f");  // an extra release is ignored
  EXPECT_EQ(limiter.in_flight(), 0);
  EXPECT_EQ(limiter.in_flight("f"), 0);
}

TEST(AliasRouting, PicksTheAdditionalVersionWithItsWeight) {
  EXPECT_EQ(PickAliasVersion("1", "2", 0.3, 0.29), "2");
  EXPECT_EQ(PickAliasVersion("1", "2", 0.3, 0.3), "1");
  EXPECT_EQ(PickAliasVersion("1", "", 0.9, 0.0), "1");
  EXPECT_EQ(PickAliasVersion("1", "2", 0.0, 0.0), "1");
  EXPECT_EQ(PickAliasVersion("1", "2", 1.0, 0.999), "2");
}

TEST(AliasRouting, WeightsHoldOverManyDraws) {
  std::mt19937_64 random(42);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  int additional = 0;
  const int draws = 100000;
  for (int i = 0; i < draws; ++i) {
    if (PickAliasVersion("1", "2", 0.25, uniform(random)) == "2") ++additional;
  }
  EXPECT_NEAR(additional / static_cast<double>(draws), 0.25, 0.01);
}

}  // namespace
}  // namespace haneul::invoker
