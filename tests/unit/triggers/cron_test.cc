// EventBridge schedule expressions: what parses, and the next firing (UTC) for rate and cron
// with ranges, steps, names, `L`, `W`, `#` and years.
#include <gtest/gtest.h>

#include "cron.h"

namespace haneul::triggers {
namespace {

int64_t At(int year, unsigned month, unsigned day, int hour = 0, int minute = 0) {
  return (DaysFromCivil(year, month, day) * 1440 + hour * 60 + minute) * 60000;
}

std::string Next(const std::string& expression, int64_t after, int64_t anchor = 0) {
  auto parsed = ScheduleExpression::Parse(expression);
  EXPECT_TRUE(parsed.ok()) << expression << ": " << parsed.status().message();
  if (!parsed.ok()) return "invalid";
  auto next = parsed->NextAfter(after, anchor);
  return next ? IsoSecondsUtc(*next) : "never";
}

TEST(Cron, CivilDaysRoundTrip) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  for (int64_t days = -1000; days < 100000; days += 37) {
    int year;
    unsigned month, day;
    CivilFromDays(days, &year, &month, &day);
    EXPECT_EQ(DaysFromCivil(year, month, day), days);
  }
  EXPECT_EQ(IsoSecondsUtc(At(2024, 2, 29, 23, 59) + 1500), "2024-02-29T23:59:01Z");
}

TEST(Cron, AcceptsWhatEventBridgeAccepts) {
  for (const char* ok : {"rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(12 hours)",
                         "rate(1 day)", "rate(7 days)", "cron(0 12 * * ? *)",
                         "cron(0/15 * ? * MON-FRI *)", "cron(0 8 L * ? *)", "cron(0 8 LW * ? *)",
                         "cron(0 8 15W * ? *)", "cron(0 8 ? * 6L *)", "cron(0 8 ? * 3#2 *)",
                         "cron(5,35 14 * JAN-MAR,DEC ? 2024-2030)", "cron(0 0 ? * L *)",
                         "cron(0 18 ? * sun *)"}) {
    EXPECT_TRUE(ScheduleExpression::Parse(ok).ok()) << ok;
  }
}

TEST(Cron, RejectsWhatEventBridgeRejects) {
  for (const char* bad :
       {"rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "rate(-1 minutes)",
        "rate(5 seconds)", "rate(5minutes)", "rate()", "cron(0 12 * * * *)",
        "cron(0 12 ? * ? *)", "cron(0 12 * *)", "cron(60 12 * * ? *)", "cron(0 24 * * ? *)",
        "cron(0 12 32 * ? *)", "cron(0 12 * 13 ? *)", "cron(0 12 ? * 8 *)", "cron(0 12 ? * 2#6 *)",
        "cron(0 12 * * ? 2200)", "cron(0 12 5-1 * ? *)", "cron(0/0 12 * * ? *)", "at(2024)",
        "cron(0 12 * * ? *", "", "cron(a b c d e f)", "cron(0 12 0W * ? *)"}) {
    EXPECT_FALSE(ScheduleExpression::Parse(bad).ok()) << bad;
  }
}

TEST(Cron, RateCountsPeriodsFromTheAnchor) {
  int64_t anchor = At(2024, 1, 1, 10, 0) + 30'000;
  EXPECT_EQ(Next("rate(5 minutes)", anchor, anchor), "2024-01-01T10:05:30Z");
  EXPECT_EQ(Next("rate(5 minutes)", anchor + 5 * 60000, anchor), "2024-01-01T10:10:30Z");
  EXPECT_EQ(Next("rate(1 day)", At(2024, 1, 3, 0, 0), anchor), "2024-01-03T10:00:30Z");
}

TEST(Cron, DailyAtNoonUtc) {
  EXPECT_EQ(Next("cron(0 12 * * ? *)", At(2024, 1, 1, 13, 0)), "2024-01-02T12:00:00Z");
  EXPECT_EQ(Next("cron(0 12 * * ? *)", At(2024, 1, 1, 11, 59)), "2024-01-01T12:00:00Z");
  // Strictly after: a firing at exactly `after` is not returned again.
  EXPECT_EQ(Next("cron(0 12 * * ? *)", At(2024, 1, 1, 12, 0)), "2024-01-02T12:00:00Z");
  // UTC has no DST: the last Sunday of March is like any other day.
  EXPECT_EQ(Next("cron(30 1 * * ? *)", At(2024, 3, 31, 1, 0)), "2024-03-31T01:30:00Z");
}

TEST(Cron, StepsRangesAndNames) {
  // Friday 2024-01-05 23:50 -> the next weekday quarter hour is Monday 00:00.
  EXPECT_EQ(Next("cron(0/15 * ? * MON-FRI *)", At(2024, 1, 5, 23, 50)), "2024-01-08T00:00:00Z");
  EXPECT_EQ(Next("cron(0/15 * ? * MON-FRI *)", At(2024, 1, 8, 0, 0)), "2024-01-08T00:15:00Z");
  EXPECT_EQ(Next("cron(5,35 14 * JAN-MAR,DEC ? *)", At(2024, 3, 31, 15, 0)),
            "2024-12-01T14:05:00Z");
  EXPECT_EQ(Next("cron(0 9-17/4 * * ? *)", At(2024, 1, 1, 9, 30)), "2024-01-01T13:00:00Z");
}

TEST(Cron, LastDayAndLastWeekday) {
  EXPECT_EQ(Next("cron(0 8 L * ? *)", At(2024, 2, 1)), "2024-02-29T08:00:00Z");
  EXPECT_EQ(Next("cron(0 8 L * ? *)", At(2023, 2, 1)), "2023-02-28T08:00:00Z");
  // 2025-08-31 is a Sunday: the last weekday is Friday the 29th.
  EXPECT_EQ(Next("cron(0 8 LW * ? *)", At(2025, 8, 1)), "2025-08-29T08:00:00Z");
}

TEST(Cron, NearestWeekdayStaysInTheMonth) {
  // 2024-06-15 is a Saturday -> Friday the 14th.
  EXPECT_EQ(Next("cron(0 8 15W * ? *)", At(2024, 6, 1)), "2024-06-14T08:00:00Z");
  // 2024-06-01 is a Saturday -> Monday the 3rd (not May 31st).
  EXPECT_EQ(Next("cron(0 8 1W * ? *)", At(2024, 5, 31, 12)), "2024-06-03T08:00:00Z");
  // 2024-06-30 is a Sunday -> Friday the 28th (not July 1st).
  EXPECT_EQ(Next("cron(0 8 30W * ? *)", At(2024, 6, 20)), "2024-06-28T08:00:00Z");
}

TEST(Cron, LastAndNthDayOfWeek) {
  EXPECT_EQ(Next("cron(0 8 ? * 6L *)", At(2024, 11, 1)), "2024-11-29T08:00:00Z");   // last Friday
  EXPECT_EQ(Next("cron(0 8 ? * 3#2 *)", At(2024, 12, 1)), "2024-12-10T08:00:00Z");  // 2nd Tuesday
  EXPECT_EQ(Next("cron(0 8 ? * 3#2 *)", At(2024, 12, 10, 9)), "2025-01-14T08:00:00Z");
  EXPECT_EQ(Next("cron(0 0 ? * L *)", At(2024, 1, 1)), "2024-01-06T00:00:00Z");   // Saturday
  // A fifth Monday only in some months: 2024-04 has none after the 29th... April 29 is the 5th.
  EXPECT_EQ(Next("cron(0 0 ? * 2#5 *)", At(2024, 3, 1)), "2024-04-29T00:00:00Z");
}

TEST(Cron, YearsAndImpossibleDates) {
  EXPECT_EQ(Next("cron(0 0 1 1 ? 2030)", At(2024, 1, 1)), "2030-01-01T00:00:00Z");
  EXPECT_EQ(Next("cron(0 0 1 1 ? 2030)", At(2030, 1, 1, 1)), "never");
  EXPECT_EQ(Next("cron(0 0 31 2 ? *)", At(2024, 1, 1)), "never");
  EXPECT_EQ(Next("cron(0 0 29 2 ? *)", At(2097, 1, 1)), "2104-02-29T00:00:00Z");  // 2100 is not leap
}

}  // namespace
}  // namespace haneul::triggers
