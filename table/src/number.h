// Decimal numbers as DynamoDB's N type holds them: up to 38 significant digits, magnitudes from
// 1E-130 to 9.9999999999999999999999999999999999999E+125, parsed from and printed to the wire's
// string form, compared, added, and encoded so that bytewise order is numeric order.
// Value types; thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace haneul::table {

struct Decimal {
  bool negative = false;
  std::string digits;  // significant digits '0'..'9', no leading or trailing zeros; empty: zero
  int exponent = 0;    // value = 0.<digits> x 10^exponent

  bool IsZero() const { return digits.empty(); }
};

// Parses the wire text of an N value. On failure returns DynamoDB's ValidationException message.
std::optional<std::string> ParseDecimal(std::string_view text, Decimal* out);
// Canonical wire text: "1.50" -> "1.5", "1e3" -> "1000", "-0" -> "0".
std::string FormatDecimal(const Decimal& value);
// <0, 0, >0.
int CompareDecimal(const Decimal& a, const Decimal& b);
// a + b (subtract by negating b). On overflow of range or precision returns the error message.
std::optional<std::string> AddDecimal(const Decimal& a, const Decimal& b, Decimal* out);
// Self-delimiting, order-preserving key bytes: memcmp order of encodings is numeric order.
std::string EncodeDecimalKey(const Decimal& value);
// Bytes DynamoDB counts for a number: one per two significant digits, plus one.
size_t DecimalSize(const Decimal& value);

}  // namespace haneul::table
