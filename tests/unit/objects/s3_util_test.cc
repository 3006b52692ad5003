// Unit tests of the object store's pure helpers: bucket-name rules, key checks, ETags, XML
// escaping and request parsing, the aws-chunked decoder, notification filters and overlap, and
// the S3 event document.
#include "s3_util.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace haneul::objects {
namespace {

TEST(ObjectsNames, BucketNameRules) {
  for (const char* good : {"abc", "my-bucket", "my.bucket.1", "a1b", "123", "0-0",
                           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    EXPECT_TRUE(ValidBucketName(good)) << good;
  }
  for (const char* bad : {"ab", "Abc", "my_bucket", "-abc", "abc-", ".abc", "abc.", "a..b",
                          "192.168.1.1", "xn--abc", "abc-s3alias", "a.-b", "a b c", "",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    EXPECT_FALSE(ValidBucketName(bad)) << bad;
  }
}

TEST(ObjectsNames, KeysAndUtf8) {
  EXPECT_TRUE(ValidKeyLength(std::string(1024, 'k')));
  EXPECT_FALSE(ValidKeyLength(std::string(1025, 'k')));
  EXPECT_FALSE(ValidKeyLength(""));
  EXPECT_TRUE(ValidUtf8("plain/../key with spaces"));
  EXPECT_TRUE(ValidUtf8("\xed\x95\x9c\xea\xb8\x80 \xf0\x9f\x98\x80"));  // 한글 😀
  EXPECT_FALSE(ValidUtf8("\xc3"));                                      // truncated
  EXPECT_FALSE(ValidUtf8("\xc0\xaf"));                                  // overlong '/'
  EXPECT_FALSE(ValidUtf8("\xed\xa0\x80"));                              // surrogate
  EXPECT_FALSE(ValidUtf8("\xff"));
}

TEST(ObjectsEtag, Md5AndMultipart) {
  EXPECT_EQ(Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Md5Hex("a"), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(Md5Base64(""), "1B2M2Y8AsgTpgAmY7PhCfg==");
  // md5(md5("a") || md5("b")) - 2, as S3 computes multipart ETags.
  std::string a = Md5Hex("a"), b = Md5Hex("b");
  std::string raw;
  for (const auto& hex : {a, b}) {
    for (size_t i = 0; i < hex.size(); i += 2) {
      raw += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    }
  }
  EXPECT_EQ(MultipartEtag({a, b}), Md5Hex(raw) + "-2");
  EXPECT_EQ(MultipartEtag({a}).substr(32), "-1");
}

TEST(ObjectsXml, EscapeAndEncodings) {
  EXPECT_EQ(XmlEscape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(UrlEncodeKey("dir/a b+c%"), "dir/a%20b%2Bc%25");
  EXPECT_EQ(FormEncode("input/my photo+1.jpg"), "input/my+photo%2B1.jpg");
  EXPECT_EQ(HttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(ParseHttpDate("Wed, 21 Oct 2015 07:28:00 GMT").value(), 1445412480000);
  EXPECT_FALSE(ParseHttpDate("yesterday").has_value());
}

TEST(ObjectsXml, DeleteRequest) {
  DeleteRequest request;
  S3Error error;
  ASSERT_TRUE(ParseDeleteRequest(
      R"(<?xml version="1.0"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key></Object><Object><Key>b &amp; c</Key></Object><Quiet>true</Quiet></Delete>)",
      &request, &error));
  EXPECT_TRUE(request.quiet);
  ASSERT_EQ(request.keys.size(), 2u);
  EXPECT_EQ(request.keys[1], "b & c");
  EXPECT_FALSE(ParseDeleteRequest("<Delete><Object><Key>a</Key></Object>", &request, &error));
  EXPECT_EQ(error.code, "MalformedXML");
  EXPECT_FALSE(ParseDeleteRequest("<Delete></Delete>", &request, &error));
  EXPECT_FALSE(ParseDeleteRequest("<Other/>", &request, &error));
  // Entities declared in a DTD are not expanded.
  ASSERT_TRUE(ParseDeleteRequest(
      R"(<!DOCTYPE d [<!ENTITY a "aaaa">]><Delete><Object><Key>&a;</Key></Object></Delete>)",
      &request, &error));
  EXPECT_NE(request.keys[0], "aaaa");
}

TEST(ObjectsXml, CompleteMultipart) {
  std::vector<CompletedPart> parts;
  S3Error error;
  ASSERT_TRUE(ParseCompleteMultipart(
      R"(<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"abc"</ETag></Part><Part><ETag>def</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>)",
      &parts, &error));
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].part_number, 1);
  EXPECT_EQ(parts[0].etag, "abc");
  EXPECT_EQ(parts[1].etag, "def");
  EXPECT_FALSE(ParseCompleteMultipart(
      "<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part>"
      "</CompleteMultipartUpload>",
      &parts, &error));
  EXPECT_FALSE(ParseCompleteMultipart("<CompleteMultipartUpload/>", &parts, &error));
}

TEST(ObjectsChunked, SignedAndTrailers) {
  std::string out, error;
  std::map<std::string, std::string> trailers;
  ASSERT_TRUE(
      DecodeAwsChunked("5;chunk-signature=abc\r\nhello\r\n6;chunk-signature=x\r\n "
                       "world\r\n0;chunk-signature=d\r\n\r\n",
                       &out, &trailers, &error))
      << error;
  EXPECT_EQ(out, "hello world");
  ASSERT_TRUE(DecodeAwsChunked(
      "3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\nx-amz-trailer-signature:ff\r\n\r\n", &out,
      &trailers, &error))
      << error;
  EXPECT_EQ(out, "abc");
  EXPECT_EQ(trailers["x-amz-checksum-crc32"], "NSRBwg==");
  ASSERT_TRUE(DecodeAwsChunked("0\r\n", &out, &trailers, &error));
  EXPECT_EQ(out, "");
}

TEST(ObjectsChunked, RejectsBadFraming) {
  std::string out, error;
  std::map<std::string, std::string> trailers;
  EXPECT_FALSE(DecodeAwsChunked("5\r\nabc\r\n0\r\n\r\n", &out, &trailers, &error));
  EXPECT_FALSE(DecodeAwsChunked("zz\r\nabc\r\n", &out, &trailers, &error));
  EXPECT_FALSE(DecodeAwsChunked("fffffffffffffffffff\r\nabc", &out, &trailers, &error));
  EXPECT_FALSE(DecodeAwsChunked("3\r\nabcXX0\r\n\r\n", &out, &trailers, &error));
  EXPECT_FALSE(DecodeAwsChunked("3\r\nabc", &out, &trailers, &error));
  EXPECT_FALSE(DecodeAwsChunked("", &out, &trailers, &error));
}

NotificationRule Rule(std::vector<std::string> events, std::string prefix, std::string suffix) {
  NotificationRule rule;
  rule.function_arn = "arn:aws:lambda:us-east-1:000000000000:function:f";
  rule.events = std::move(events);
  rule.prefix = std::move(prefix);
  rule.suffix = std::move(suffix);
  rule.has_prefix = !rule.prefix.empty();
  rule.has_suffix = !rule.suffix.empty();
  return rule;
}

TEST(ObjectsNotification, Matching) {
  auto rule = Rule({"s3:ObjectCreated:*"}, "input/", ".jpg");
  EXPECT_TRUE(RuleMatches(rule, "ObjectCreated:Put", "input/a.jpg"));
  EXPECT_TRUE(RuleMatches(rule, "ObjectCreated:CompleteMultipartUpload", "input/a.jpg"));
  EXPECT_FALSE(RuleMatches(rule, "ObjectCreated:Put", "output/a.jpg"));
  EXPECT_FALSE(RuleMatches(rule, "ObjectCreated:Put", "input/a.png"));
  EXPECT_FALSE(RuleMatches(rule, "ObjectRemoved:Delete", "input/a.jpg"));
  auto put = Rule({"s3:ObjectCreated:Put"}, "", "");
  EXPECT_TRUE(RuleMatches(put, "ObjectCreated:Put", "x"));
  EXPECT_FALSE(RuleMatches(put, "ObjectCreated:Copy", "x"));
}

TEST(ObjectsNotification, Overlap) {
  // Same event family, nested prefixes: overlap.
  EXPECT_TRUE(RulesOverlap(Rule({"s3:ObjectCreated:*"}, "a/", ""),
                           Rule({"s3:ObjectCreated:Put"}, "a/b/", "")));
  // Disjoint prefixes: no overlap.
  EXPECT_FALSE(RulesOverlap(Rule({"s3:ObjectCreated:*"}, "input/", ""),
                            Rule({"s3:ObjectCreated:*"}, "output/", "")));
  // Different event types: no overlap.
  EXPECT_FALSE(
      RulesOverlap(Rule({"s3:ObjectCreated:*"}, "", ""), Rule({"s3:ObjectRemoved:*"}, "", "")));
  EXPECT_FALSE(RulesOverlap(Rule({"s3:ObjectCreated:Put"}, "", ""),
                            Rule({"s3:ObjectCreated:Copy"}, "", "")));
  // A prefix rule and a suffix rule can match the same key.
  EXPECT_TRUE(RulesOverlap(Rule({"s3:ObjectCreated:*"}, "images/", ""),
                           Rule({"s3:ObjectCreated:*"}, "", ".jpg")));
  // Same prefix, disjoint suffixes: no overlap.
  EXPECT_FALSE(RulesOverlap(Rule({"s3:ObjectCreated:*"}, "images/", ".jpg"),
                            Rule({"s3:ObjectCreated:*"}, "images/", ".png")));
}

TEST(ObjectsNotification, ParseValidateRender) {
  std::vector<NotificationRule> rules;
  S3Error error;
  const char* xml =
      R"(<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CloudFunctionConfiguration><Id>resize</Id><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:resize</CloudFunction><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>input/</Value></FilterRule></S3Key></Filter></CloudFunctionConfiguration></NotificationConfiguration>)";
  ASSERT_TRUE(ParseNotificationConfiguration(xml, &rules, &error)) << error.message;
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].id, "resize");
  EXPECT_EQ(rules[0].prefix, "input/");
  std::string rendered = RenderNotificationConfiguration(rules);
  EXPECT_NE(rendered.find("<Name>Prefix</Name><Value>input/</Value>"), std::string::npos);
  auto again = RulesFromJson(RulesToJson(rules));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].prefix, "input/");
  EXPECT_FALSE(again[0].has_suffix);

  EXPECT_FALSE(ParseNotificationConfiguration(
      "<NotificationConfiguration><CloudFunctionConfiguration><CloudFunction>f</CloudFunction>"
      "<Event>s3:ObjectCreated:*</Event></CloudFunctionConfiguration><CloudFunctionConfiguration>"
      "<CloudFunction>g</CloudFunction><Event>s3:ObjectCreated:Put</Event>"
      "</CloudFunctionConfiguration></NotificationConfiguration>",
      &rules, &error));
  EXPECT_EQ(error.code, "InvalidArgument");
  EXPECT_EQ(error.message,
            "Configurations overlap. Configurations on the same bucket cannot share a common "
            "event type.");
  EXPECT_FALSE(ParseNotificationConfiguration(
      "<NotificationConfiguration><CloudFunctionConfiguration><CloudFunction>f</CloudFunction>"
      "<Event>s3:ObjectEaten:*</Event></CloudFunctionConfiguration></NotificationConfiguration>",
      &rules, &error));
  EXPECT_EQ(error.code, "InvalidArgument");
  ASSERT_TRUE(ParseNotificationConfiguration("<NotificationConfiguration/>", &rules, &error));
  EXPECT_TRUE(rules.empty());
}

TEST(ObjectsNotification, EventDocument) {
  EventInfo info;
  info.region = "us-east-1";
  info.event_name = "ObjectCreated:Put";
  info.event_time_ms = 0;
  info.principal = "AWS:000000000000";
  info.source_ip = "127.0.0.1";
  info.request_id = "REQ";
  info.host_id = "HOST";
  info.configuration_id = "cfg";
  info.bucket = "photos";
  info.key = "input/my photo.jpg";
  info.size = 5;
  info.etag = "abc";
  info.sequencer = "0055AED6DCD90281E5";
  auto doc = nlohmann::json::parse(BuildEventJson(info));
  const auto& record = doc["Records"][0];
  EXPECT_EQ(record["eventVersion"], "2.1");
  EXPECT_EQ(record["eventSource"], "aws:s3");
  EXPECT_EQ(record["eventTime"], "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(record["s3"]["s3SchemaVersion"], "1.0");
  EXPECT_EQ(record["s3"]["bucket"]["arn"], "arn:aws:s3:::photos");
  EXPECT_EQ(record["s3"]["object"]["key"], "input/my+photo.jpg");
  EXPECT_EQ(record["s3"]["object"]["size"], 5);
  EXPECT_EQ(record["s3"]["object"]["eTag"], "abc");
  EXPECT_EQ(record["responseElements"]["x-amz-request-id"], "REQ");
  info.size = -1;
  info.etag.clear();
  auto removed = nlohmann::json::parse(BuildEventJson(info));
  EXPECT_FALSE(removed["Records"][0]["s3"]["object"].contains("size"));
  EXPECT_FALSE(removed["Records"][0]["s3"]["object"].contains("eTag"));
}

}  // namespace
}  // namespace haneul::objects

namespace haneul::objects {
namespace {

TEST(ObjectsChecksum, KnownValues) {
  // Check values of "123456789" for each algorithm, as base64 of the big-endian digest.
  EXPECT_EQ(ComputeChecksum("crc32", "123456789").value(), "y/Q5Jg==");   // 0xCBF43926
  EXPECT_EQ(ComputeChecksum("crc32c", "123456789").value(), "4waSgw==");  // 0xE3069283
  EXPECT_EQ(ComputeChecksum("crc64nvme", "123456789").value(),
            "rosUhgp5mIg=");  // 0xAE8B14860A799888
  EXPECT_EQ(ComputeChecksum("sha1", "").value(), "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
  EXPECT_EQ(ComputeChecksum("sha256", "").value(), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_FALSE(ComputeChecksum("md4", "").has_value());
}

}  // namespace
}  // namespace haneul::objects
