// Encodings and ids.
#include "haneul/common/ids.h"

#include <gtest/gtest.h>

#include <regex>

namespace haneul {
namespace {

TEST(Base64, RoundTripsEveryLength) {
  std::string data;
  for (int i = 0; i < 300; ++i) {
    std::string decoded;
    ASSERT_TRUE(Base64Decode(Base64Encode(data), &decoded));
    EXPECT_EQ(decoded, data);
    data.push_back(static_cast<char>(i * 7));
  }
  EXPECT_EQ(Base64Encode("hello"), "aGVsbG8=");
}

TEST(Base64, RejectsInvalidText) {
  std::string out;
  EXPECT_FALSE(Base64Decode("a$bc", &out));
  EXPECT_FALSE(Base64Decode("abcde", &out));
}

TEST(Ids, UuidIsVersion4) {
  std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(std::regex_match(NewUuid(), uuid));
}

TEST(Ids, Sha256MatchesKnownDigest) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Base64(""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

TEST(Ids, TimestampsAreUtc) {
  EXPECT_EQ(LambdaTimestamp(0), "1970-01-01T00:00:00.000+0000");
  EXPECT_EQ(IsoTimestamp(1700000000123), "2023-11-14T22:13:20.123Z");
}

}  // namespace
}  // namespace haneul
