// ScheduleExpression: EventBridge's schedule expressions, in UTC (no DST: EventBridge rules
// evaluate cron in UTC).
//   rate(N unit)   N >= 1; unit minute|hour|day when N == 1, minutes|hours|days otherwise.
//                  Fires at anchor + k*period (k >= 1), the anchor being when the rule was
//                  created or its schedule last changed.
//   cron(Minutes Hours Day-of-month Month Day-of-week Year)
//                  Minutes 0-59, Hours 0-23, Day-of-month 1-31, Month 1-12 or JAN-DEC,
//                  Day-of-week 1-7 (1 = Sunday) or SUN-SAT, Year 1970-2199; `*`, lists `,`,
//                  ranges `-`, steps `/`; `?` in exactly one of the two day fields; `L` (last
//                  day of month; in Day-of-week alone, Saturday; `6L` the last Friday), `W`
//                  (`15W` the weekday nearest the 15th in the same month, `LW`), `#` (`3#2` the
//                  second Tuesday).
// Parse() rejects everything else (the caller answers "Parameter ScheduleExpression is not
// valid."). Values; thread-compatible.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "haneul/common/status.h"

namespace haneul::triggers {

// Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard Hinnant's algorithms).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);
void CivilFromDays(int64_t days, int* year, unsigned* month, unsigned* day);
// "2024-01-02T03:04:05Z" (EventBridge's `time`: seconds, no fraction).
std::string IsoSecondsUtc(int64_t unix_millis);

class ScheduleExpression {
 public:
  static Result<ScheduleExpression> Parse(std::string_view text);

  // The first firing strictly after `after_ms`, or nullopt when there is none (a cron whose
  // years have passed). `anchor_ms` matters for rate expressions only.
  std::optional<int64_t> NextAfter(int64_t after_ms, int64_t anchor_ms) const;
  bool is_rate() const { return rate_ms_ > 0; }

 private:
  bool DayMatches(int year, unsigned month, unsigned day) const;

  int64_t rate_ms_ = 0;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;   // 1..31
  std::bitset<13> months_;          // 1..12
  std::bitset<8> days_of_week_;     // 1..7
  std::bitset<230> years_;          // 1970..2199
  bool day_of_month_any_ = false;   // `?` in Day-of-month: Day-of-week decides
  bool last_day_ = false;           // L
  bool last_weekday_ = false;       // LW
  std::vector<int> nearest_weekday_;                // nW
  std::vector<int> last_of_week_;                   // nL (Day-of-week)
  std::vector<std::pair<int, int>> nth_of_week_;    // d#n
};

}  // namespace haneul::triggers
