// Decimal arithmetic on digit strings; see number.h.
#include "number.h"

#include <algorithm>
#include <cstdint>

namespace haneul::table {

namespace {

constexpr int kMaxDigits = 38;
constexpr int kMinExponent = -129;  // 0.1E-129 == 1E-130
constexpr int kMaxExponent = 126;   // 0.99..E126 == 9.9..E125

std::optional<std::string> CheckRange(const Decimal& value) {
  if (value.IsZero()) return std::nullopt;
  if (static_cast<int>(value.digits.size()) > kMaxDigits) {
    return "Attempting to store more than 38 significant digits in a Number";
  }
  if (value.exponent > kMaxExponent) {
    return "Number overflow. Attempting to store a number with magnitude larger than supported "
           "range";
  }
  if (value.exponent < kMinExponent) {
    return "Number underflow. Attempting to store a number with magnitude smaller than supported "
           "range";
  }
  return std::nullopt;
}

// Strips leading zeros (adjusting the exponent) and trailing zeros.
void Normalize(Decimal* value) {
  size_t lead = 0;
  while (lead < value->digits.size() && value->digits[lead] == '0') ++lead;
  value->digits.erase(0, lead);
  value->exponent -= static_cast<int>(lead);
  while (!value->digits.empty() && value->digits.back() == '0') value->digits.pop_back();
  if (value->digits.empty()) {
    value->negative = false;
    value->exponent = 0;
  }
}

int CompareMagnitude(const Decimal& a, const Decimal& b) {
  if (a.IsZero() || b.IsZero()) return a.IsZero() ? (b.IsZero() ? 0 : -1) : 1;
  if (a.exponent != b.exponent) return a.exponent < b.exponent ? -1 : 1;
  int c = a.digits.compare(b.digits);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

std::optional<std::string> ParseDecimal(std::string_view text, Decimal* out) {
  static const std::string kBad = "A value provided cannot be converted into a number";
  Decimal value;
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
    value.negative = text[i] == '-';
    ++i;
  }
  std::string digits;
  int point = -1;
  bool any_digit = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
      any_digit = true;
    } else if (c == '.' && point < 0) {
      point = static_cast<int>(digits.size());
    } else {
      break;
    }
  }
  if (!any_digit) return kBad;
  int64_t exp = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
      exp_negative = text[i] == '-';
      ++i;
    }
    if (i >= text.size()) return kBad;
    for (; i < text.size(); ++i) {
      char c = text[i];
      if (c < '0' || c > '9') return kBad;
      if (exp < 100000000) exp = exp * 10 + (c - '0');
    }
    if (exp_negative) exp = -exp;
  }
  if (i != text.size()) return kBad;
  if (point < 0) point = static_cast<int>(digits.size());
  int64_t exponent = point + exp;
  value.digits = std::move(digits);
  if (exponent > 1000000 || exponent < -1000000) {
    // Far outside the range: normalize on a clamped exponent so the check below reports it.
    exponent = exponent > 0 ? 1000000 : -1000000;
  }
  value.exponent = static_cast<int>(exponent);
  Normalize(&value);
  if (auto error = CheckRange(value)) return error;
  *out = std::move(value);
  return std::nullopt;
}

std::string FormatDecimal(const Decimal& value) {
  if (value.IsZero()) return "0";
  std::string out;
  if (value.negative) out.push_back('-');
  int n = static_cast<int>(value.digits.size());
  if (value.exponent <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-value.exponent), '0');
    out += value.digits;
  } else if (value.exponent >= n) {
    out += value.digits;
    out.append(static_cast<size_t>(value.exponent - n), '0');
  } else {
    out += value.digits.substr(0, static_cast<size_t>(value.exponent));
    out.push_back('.');
    out += value.digits.substr(static_cast<size_t>(value.exponent));
  }
  return out;
}

int CompareDecimal(const Decimal& a, const Decimal& b) {
  bool a_neg = a.negative && !a.IsZero();
  bool b_neg = b.negative && !b.IsZero();
  if (a_neg != b_neg) return a_neg ? -1 : 1;
  int magnitude = CompareMagnitude(a, b);
  return a_neg ? -magnitude : magnitude;
}

std::optional<std::string> AddDecimal(const Decimal& a, const Decimal& b, Decimal* out) {
  if (a.IsZero()) {
    *out = b;
    return CheckRange(*out);
  }
  if (b.IsZero()) {
    *out = a;
    return CheckRange(*out);
  }
  // Align both on the exponent of their lowest digit: integer = digits x 10^low.
  int a_low = a.exponent - static_cast<int>(a.digits.size());
  int b_low = b.exponent - static_cast<int>(b.digits.size());
  int low = std::min(a_low, b_low);
  int high = std::max(a.exponent, b.exponent);
  size_t width = static_cast<size_t>(high - low);
  auto widen = [&](const Decimal& d) {
    std::string s(width, '0');
    size_t offset = static_cast<size_t>(high - d.exponent);
    for (size_t k = 0; k < d.digits.size(); ++k) s[offset + k] = d.digits[k];
    return s;
  };
  std::string x = widen(a), y = widen(b);
  Decimal result;
  if (a.negative == b.negative) {
    std::string sum(width + 1, '0');
    int carry = 0;
    for (size_t k = width; k-- > 0;) {
      int d = (x[k] - '0') + (y[k] - '0') + carry;
      sum[k + 1] = static_cast<char>('0' + d % 10);
      carry = d / 10;
    }
    sum[0] = static_cast<char>('0' + carry);
    result.negative = a.negative;
    result.digits = std::move(sum);
    result.exponent = high + 1;
  } else {
    bool swap = x < y;  // same width: string order is magnitude order
    const std::string& big = swap ? y : x;
    const std::string& small = swap ? x : y;
    std::string diff(width, '0');
    int borrow = 0;
    for (size_t k = width; k-- > 0;) {
      int d = (big[k] - '0') - (small[k] - '0') - borrow;
      borrow = d < 0 ? 1 : 0;
      if (d < 0) d += 10;
      diff[k] = static_cast<char>('0' + d);
    }
    result.negative = swap ? b.negative : a.negative;
    result.digits = std::move(diff);
    result.exponent = high;
  }
  Normalize(&result);
  if (auto error = CheckRange(result)) return error;
  *out = std::move(result);
  return std::nullopt;
}

std::string EncodeDecimalKey(const Decimal& value) {
  std::string out;
  if (value.IsZero()) {
    out.push_back('\x02');
    return out;
  }
  // The exponent is within [-129, 126]; biased to fit a positive 16-bit field.
  uint16_t biased = static_cast<uint16_t>(value.exponent + 1024);
  if (!value.negative) {
    out.push_back('\x03');
    out.push_back(static_cast<char>(biased >> 8));
    out.push_back(static_cast<char>(biased & 0xff));
    for (char c : value.digits) out.push_back(static_cast<char>(c - '0' + 1));  // 1..10
    out.push_back('\x00');  // shorter (a prefix) sorts first
  } else {
    // Larger magnitude sorts first: every field complemented, terminator above every digit.
    uint16_t inverted = static_cast<uint16_t>(0xffff - biased);
    out.push_back('\x01');
    out.push_back(static_cast<char>(inverted >> 8));
    out.push_back(static_cast<char>(inverted & 0xff));
    for (char c : value.digits) out.push_back(static_cast<char>(11 - (c - '0')));  // 11..2
    out.push_back('\xff');
  }
  return out;
}

size_t DecimalSize(const Decimal& value) { return (value.digits.size() + 1) / 2 + 1; }

}  // namespace haneul::table
