// EventBridge schedule expressions (see cron.h). NextAfter walks days, skipping whole months and
// years that cannot match, so even a yearly cron answers in a few thousand steps.
#include "cron.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace haneul::triggers {

namespace {

constexpr int kFirstYear = 1970;
constexpr int kLastYear = 2199;

Status Invalid() { return Status::InvalidArgument("Parameter ScheduleExpression is not valid."); }

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t at = text.find(separator, start);
    parts.push_back(text.substr(start, at == std::string_view::npos ? at : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return parts;
}

bool ParseNumber(std::string_view text, int* out) {
  if (text.empty() || text.size() > 4) return false;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

// A number, or a name from `names` (index + 1, case-insensitive).
bool ParseValue(std::string_view text, const std::vector<std::string_view>& names, int* out) {
  if (ParseNumber(text, out)) return true;
  if (text.size() != 3) return false;
  for (size_t i = 0; i < names.size(); ++i) {
    bool same = true;
    for (size_t k = 0; k < 3; ++k) {
      same = same && std::toupper(static_cast<unsigned char>(text[k])) == names[i][k];
    }
    if (same) {
      *out = static_cast<int>(i) + 1;
      return true;
    }
  }
  return false;
}

// One element: *, */s, a, a-b, a/s, a-b/s. Sets bits [min, max] (offset by `offset`).
template <size_t N>
bool ParseElement(std::string_view text, int min, int max,
                  const std::vector<std::string_view>& names, int offset, std::bitset<N>* bits) {
  int step = 1;
  auto slash = text.find('/');
  if (slash != std::string_view::npos) {
    if (!ParseNumber(text.substr(slash + 1), &step) || step < 1) return false;
    text = text.substr(0, slash);
  }
  int low = min, high = max;
  if (text == "*") {
    // every value
  } else {
    auto dash = text.find('-');
    if (dash != std::string_view::npos) {
      if (!ParseValue(text.substr(0, dash), names, &low) ||
          !ParseValue(text.substr(dash + 1), names, &high)) {
        return false;
      }
    } else {
      if (!ParseValue(text, names, &low)) return false;
      high = slash != std::string_view::npos ? max : low;
    }
  }
  if (low < min || high > max || low > high) return false;
  for (int value = low; value <= high; value += step) bits->set(static_cast<size_t>(value - offset));
  return true;
}

template <size_t N>
bool ParseField(std::string_view text, int min, int max, const std::vector<std::string_view>& names,
                int offset, std::bitset<N>* bits) {
  if (text.empty()) return false;
  for (std::string_view element : Split(text, ',')) {
    if (!ParseElement(element, min, max, names, offset, bits)) return false;
  }
  return true;
}

unsigned DaysInMonth(int year, unsigned month) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// 1 = Sunday ... 7 = Saturday. 1970-01-01 was a Thursday (5).
int Weekday(int64_t days) { return static_cast<int>(((days % 7) + 7 + 4) % 7) + 1; }

// The weekday (Mon-Fri) nearest `day` within the month, as Quartz's W: never crosses months.
unsigned NearestWeekday(int year, unsigned month, unsigned day) {
  unsigned last = DaysInMonth(year, month);
  int weekday = Weekday(DaysFromCivil(year, month, day));
  if (weekday == 7) return day == 1 ? 3 : day - 1;     // Saturday -> Friday (or Monday the 3rd)
  if (weekday == 1) return day == last ? day - 2 : day + 1;  // Sunday -> Monday (or Friday)
  return day;
}

const std::vector<std::string_view> kMonths = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                               "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
const std::vector<std::string_view> kWeekdays = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
const std::vector<std::string_view> kNoNames = {};

}  // namespace

int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t days, int* year, unsigned* month, unsigned* day) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *day = doy - (153 * mp + 2) / 5 + 1;
  *month = mp < 10 ? mp + 3 : mp - 9;
  *year = static_cast<int>(static_cast<int64_t>(yoe) + era * 400 + (*month <= 2));
}

std::string IsoSecondsUtc(int64_t unix_millis) {
  int64_t seconds = unix_millis >= 0 ? unix_millis / 1000 : (unix_millis - 999) / 1000;
  int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
  int64_t rest = seconds - days * 86400;
  int year;
  unsigned month, day;
  CivilFromDays(days, &year, &month, &day);
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02u-%02uT%02d:%02d:%02dZ", year, month, day,
                static_cast<int>(rest / 3600), static_cast<int>(rest / 60 % 60),
                static_cast<int>(rest % 60));
  return buffer;
}

Result<ScheduleExpression> ScheduleExpression::Parse(std::string_view text) {
  ScheduleExpression expression;
  if (text.size() > 256 || !text.ends_with(")")) return Invalid();
  if (text.starts_with("rate(")) {
    std::string_view inner = text.substr(5, text.size() - 6);
    auto space = inner.find(' ');
    if (space == std::string_view::npos) return Invalid();
    int value = 0;
    if (!ParseNumber(inner.substr(0, space), &value) || value < 1) {
      // Up to 4 digits is already past every useful rate; larger numbers are rejected too.
      return Invalid();
    }
    std::string_view unit = inner.substr(space + 1);
    int64_t unit_ms = 0;
    if (unit == "minute" || unit == "minutes") unit_ms = 60000;
    if (unit == "hour" || unit == "hours") unit_ms = 3600000;
    if (unit == "day" || unit == "days") unit_ms = 86400000;
    if (unit_ms == 0 || (value == 1) != !unit.ends_with("s")) return Invalid();
    expression.rate_ms_ = unit_ms * value;
    return expression;
  }
  if (!text.starts_with("cron(")) return Invalid();
  std::string_view inner = text.substr(5, text.size() - 6);
  std::vector<std::string_view> fields;
  for (std::string_view part : Split(inner, ' ')) {
    if (!part.empty()) fields.push_back(part);
  }
  if (fields.size() != 6) return Invalid();
  if (!ParseField(fields[0], 0, 59, kNoNames, 0, &expression.minutes_) ||
      !ParseField(fields[1], 0, 23, kNoNames, 0, &expression.hours_) ||
      !ParseField(fields[3], 1, 12, kMonths, 0, &expression.months_) ||
      !ParseField(fields[5], kFirstYear, kLastYear, kNoNames, kFirstYear, &expression.years_)) {
    return Invalid();
  }
  bool dom_question = fields[2] == "?";
  bool dow_question = fields[4] == "?";
  if (dom_question == dow_question) return Invalid();  // exactly one of the two is `?`
  if (!dom_question) {
    for (std::string_view element : Split(fields[2], ',')) {
      int day = 0;
      if (element == "L") {
        expression.last_day_ = true;
      } else if (element == "LW") {
        expression.last_weekday_ = true;
      } else if (element.size() >= 2 && element.back() == 'W' &&
                 ParseNumber(element.substr(0, element.size() - 1), &day)) {
        if (day < 1 || day > 31) return Invalid();
        expression.nearest_weekday_.push_back(day);
      } else if (!ParseElement(element, 1, 31, kNoNames, 0, &expression.days_of_month_)) {
        return Invalid();
      }
    }
  } else {
    expression.day_of_month_any_ = true;
    for (std::string_view element : Split(fields[4], ',')) {
      int weekday = 0, nth = 0;
      auto hash = element.find('#');
      if (element == "L") {
        expression.days_of_week_.set(7);
      } else if (hash != std::string_view::npos) {
        if (!ParseValue(element.substr(0, hash), kWeekdays, &weekday) ||
            !ParseNumber(element.substr(hash + 1), &nth) || weekday < 1 || weekday > 7 ||
            nth < 1 || nth > 5) {
          return Invalid();
        }
        expression.nth_of_week_.emplace_back(weekday, nth);
      } else if (element.size() >= 2 && element.back() == 'L') {
        if (!ParseValue(element.substr(0, element.size() - 1), kWeekdays, &weekday) ||
            weekday < 1 || weekday > 7) {
          return Invalid();
        }
        expression.last_of_week_.push_back(weekday);
      } else if (!ParseElement(element, 1, 7, kWeekdays, 0, &expression.days_of_week_)) {
        return Invalid();
      }
    }
  }
  return expression;
}

bool ScheduleExpression::DayMatches(int year, unsigned month, unsigned day) const {
  unsigned last = DaysInMonth(year, month);
  if (!day_of_month_any_) {
    if (days_of_month_.test(day) || (last_day_ && day == last)) return true;
    if (last_weekday_ && day == NearestWeekday(year, month, last)) return true;
    for (int wanted : nearest_weekday_) {
      if (static_cast<unsigned>(wanted) <= last &&
          day == NearestWeekday(year, month, static_cast<unsigned>(wanted))) {
        return true;
      }
    }
    return false;
  }
  int weekday = Weekday(DaysFromCivil(year, month, day));
  if (days_of_week_.test(static_cast<size_t>(weekday))) return true;
  for (int wanted : last_of_week_) {
    if (weekday == wanted && day + 7 > last) return true;
  }
  for (const auto& [wanted, nth] : nth_of_week_) {
    if (weekday == wanted && static_cast<int>((day - 1) / 7 + 1) == nth) return true;
  }
  return false;
}

std::optional<int64_t> ScheduleExpression::NextAfter(int64_t after_ms, int64_t anchor_ms) const {
  if (rate_ms_ > 0) {
    if (after_ms < anchor_ms) return anchor_ms + rate_ms_;
    int64_t periods = (after_ms - anchor_ms) / rate_ms_ + 1;
    return anchor_ms + periods * rate_ms_;
  }
  // The first whole minute strictly after after_ms.
  int64_t minute = (after_ms >= 0 ? after_ms / 60000 : (after_ms - 59999) / 60000) + 1;
  int64_t days = minute >= 0 ? minute / 1440 : (minute - 1439) / 1440;
  int first_minute_of_day = static_cast<int>(minute - days * 1440);
  while (true) {
    int year;
    unsigned month, day;
    CivilFromDays(days, &year, &month, &day);
    if (year > kLastYear) return std::nullopt;
    if (year < kFirstYear || !years_.test(static_cast<size_t>(year - kFirstYear))) {
      days = DaysFromCivil(year + 1, 1, 1);
      first_minute_of_day = 0;
      continue;
    }
    if (!months_.test(month)) {
      days = month == 12 ? DaysFromCivil(year + 1, 1, 1) : DaysFromCivil(year, month + 1, 1);
      first_minute_of_day = 0;
      continue;
    }
    if (DayMatches(year, month, day)) {
      for (int hour = first_minute_of_day / 60; hour < 24; ++hour) {
        if (!hours_.test(static_cast<size_t>(hour))) continue;
        int start = hour == first_minute_of_day / 60 ? first_minute_of_day % 60 : 0;
        for (int m = start; m < 60; ++m) {
          if (minutes_.test(static_cast<size_t>(m))) {
            return (days * 1440 + hour * 60 + m) * 60000;
          }
        }
      }
    }
    ++days;
    first_minute_of_day = 0;
  }
}

}  // namespace haneul::triggers
