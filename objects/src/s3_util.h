// Pure helpers of the object store, separate from HTTP and storage so that they can be unit
// tested and fuzzed alone: S3's naming rules, its ETags, the aws-chunked body decoder, the XML
// request parsers (DeleteObjects, CompleteMultipartUpload, NotificationConfiguration), the
// notification filter rules (matching, S3's overlap check) and the S3 event document.
// Thread-safety: stateless functions; safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace haneul::objects {

// An error as S3 reports it: status, code, message and extra elements of the <Error> body.
struct S3Error {
  int status = 500;
  std::string code;
  std::string message;
  std::vector<std::pair<std::string, std::string>> extra;  // e.g. {"BucketName", "b"}

  static S3Error NoSuchBucket(const std::string& bucket);
  static S3Error NoSuchKey(const std::string& key);
  static S3Error NoSuchUpload(const std::string& upload_id);
  static S3Error InvalidBucketName(const std::string& bucket);
  static S3Error MalformedXml();
  static S3Error InvalidArgument(const std::string& message, const std::string& name = "",
                                 const std::string& value = "");
  static S3Error InvalidRequest(const std::string& message);
  static S3Error NotImplemented(const std::string& message =
                                    "A header you provided implies functionality that is not "
                                    "implemented");
  static S3Error Internal(const std::string& detail);
};

// S3's bucket naming rules (3-63 characters of a-z 0-9 . -, starting and ending with a letter or
// digit, no "..", not an IPv4 address, no reserved prefixes/suffixes).
bool ValidBucketName(std::string_view name);
// Keys: 1..1024 bytes of valid UTF-8.
bool ValidKeyLength(std::string_view key);
bool ValidUtf8(std::string_view text);

std::string XmlEscape(std::string_view text);
// "Wed, 12 Oct 2009 17:50:00 GMT"
std::string HttpDate(int64_t unix_millis);
// RFC 1123 / RFC 850 / asctime dates; nullopt when unparseable.
std::optional<int64_t> ParseHttpDate(std::string_view text);
// "2009-10-12T17:50:30.000Z"
std::string S3Timestamp(int64_t unix_millis);

std::string Md5Hex(std::string_view data);
std::string Md5Base64(std::string_view data);
// The multipart ETag: hex MD5 of the concatenated binary part MD5s, "-", part count (unquoted).
std::string MultipartEtag(const std::vector<std::string>& part_md5_hex);

// The flexible checksums of S3 (x-amz-checksum-<name>), base64 of the big-endian digest, for
// name in crc32, crc32c, crc64nvme, sha1, sha256; nullopt for an unknown name.
std::optional<std::string> ComputeChecksum(std::string_view name, std::string_view data);

// Percent-encodes everything but unreserved characters and '/' (listing encoding-type=url).
std::string UrlEncodeKey(std::string_view key);
// application/x-www-form-urlencoded, as S3 writes object.key in event records (space is '+').
std::string FormEncode(std::string_view text);

// Decodes an aws-chunked body (`<hex-size>[;chunk-signature=...]\r\n<data>\r\n` ... `0...\r\n`,
// then optional trailer lines `name:value\r\n` and a final `\r\n`). Trailers (checksums) go to
// *trailers with lower-case names. False with *error set on malformed framing.
bool DecodeAwsChunked(std::string_view body, std::string* out,
                      std::map<std::string, std::string>* trailers, std::string* error);

struct DeleteRequest {
  bool quiet = false;
  std::vector<std::string> keys;
};
// <Delete><Quiet>true</Quiet><Object><Key>k</Key></Object>...</Delete>; MalformedXML on error.
bool ParseDeleteRequest(std::string_view xml, DeleteRequest* out, S3Error* error);

struct CompletedPart {
  int part_number = 0;
  std::string etag;  // without quotes
};
// <CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"..."</ETag></Part>...
bool ParseCompleteMultipart(std::string_view xml, std::vector<CompletedPart>* out, S3Error* error);

// One LambdaFunctionConfiguration.
struct NotificationRule {
  std::string id;
  std::string function_arn;
  std::vector<std::string> events;  // "s3:ObjectCreated:*", ...
  std::string prefix;
  std::string suffix;
  bool has_prefix = false;
  bool has_suffix = false;
};

// Parses a NotificationConfiguration body and validates it as S3 does: known event names, at most
// one prefix and one suffix rule, no overlapping configurations for a shared event type. Missing
// Ids are generated. Destinations are not checked here.
bool ParseNotificationConfiguration(std::string_view xml, std::vector<NotificationRule>* out,
                                    S3Error* error);
bool SupportedEvent(std::string_view event);
// True when two rules share an event type and their key filters can both match one key.
bool RulesOverlap(const NotificationRule& a, const NotificationRule& b);
// event_name without "s3:", e.g. "ObjectCreated:Put".
bool RuleMatches(const NotificationRule& rule, std::string_view event_name, std::string_view key);
std::string RenderNotificationConfiguration(const std::vector<NotificationRule>& rules);
// JSON persistence of the rules.
std::string RulesToJson(const std::vector<NotificationRule>& rules);
std::vector<NotificationRule> RulesFromJson(std::string_view json);

struct EventInfo {
  std::string region;
  std::string event_name;  // "ObjectCreated:Put"
  int64_t event_time_ms = 0;
  std::string principal;
  std::string source_ip;
  std::string request_id;
  std::string host_id;
  std::string configuration_id;
  std::string bucket;
  std::string key;
  int64_t size = -1;  // -1: omitted (removal events)
  std::string etag;   // unquoted; empty: omitted
  std::string sequencer;
};
std::string BuildEventJson(const EventInfo& info);

}  // namespace haneul::objects
