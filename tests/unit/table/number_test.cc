// Unit tests for DynamoDB numbers: parsing, canonical form, range, arithmetic and key order.
#include "number.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace haneul::table {
namespace {

std::string Canonical(const std::string& text) {
  Decimal d;
  auto error = ParseDecimal(text, &d);
  return error ? "error: " + *error : FormatDecimal(d);
}

TEST(TableNumber, CanonicalFormTrimsZerosAndExponents) {
  EXPECT_EQ(Canonical("1.50"), "1.5");
  EXPECT_EQ(Canonical("1e3"), "1000");
  EXPECT_EQ(Canonical("-0"), "0");
  EXPECT_EQ(Canonical("0.000"), "0");
  EXPECT_EQ(Canonical("+007.0100"), "7.01");
  EXPECT_EQ(Canonical("-12.5E-2"), "-0.125");
  EXPECT_EQ(Canonical(".5"), "0.5");
  EXPECT_EQ(Canonical("5."), "5");
}

TEST(TableNumber, RejectsMalformedText) {
  for (const char* bad :
       {"", "abc", "1e", "1.2.3", "--1", "1e+", " 1", "0x10", "NaN", "Infinity"}) {
    Decimal d;
    EXPECT_TRUE(ParseDecimal(bad, &d).has_value()) << bad;
  }
}

TEST(TableNumber, EnforcesRangeAndPrecision) {
  Decimal d;
  EXPECT_FALSE(ParseDecimal("1E-130", &d));
  EXPECT_FALSE(ParseDecimal("9.9999999999999999999999999999999999999E+125", &d));
  EXPECT_NE(ParseDecimal("1E-131", &d).value_or("").find("underflow"), std::string::npos);
  EXPECT_NE(ParseDecimal("1E+126", &d).value_or("").find("overflow"), std::string::npos);
  EXPECT_FALSE(ParseDecimal("12345678901234567890123456789012345678", &d));
  EXPECT_TRUE(ParseDecimal("123456789012345678901234567890123456789", &d).has_value());
  // Trailing zeros are not significant.
  EXPECT_FALSE(ParseDecimal("1234567890123456789012345678901234567800000", &d));
}

TEST(TableNumber, AddsWithFullPrecision) {
  auto add = [](const std::string& a, const std::string& b) {
    Decimal x, y, z;
    EXPECT_FALSE(ParseDecimal(a, &x));
    EXPECT_FALSE(ParseDecimal(b, &y));
    auto error = AddDecimal(x, y, &z);
    return error ? "error" : FormatDecimal(z);
  };
  EXPECT_EQ(add("1", "2"), "3");
  EXPECT_EQ(add("0.1", "0.2"), "0.3");
  EXPECT_EQ(add("-5", "3"), "-2");
  EXPECT_EQ(add("5", "-5"), "0");
  EXPECT_EQ(add("99999999999999999999999999999999999999", "1"),
            "100000000000000000000000000000000000000");
  EXPECT_EQ(add("99999999999999999999999999999999999999", "0.1"), "error");  // 39 digits
  EXPECT_EQ(add("12345678901234567890", "0.000000000000000001"),
            "12345678901234567890.000000000000000001");
  EXPECT_EQ(add("-1.5", "-2.25"), "-3.75");
  EXPECT_EQ(add("1000", "-0.001"), "999.999");
}

TEST(TableNumber, KeyEncodingOrderIsNumericOrder) {
  std::vector<std::string> texts = {"-1E+125",
                                    "-1000",
                                    "-10",
                                    "-9.99",
                                    "-1",
                                    "-0.5",
                                    "-0.05",
                                    "-1E-130",
                                    "0",
                                    "1E-130",
                                    "0.05",
                                    "0.5",
                                    "1",
                                    "1.5",
                                    "2",
                                    "9.99",
                                    "10",
                                    "10.5",
                                    "1000",
                                    "12345678901234567890123456789012345678",
                                    "9.9999999999999999999999999999999999999E+125"};
  std::vector<std::string> keys;
  for (const auto& text : texts) {
    Decimal d;
    ASSERT_FALSE(ParseDecimal(text, &d)) << text;
    keys.push_back(EncodeDecimalKey(d));
  }
  for (size_t i = 1; i < keys.size(); ++i) {
    EXPECT_LT(keys[i - 1], keys[i]) << texts[i - 1] << " vs " << texts[i];
  }
}

TEST(TableNumber, RandomizedKeyOrderMatchesCompare) {
  std::mt19937 random(7);
  std::uniform_int_distribution<int> digit(0, 9), length(1, 20), exponent(-40, 40), sign(0, 1);
  std::vector<Decimal> values;
  for (int i = 0; i < 500; ++i) {
    std::string text = sign(random) ? "-" : "";
    int n = length(random);
    for (int k = 0; k < n; ++k) text.push_back(static_cast<char>('0' + digit(random)));
    text += "E" + std::to_string(exponent(random));
    Decimal d;
    ASSERT_FALSE(ParseDecimal(text, &d)) << text;
    values.push_back(d);
  }
  for (size_t i = 0; i + 1 < values.size(); ++i) {
    int by_compare = CompareDecimal(values[i], values[i + 1]);
    int by_key = EncodeDecimalKey(values[i]).compare(EncodeDecimalKey(values[i + 1]));
    EXPECT_EQ(by_compare < 0, by_key < 0);
    EXPECT_EQ(by_compare == 0, by_key == 0);
  }
}

TEST(TableNumber, SizeIsOneBytePerTwoDigitsPlusOne) {
  Decimal d;
  ASSERT_FALSE(ParseDecimal("12345", &d));
  EXPECT_EQ(DecimalSize(d), 4u);
  ASSERT_FALSE(ParseDecimal("1", &d));
  EXPECT_EQ(DecimalSize(d), 2u);
}

}  // namespace
}  // namespace haneul::table
